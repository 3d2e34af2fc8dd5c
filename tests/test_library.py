"""The README's "Use as a library" example runs as written, on the committed paper runs, and
prints what its comments say."""

import re
from pathlib import Path

import pytest

from reference_data import needs_reference

ROOT = Path(__file__).resolve().parents[1]


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use as a library", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


@needs_reference
def test_readme_library_example_runs_on_the_committed_runs(monkeypatch):
    pytest.importorskip("transformer_lens", reason="transformer-lens is not installed (pip install -e '.[test]')")
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
    exec(compile(_example(), "README.md (Use as a library)", "exec"), namespace)
    assert namespace["cache"]["blocks.0.mlp.hook_post"].shape == (12769, 3, 512)
    said = re.search(r"here (\[[\d, ]+\])", _example())[1]
    assert str(namespace["analysis"].frequencies()) == said
    assert namespace["run"].result["stop_reason"] == "max_epochs"
    assert set(namespace["memorized"]) >= {"embed.W_E", "unembed.W_U"}
