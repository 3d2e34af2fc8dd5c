"""The committed build (results/*.json) for the tests that read it, and whether it predates the
results contract: such a build has no "contract" field in its files, and `make chapters`
rewrites it; the tests of the committed numbers skip until then and say why."""

from pathlib import Path

import pytest

from grokpaper.paper.report import Results

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = Results.load(ROOT)
BEFORE_THE_CONTRACT = not COMMITTED.blobs or any("contract" not in blob for blob in COMMITTED.blobs.values())
needs_contract_build = pytest.mark.skipif(
    BEFORE_THE_CONTRACT, reason="results/ holds a build from before the results contract (no 'contract' field in "
                                "its files); `make chapters` rewrites it, and this test then reads it")
