"""The committed build (results/*.json) for the tests that read it. Every file must be of the
results contract: a build from before it fails those tests, and `make chapters` rewrites it."""

from pathlib import Path

from grokpaper.paper.report import Results

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = Results.load(ROOT)
