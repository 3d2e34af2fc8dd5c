"""The README's "Use as a library" example runs as written and prints what its comments say: its
first block on the committed paper runs alone (a clone without ../shared runs it), its second
on the reference checkpoint (skipped without it)."""

import re
from pathlib import Path

import pytest

from reference_data import needs_reference

ROOT = Path(__file__).resolve().parents[1]


def _blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use as a library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture
def first_block(monkeypatch):
    """The first block, executed in the project root on the committed runs: its namespace."""
    from grokpaper.core.store import RunStore, config_key
    from grokpaper.core.study import open_study

    monkeypatch.delenv("GROKPAPER_STORE", raising=False)
    monkeypatch.chdir(ROOT)  # the example's paths are relative to the project root
    study = open_study("paper", seeds=[42])
    needed = [study.settings.source_config(42), study.settings.transfer_config(42, "grokked")]
    if not all(RunStore().has(config_key(c)) for c in needed):
        pytest.skip("the paper profile's seed-42 runs are not in store/ (they are committed; "
                    "a checkout without them cannot run the example)")
    namespace = {}
    exec(compile(_blocks()[0], "README.md (Use as a library, first block)", "exec"), namespace)
    return namespace


def test_the_first_block_needs_nothing_but_the_committed_runs(first_block):
    block = _blocks()[0]
    assert "../shared" not in block and "transformer_lens" not in block and "to_hooked" not in block
    assert first_block["cache"]["blocks.0.mlp.hook_post"].shape == (12769, 3, 512)
    said = re.search(r"here (\[[\d, ]+\])", block)[1]
    assert str(first_block["analysis"].frequencies()) == said
    assert first_block["run"].result["stop_reason"] == "max_epochs"
    assert set(first_block["memorized"]) >= {"embed.W_E", "unembed.W_U"}


@needs_reference
def test_the_second_block_runs_on_the_reference_checkpoint(first_block):
    pytest.importorskip("transformer_lens", reason="transformer-lens is not installed (pip install -e '.[test]')")
    exec(compile(_blocks()[1], "README.md (Use as a library, second block)", "exec"), first_block)
    assert first_block["cache"]["blocks.0.mlp.hook_post"].shape == (12769, 3, 512)
    assert first_block["cfg"].p == 113
