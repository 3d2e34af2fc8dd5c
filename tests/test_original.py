"""Tests for grokpaper.paper.original: the original run's saved outputs (original_run.yaml) match the
reference notes they were transcribed from, load with clear errors, and sit beside a small
synthetic transfer table (one censored run, one condition missing)."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from grokpaper.paper import original as O
from reference_data import REFERENCE

OUTPUTS_MD = REFERENCE / "original-study-outputs.md"
needs_outputs_md = pytest.mark.skipif(
    not OUTPUTS_MD.exists(), reason=f"reference notes not found at {OUTPUTS_MD} (../shared/reference/ beside the repo)"
)

CAP = 600
# Two seeds per condition of ours; memorized-fixed and memorized missing; random seed 2 never got there.
TRANSFER = pd.DataFrame({
    "seed": [1, 2, 1, 2],
    "condition": ["grokked", "grokked", "random", "random"],
    "first 99.9%": [120.0, 80.0, 450.0, None],
    "sustained 99.9%": [130.0, 80.0, 450.0, None],
    "final test acc": [1.0, 0.9995, 1.0, 0.25],
})
PARAMS = {"seeds": [1, 2], "weight_decay": 1.0, "grokked_hold_epochs": 20, "grokked_max_epochs": 1000,
          "memorized_fixed_epochs": 100, "transfer_max_epochs": CAP, "eval_every": 10}


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def run():
    return O.load_original_run()


# ----------------------------------------------------------------------------- the data

@needs_outputs_md
def test_yaml_matches_the_reference_notes(run):
    text = OUTPUTS_MD.read_text()
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (.+?) \| (.+?) \|$", text, flags=re.M)
    assert [int(r[0]) for r in rows] == list(run.seeds)
    for seed, *cells in rows:
        for condition, cell in zip(O.ORIGINAL_CONDITIONS, cells):
            epochs, acc = (part.strip() for part in cell.split("/"))
            assert run.epochs(condition)[int(seed)] == (None if epochs == "never" else _number(epochs)), (seed, condition)
            assert run.final_test_acc(condition)[int(seed)] == float(acc), (seed, condition)

    means = re.search(r"Four-seed means \(([\d, ]+) \"normal\" seeds\): (.+?) epochs", text, flags=re.S)
    assert [int(s) for s in means.group(1).split(",")] == list(run.reported_mean_seeds)
    stated = re.findall(r"([\d,]+) \+- ([\d,]+)", means.group(2))
    assert [(_number(m), _number(sd)) for m, sd in stated] == \
        [(run.reported_means[c]["mean"], run.reported_means[c]["sd"]) for c in O.ORIGINAL_CONDITIONS]

    jumps = re.findall(r"([\d.]+)\s+at\s+(?:epoch\s+)?([\d,]*\d)",
                       text.split("Largest single-epoch accuracy jumps:")[1].split(":")[0])
    assert [(float(size), _number(epoch)) for size, epoch in jumps] == \
        [(run.seed42_largest_jumps[c]["size"], run.seed42_largest_jumps[c]["epoch"]) for c in O.ORIGINAL_CONDITIONS]

    protocol, flat = run.protocol, " ".join(text.split())  # prose wraps anywhere
    assert f"weight decay {protocol['grokked_source']['weight_decay']:g}" in flat
    assert f"{protocol['grokked_source']['epochs']:,} epochs" in flat
    assert f"trained exactly {protocol['memorized_source']['epochs']:,} full-batch epochs" in flat
    caps = protocol["transfer_epochs"]
    assert caps["grokked"] == caps["memorized"]
    assert f"{caps['grokked']:,} epochs for grokked and memorized, {caps['random']:,} for random" in flat
    assert protocol["eval_every"] == 1 and "evaluated every epoch" in flat
    assert not protocol["random_init_seeded"] and "the random initialisation was not seeded" in flat
    assert protocol["never_reached"] == "dropped" and "runs that never got there were dropped" in flat
    split = run.retention_split
    assert (f"{split['b0_test_pairs']} of {split['test_pairs']:,} test pairs have b = 0" in flat
            and f"{split['b0_train_pairs']} of {split['train_pairs']:,} train pairs" in flat
            and f"split-seed-{split['split_seed']} addition split" in flat)


def test_the_original_means_recompute_from_its_per_seed_epochs(run):
    table = pd.DataFrame({"seed": [42], "condition": ["grokked"], "first 99.9%": [500.0], "final test acc": [1.0]})
    numbers = O.comparison_numbers(table, 30000, 0.95, run)
    assert list(numbers["conditions"]) == ["grokked"]
    for condition in O.ORIGINAL_CONDITIONS:
        epochs = run.epochs(condition)
        reached = [epochs[s] for s in run.reported_mean_seeds if epochs[s] is not None]
        stated = run.reported_means[condition]
        # as it printed them: rounded to whole epochs, np.std with ddof 0
        assert round(np.mean(reached)) == stated["mean"] and round(np.std(reached)) == stated["sd"]
    assert numbers["document_headline_epochs"] == [run.seed42_largest_jumps[c]["epoch"] for c in O.ORIGINAL_CONDITIONS]
    assert numbers["seed42_largest_jumps"]["grokked"]["epochs_to_threshold"] == run.epochs("grokked")[42]


def test_every_condition_of_ours_has_an_original_counterpart():
    from grokpaper.core.study import CONDITIONS

    assert set(O.COUNTERPARTS) == set(CONDITIONS)
    assert {name for name, _ in O.COUNTERPARTS.values()} == set(O.ORIGINAL_CONDITIONS)


# ----------------------------------------------------------------------------- comparison

def test_comparison_table_with_a_censored_run_and_a_missing_condition(run):
    table = O.comparison_table(TRANSFER, CAP, 0.95, run)
    assert list(zip(table["condition"], table["study"])) == [
        ("grokked", "original"), ("grokked", "this rerun"), ("memorized", "original"),
        ("random", "original"), ("random", "this rerun")]
    epochs = "epochs to first 99.9 % (seed: epochs)"
    ours = table[table["study"] == "this rerun"].set_index("condition")
    assert ours.loc["grokked", epochs] == "1: 120; 2: 80"
    assert ours.loc["random", epochs] == "1: 450; 2: never by 600"
    assert ours.loc["random", "median"] == "450 (2 runs, 1 never)"             # Kaplan-Meier: first S <= 0.5
    assert ours.loc["grokked", "median"] == "80 (2 runs)"
    assert ours.loc["random", "mean of runs that reached it"] == "450 (n = 1 of 2; 2 never, left out; restricted mean to the cap ≥ 525)"
    assert ours.loc["random", "final test acc (seed: acc)"] == "1: 1; 2: 0.25"
    theirs = table[table["study"] == "original"].set_index("condition")
    assert theirs.loc["random", epochs].split("; ")[3] == f"456: never by {run.cap('random'):,}"
    assert theirs.loc["grokked", "mean of runs that reached it"] == "2,467 (n = 4 of 5: seeds 42, 789, 1024, 456)"

    numbers = O.comparison_numbers(TRANSFER, CAP, 0.95, run)
    assert list(numbers["conditions"]) == ["grokked", "random"]
    random = numbers["conditions"]["random"]
    assert random["ours_median"]["median"] == 450 and random["ours_median"]["never"] == [2]
    assert random["ours_mean_reached"] == {"mean": 450.0, "sd_ddof0": 0.0, "seeds": [1, 2], "n_reached": 1,
                                           "never": [2]}
    assert random["original_mean"]["never"] == [456] and random["original_mean"]["n_reached"] == 3
    assert numbers["conditions"]["grokked"]["original_mean"]["mean"] == 2467.0

    never = TRANSFER.assign(**{"first 99.9%": [120.0, 80.0, None, None]})
    ours = O.comparison_table(never, CAP, 0.95, run).set_index(["condition", "study"])
    assert ours.loc[("random", "this rerun"), "median"] == "beyond the cap (2 of 2 never)"
    assert ours.loc[("random", "this rerun"), "mean of runs that reached it"] == "none reached it"


def test_memorized_fixed_is_compared_with_the_original_memorized(run):
    both = pd.concat([TRANSFER, TRANSFER.assign(condition=["memorized", "memorized", "memorized-fixed",
                                                           "memorized-fixed"])])
    table = O.comparison_table(both, CAP, 0.95, run)
    assert list(table["condition"][2:5]) == ["memorized", "memorized-fixed", "memorized"]
    assert list(table["study"][2:5]) == ["original", "this rerun", "this rerun"]
    numbers = O.comparison_numbers(both, CAP, 0.95, run)
    assert numbers["conditions"]["memorized-fixed"]["original_condition"] == "memorized"


@pytest.mark.parametrize("table, cap, match", [
    (TRANSFER.drop(columns=["first 99.9%"]), CAP, r"missing \['first 99.9%'\]"),
    (TRANSFER.assign(condition="frozen"), CAP, r"unknown condition\(s\) \['frozen'\]"),
    (TRANSFER.iloc[:0], CAP, "non-empty"),
    ([1, 2], CAP, "transfer_table must be a DataFrame"),
    (TRANSFER, 0, "cap_ours must be a positive number"),
    (TRANSFER, 300, r"transfer_table\['first 99.9%'\] has 450 epochs, above cap_ours = 300"),
    (pd.concat([TRANSFER, TRANSFER.iloc[:1]]), CAP, r"more than one run of \(seed, condition\) \[\(1, 'grokked'\)\]"),
])
def test_comparison_rejects_bad_input(run, table, cap, match):
    with pytest.raises(ValueError, match=match):
        O.comparison_table(table, cap, 0.95, run)


def test_protocol_differences_state_both_protocols(run):
    table = O.protocol_differences(PARAMS, run)
    assert list(table.columns) == ["aspect", "original run", "this rerun", "gap it can explain"]
    rows = table.set_index("aspect")
    assert rows.loc["transfer cap", "this rerun"] == "600 epochs for every condition"
    assert rows.loc["transfer cap", "original run"] == "10,000 epochs for grokked and memorized, 30,000 for random"
    assert "107,791 epochs" in rows.loc["grokked source", "original run"]
    assert rows.loc["evaluation", "this rerun"] == "every 10 epochs"
    assert "random seed 456" in rows.loc["runs that never reach 99.9 %", "original run"]
    assert rows.loc["seeds", "this rerun"].startswith("1, 2;")
    with pytest.raises(ValueError, match=r"params lacks \['eval_every'\]"):
        O.protocol_differences({k: v for k, v in PARAMS.items() if k != "eval_every"}, run)


# ----------------------------------------------------------------------------- bad files

def _write(tmp_path, data) -> Path:
    path = tmp_path / "original_run.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _edited(edit):
    data = yaml.safe_load(O.ORIGINAL_RUN_FILE.read_text())
    edit(data)
    return data


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["runs"]["random"][456].update(final_test_acc=1.5),
     r"runs\.random\.456\.final_test_acc must be a number in \[0, 1\], got 1\.5"),
    (lambda d: d["runs"]["grokked"][42].update(epochs_to_threshold=20000),
     r"runs\.grokked\.42\.epochs_to_threshold \(null: never\) must be an integer in \[1, 10000\]"),
    (lambda d: d["runs"]["memorized"].pop(123), r"runs\.memorized must have exactly the keys .*missing \[123\]"),
    (lambda d: d["protocol"]["transfer_epochs"].pop("random"), r"protocol\.transfer_epochs .*missing \['random'\]"),
    (lambda d: d["seed42_largest_jumps"]["grokked"].update(size=0), r"seed42_largest_jumps\.grokked\.size"),
    (lambda d: d.update(reported_mean_seeds=[42, 7]), r"reported_mean_seeds \[42, 7\] must be among seeds"),
    (lambda d: d.update(extra=1), r"unexpected \['extra'\]"),
    (lambda d: d["retention_split"].update(b0_test_pairs=9000), r"retention_split\.b0_test_pairs must not exceed"),
    (lambda d: d["protocol"].update(never_reached="ignored"), r"protocol\.never_reached must be 'dropped' or 'censored'"),
])
def test_bad_yaml_names_the_field(tmp_path, edit, match):
    with pytest.raises(ValueError, match=match):
        O.load_original_run(_write(tmp_path, _edited(edit)))


def test_unparsable_or_empty_yaml(tmp_path):
    with pytest.raises(ValueError, match="original_run.yaml is not valid YAML"):
        O.load_original_run(_write(tmp_path, "runs: [unclosed\n"))
    with pytest.raises(ValueError, match="the file must be a mapping"):
        O.load_original_run(_write(tmp_path, ""))
