"""The results contract (grokpaper.paper.contract): what each chapter saves, as declared types,
saved and loaded by one function each; and the committed results/*.json loaded against it."""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from committed import COMMITTED
from grokpaper.analysis import stats
from grokpaper.builder.plan import chapter_graph, check_build, waiting_chapters
from grokpaper.paper import contract
from grokpaper.paper.contract import CONTRACT, CONTRACT_VERSION, ContractError, Num, Numbers, named
from grokpaper.paper.report import Results, check_contract, save_numbers

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Inner:
    mean: Num
    can_flag: bool = named("can flag")


@dataclass(frozen=True)
class Demo(Numbers):
    CHAPTER: ClassVar[str] = "02-transfer"
    n: int
    share: float
    by_seed: dict[int, Inner]
    summary: contract.Described
    labels: list[int | str]
    note: str | None


def demo(**changes) -> Demo:
    values = dict(n=np.int64(3), share=np.float64(0.25), by_seed={42: Inner(float("nan"), np.bool_(True))},
                  summary=contract.described(stats.describe([100, 120, None], labels=[1, 2, 3], confidence=0.95, n_boot=1000)),
                  labels=(7, "random/314"), note=None)
    return Demo(**{**values, **changes})


def test_numbers_are_saved_plain_and_read_back_as_their_class(tmp_path):
    path = save_numbers(demo(), {"p": 23}, project=tmp_path)
    blob = json.loads(path.read_text())
    assert blob["chapter"] == "02-transfer" and blob["contract"] == CONTRACT_VERSION and blob["params"] == {"p": 23}
    # plain JSON: readable keys, NaN as null, numpy values as numbers, int keys as strings
    assert blob["numbers"]["by_seed"] == {"42": {"mean": None, "can flag": True}}
    assert blob["numbers"]["n"] == 3 and blob["numbers"]["labels"] == [7, "random/314"]
    loaded = Results.load(tmp_path).get(Demo)
    assert loaded.by_seed[42] == Inner(None, True) and loaded.summary.n_reached == 2 and loaded.note is None
    assert contract.plain(loaded) == blob["numbers"]  # nothing converted on the way: the same file again


def test_a_value_of_another_type_fails_where_the_chapter_saves_it(tmp_path):
    with pytest.raises(ContractError, match=r"numbers of 02-transfer\.n: expected int, got 2\.5"):
        save_numbers(demo(n=2.5), {}, project=tmp_path)
    with pytest.raises(ContractError, match=r"by_seed\['42'\]\.can flag: expected bool"):
        save_numbers(demo(by_seed={42: Inner(1.0, "yes")}), {}, project=tmp_path)
    with pytest.raises(TypeError, match="contract dataclass"):
        save_numbers({"n": 3}, {}, project=tmp_path)
    assert not (tmp_path / "results").exists()


def test_a_renamed_or_missing_key_is_named_with_its_path():
    plain = contract.plain(demo())
    with pytest.raises(ContractError, match=r"numbers: Demo lacks 'share'; has no field 'shares'"):
        contract.parse(Demo, {**{k: v for k, v in plain.items() if k != "share"}, "shares": 0.25})
    with pytest.raises(ContractError, match=r"by_seed\['42'\]: Inner lacks 'can flag'"):
        contract.parse(Demo, {**plain, "by_seed": {"42": {"mean": 1.0}}})
    with pytest.raises(ContractError, match="key 'seed 42' is not an integer"):
        contract.parse(Demo, {**plain, "by_seed": {"seed 42": {"mean": 1.0, "can flag": False}}})
    with pytest.raises(TypeError, match="unexpected keyword"):  # building numbers with an old field name
        Demo(**{**demo().__dict__, "shares": 0.25})


def test_a_file_of_another_contract_is_refused_with_the_command_that_rewrites_it(tmp_path):
    save_numbers(demo(), {}, project=tmp_path)
    path = tmp_path / "results" / "02-transfer.json"
    old = json.loads(path.read_text())
    del old["contract"]
    path.write_text(json.dumps(old))
    R = Results.load(tmp_path)
    with pytest.raises(ContractError, match=r"before the contract.*python -m grokpaper run --chapter 02-transfer"):
        R.get(Demo)
    with pytest.raises(KeyError, match="no results for chapter '06-statistics'"):
        _ = R.statistics


def test_keys_are_built_by_functions():
    assert contract.epochs_column(contract.FIRST, 0.999) == "first 99.9%"
    assert contract.family_test_id("first 99.9%", "random", "grokked") == "first 99.9%: random vs grokked"
    assert contract.family_test_id(contract.REUSE_TEST, "grokked") == "key frequencies shared with the own grokked source: grokked"
    assert contract.pair_name("grokked", "memorized") == "grokked_vs_memorized"
    assert contract.speedup_key("random", "grokked", "first 99.9%") == "random_over_grokked_first_99_9pct"
    assert contract.metric_key("circuit: distinct freqs >= min") == "circuit_distinct_freqs_ge_min"
    assert contract.metric_key("memorized-fixed") == "memorized_fixed"
    assert contract.jump_into_column(0.999) == "jump into 99.9%" and contract.reached_at_column(0.9) == "first 90% at"
    with pytest.raises(ValueError, match="kind must be"):
        contract.epochs_column("last", 0.9)


def test_the_contract_has_one_class_per_chapter():
    assert sorted(CONTRACT) == sorted(chapter_graph(ROOT))   # the graph lists them in execution order
    for chapter in CONTRACT:
        source = (ROOT / "chapters" / f"{chapter}.py").read_text()
        assert "save_numbers(" in source and "save_numbers(\"" not in source, chapter


def test_the_family_reads_by_its_parts():
    row = contract.typed(contract.FamilyTest, {
        "test": "first 99.9%: random vs grokked", "group": "pairwise", "quantity": "first 99.9%", "a": "random",
        "b": "grokked", "effect": "ratio", "estimate": 30.0, "ci_low": 15.0, "ci_high": 60.0, "n": 5, "null": 1.0,
        "bound": None, "p": 1e-4, "p_rank": math.nan, "note": "", "method": "paired t on log ratios",
        "p_welch_log": 1e-3, "p_welch": 1e-2, "p_holm": 1e-3, "confidence": 0.95, "p_welch_log_holm": 1e-2,
        "p_welch_holm": 0.1, "data": "0123456789abcdef"})
    assert row.p_rank is None
    family = {row.test: row}
    statistics = contract.Statistics(
        n_seeds=5, n_runs=20, cap=30_000, confidence=0.95, conditions=["grokked", "random"], summary={},
        time_to_threshold={}, family=family, family_size=1, family_parts={"pairwise": 1}, family_without_nonconverged=family,
        secondary={},
        nonconverged=[], speedups={}, normality={}, outliers={}, max_abs_z_bound={5: 1.79}, censored={})
    assert Results.of(statistics).statistics.test("first 99.9%", "random", "grokked").estimate == 30.0
    with pytest.raises(KeyError, match=r"no test 'first 99.9%: random vs memorized'.*random vs grokked"):
        statistics.test("first 99.9%", "random", "memorized")


# ----------------------------------------------------------------------------- the committed results

def test_every_committed_results_file_loads_against_the_contract():
    # chapters waiting for their runs (plan.waiting_chapters) are not in the committed build yet
    assert check_contract(COMMITTED) == [c for c in CONTRACT if c not in waiting_chapters(ROOT)]


def test_the_committed_build_is_one_consistent_build():
    # `make report` renders the committed build and refuses a stale one, so a change to code the
    # chapters import lands with its rebuild (`make chapters`), never without it.
    assert check_build(ROOT) == {}
