"""Chapter 10's logic (grokpaper.paper.inside) on synthetic probe records with known answers:
forgetting and half epochs, the phases on a source curve, attention focus and its changes,
per-matrix movement, circuits at the matched point, and the figures at the paper's shape."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from grokpaper.core.model import PARAM_NAMES  # noqa: E402
from grokpaper.paper import inside, plots  # noqa: E402
from grokpaper.paper.inside import ProbeRun  # noqa: E402
from small_models import SMALL, random_params  # noqa: E402

EPOCHS = [0, 10, 20, 30, 50, 100, 200, 400]
CONDITIONS = ("grokked", "memorized", "memorized-fixed", "random")


def probes(epochs=EPOCHS, heads=4, **columns) -> pd.DataFrame:
    """A probe table: every column the chapter reads, constant unless given (a list per epoch)."""
    n = len(epochs)
    base = {"epoch": epochs, "test_acc": np.linspace(0, 1, n), "other_test_acc": np.linspace(1, 0.01, n),
            "other_test_loss": np.linspace(0.1, 20, n), "readout_r2_refit_post": np.linspace(0.8, 0.1, n),
            "readout_r2_frozen_post": np.linspace(0.8, -5, n), "restricted_loss_add_source": np.linspace(4, 0.01, n),
            "excluded_loss_add_source": np.linspace(2, 6, n), "restricted_loss_subtract_current": np.linspace(4, 0.1, n),
            "excluded_loss_subtract_current": np.linspace(3, 5, n), "gini_W_E": np.linspace(0.1, 0.5, n),
            "gini_W_L": np.linspace(0.1, 0.6, n), "weight_norm": np.linspace(40, 30, n)}
    for h in range(heads):
        for pos, value in (("a", 0.45), ("b", 0.45), ("eq", 0.1)):
            base[f"attn_h{h}_{pos}_mean"] = [value] * n
            base[f"attn_h{h}_{pos}_sd"] = [0.05] * n
    for name in PARAM_NAMES:
        base[f"from_init:{name}"] = np.linspace(0, 2, n)
        base[f"update:{name}"] = [0.0] + [0.1] * (n - 1)
    base.update(columns)
    return pd.DataFrame(base)


def curve(epochs, test_loss, test_acc, train_acc=None) -> pd.DataFrame:
    n = len(epochs)
    return pd.DataFrame({"epoch": epochs, "train_loss": np.linspace(4, 0.01, n), "train_acc": train_acc or [1.0] * n,
                         "test_loss": test_loss, "test_acc": test_acc})


def run(condition="grokked", seed=1, matched=None, **columns) -> ProbeRun:
    table = probes(**columns)
    snapshots = {} if matched is None else {"first_top": {"epoch": matched}}
    return ProbeRun(seed, condition, table, curve(table["epoch"].tolist(), np.linspace(5, 0.1, len(table)),
                                                  table["test_acc"].tolist()),
                    {"stop_reason": "max_epochs", "epochs_trained": int(table["epoch"].iloc[-1]), "snapshots": snapshots})


# ----------------------------------------------------------------------------- forgetting

def test_half_epoch_is_the_first_probe_below_half_the_start():
    table = probes(readout_r2_refit_post=[0.8, 0.6, 0.45, 0.39, 0.5, 0.3, 0.2, 0.1])
    assert inside.half_epoch(table, "readout_r2_refit_post") == (0.8, 30, True)
    never = probes(readout_r2_refit_post=[0.8] + [0.5] * 7)
    assert inside.half_epoch(never, "readout_r2_refit_post") == (0.8, None, True)
    nothing = probes(readout_r2_refit_post=[-0.1] + [-0.5] * 7)
    assert inside.half_epoch(nothing, "readout_r2_refit_post") == (-0.1, None, False)


def test_forgetting_reads_start_matched_point_and_end():
    runs = [run("grokked", 1, matched=30), run("grokked", 2, matched=None),
            run("random", 1, matched=100, other_test_acc=[0.01] * 8)]
    table = inside.forgetting_table(runs)
    first = table.iloc[0]
    assert first["addition acc start"] == 1.0 and first["addition acc end"] == pytest.approx(0.01)
    assert first["addition acc matched"] == pytest.approx(probes()["other_test_acc"][3])  # the probe at epoch 30
    assert first["readout R2 half at"] == 100 and first["readout R2 half"] == "fell"  # 0.8 -> 0.3, first below 0.4
    assert pd.isna(table.iloc[1]["addition acc matched"]) and pd.isna(table.iloc[1]["matched at"])
    assert table.iloc[2]["addition acc half"] == "not counted: nothing to forget"
    summary = inside.forgetting_summary(table, ["grokked", "random"], confidence=0.95, n_boot=200)
    assert summary["grokked"].addition_acc_matched.n_reached == 1 and summary["grokked"].addition_acc_matched.censored == [2]
    assert summary["grokked"].readout_half_epoch.mean == 100 and summary["random"].readout_half_epoch is None
    assert summary["grokked"].readout_frozen_end.mean == pytest.approx(-5)


def test_a_matched_point_between_probes_reads_the_probe_before_it():
    table = probes()
    assert inside.row_at(table, 150)["epoch"] == 100 and inside.row_at(table, None) is None


def test_bad_probe_records_are_one_clear_error():
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['readout_r2_refit_post'\]"):
        inside.half_epoch(probes().drop(columns="readout_r2_refit_post"), "readout_r2_refit_post")
    with pytest.raises(ValueError, match="non-empty DataFrame of probe records"):
        inside.check_probes(pd.DataFrame())
    with pytest.raises(ValueError, match="no attention columns"):
        inside.n_heads(pd.DataFrame({"epoch": [0]}))


# ----------------------------------------------------------------------------- phases

def source_run(seed=1):
    """A source whose test loss rises to 20 at epoch 300, falls to 10 at epoch 700 and reaches the
    top threshold at epoch 900: memorization to 300, circuit formation to 700, cleanup to 900."""
    epochs = list(range(0, 1010, 10))
    loss = [5 + 15 * min(e, 300) / 300 if e <= 300 else 20 - 10 * (e - 300) / 400 if e <= 700 else
            max(0.01, 10 - (e - 700) / 20) for e in epochs]
    acc = [0.0 if e < 900 else 1.0 for e in epochs]
    table = probes(epochs=[0, 50, 100, 300, 500, 700, 800, 900, 1000],
                   excluded_loss_add_source=[2, 3, 4, 5, 6, 9, 8, 7, 6])
    result = {"snapshots": {"memorized": {"epoch": 100}, "fixed": {"epoch": 500}, "first_top": {"epoch": 900}}}
    return ProbeRun(seed, inside.SOURCE, table, curve(epochs, loss, acc), result)


def test_source_phases_from_the_test_loss():
    phases = inside.source_phases(source_run(), top=0.999)
    assert (phases["memorization end"], phases["cleanup start"], phases["cleanup end"]) == (300, 700, 900)
    assert phases["train 100% at"] == 100 and phases["excluded loss peak"] == 700
    assert phases["memorized phase"] == "memorization" and phases["fixed phase"] == "circuit formation"
    assert phases["fixed probe epoch"] == 500 and phases["fixed excluded loss"] == 6
    assert inside.phase_of(800, phases) == "cleanup" and inside.phase_of(950, phases) == "after cleanup"
    table = pd.DataFrame([phases, {**phases, "seed": 2, "fixed phase": "cleanup"}])
    summary = inside.phases_summary(table, fixed_epoch=500, confidence=0.95, n_boot=200)
    assert summary.circuit_formation_epochs.mean == 400 and summary.cleanup_epochs.mean == 200
    assert summary.memorized_phase == {"memorization": 2} and summary.fixed_phase == {"circuit formation": 1, "cleanup": 1}


def test_a_source_that_never_grokked_has_no_cleanup_end():
    source = source_run()
    source.curve["test_acc"] = 0.0
    phases = inside.source_phases(source, top=0.999)
    assert phases["cleanup end"] is None and inside.phase_of(990, phases) == "cleanup"


# ----------------------------------------------------------------------------- attention

def test_head_focus_and_how_heads_change():
    n = len(EPOCHS)
    columns = {"attn_h0_a_mean": [0.95] * n,                       # kept on a
               "attn_h1_a_mean": [0.95] * (n - 1) + [0.05], "attn_h1_b_mean": [0.03] * (n - 1) + [0.93],  # switched
               "attn_h2_b_mean": [0.2] * (n - 1) + [0.91],         # gained
               "attn_h3_a_mean": [0.92] * (n - 1) + [0.5]}         # lost
    runs = [run("grokked", 1, **columns), run("grokked", 2)]
    assert inside.head_focus(runs[0].probes.iloc[-1], 4, 0.9) == ["a", "b", "b", None]
    changes = inside.attention_changes(runs, ["grokked"], focus=0.9, confidence=0.95, n_boot=200)["grokked"]
    assert (changes.heads, changes.focused_start, changes.focused_end) == (8, 3, 3)
    assert (changes.kept, changes.switched, changes.gained, changes.lost) == (1, 1, 1, 1)
    over = inside.attention_over_time(runs[0].probes, 0.9)
    assert over["focused share"].iloc[-1] == 0.75 and over["max operand weight"].iloc[0] == pytest.approx((0.95 + 0.95 + 0.45 + 0.92) / 4)


# ----------------------------------------------------------------------------- movement

def test_movement_relative_to_the_initial_norm_and_per_epoch():
    norms = dict.fromkeys(PARAM_NAMES, 2.0) | {"blocks.0.mlp.b_in": 0.0}
    table = inside.movement_table(probes(), norms)
    w_e = table[table["param"] == "embed.W_E"]
    assert w_e["relative"].iloc[-1] == pytest.approx(1.0)  # distance 2 over norm 2
    assert math.isnan(w_e["rate"].iloc[0]) and w_e["rate"].iloc[1] == pytest.approx(0.1 / 10 / 2)
    assert table.loc[table["param"] == "blocks.0.mlp.b_in", "relative"].isna().all()
    fast = probes(**{"update:unembed.W_U": [0, 0.1, 0.1, 5.0, 0.1, 0.1, 0.1, 0.1],
                     "from_init:unembed.W_U": np.linspace(0, 8, len(EPOCHS))})
    tables = {("grokked", 1): inside.movement_table(fast, norms), ("grokked", 2): inside.movement_table(fast, norms)}
    summary = inside.movement_summary(tables, ["grokked"], confidence=0.95, n_boot=200)["grokked"]
    assert summary.largest_end == "unembed.W_U" and summary.relative_end["unembed.W_U"].mean == pytest.approx(4.0)
    assert summary.peak_rate_epoch["unembed.W_U"].mean == 30 and "blocks.0.mlp.b_in" not in summary.relative_end
    assert summary.earliest_peak == "embed.W_E"  # every other matrix peaks at epoch 10 (first interval); ties: larger rate


def test_initial_norms_name_a_missing_matrix():
    with pytest.raises(ValueError, match="params lacks"):
        inside.initial_norms({"embed.W_E": random_params()["embed.W_E"]})
    assert set(inside.initial_norms(random_params())) == set(PARAM_NAMES)


# ----------------------------------------------------------------------------- circuits

def test_circuit_row_on_a_small_model():
    row = inside.circuit_row(random_params(), SMALL, "subtract", source_freqs=[1, 2, 3, 4, 5], min_neurons=1)
    assert row["share on source"] == 1.0  # p = 11: every frequency is one of 1..5
    assert 0 < row["mean frac"] <= 1 and row["key freqs"] == sorted(row["key freqs"])
    assert inside.jaccard([1, 2], [2, 3]) == pytest.approx(1 / 3) and inside.jaccard([], []) is None


def test_circuits_summary_with_a_run_that_never_reached_the_matched_point():
    rows = [{"seed": s, "condition": "grokked", "point": p, "epoch": e, "key freqs": f, "share on source": sh, "mean frac": m}
            for s, p, e, f, sh, m in [(1, "start", 0, [1, 2], 1.0, 0.6), (1, "matched", 500, [2, 3], 0.5, 0.8),
                                      (1, "end", 3000, [2, 3, 4], 0.4, 0.9), (2, "start", 0, [5], 1.0, 0.5),
                                      (2, "end", 3000, [5], 1.0, 0.7)]]
    summary = inside.circuits_summary(pd.DataFrame(rows), ["grokked"], confidence=0.95, n_boot=200)["grokked"]
    assert summary.n_runs == 2 and summary.n_matched == 1 and summary.matched_epoch.censored == [2]
    assert summary.key_freqs == {"start": {1: [1, 2], 2: [5]}, "matched": {1: [2, 3]}, "end": {1: [2, 3, 4], 2: [5]}}
    assert summary.jaccard_matched_end.mean == pytest.approx(2 / 3) and summary.mean_frac["end"].mean == pytest.approx(0.8)


# ----------------------------------------------------------------------------- figures at the paper's shape

SEEDS = (42, 7, 99, 314, 123)


def paper_runs():
    transfers = [run(c, s, matched=100) for c in CONDITIONS for s in SEEDS]
    sources = [source_run(s) for s in SEEDS]
    return sources, transfers


@pytest.mark.parametrize("figure", ["forgetting", "sources", "transfers", "attention", "movement"])
def test_the_figures_build_at_the_papers_shape_without_overlapping_labels(figure):
    sources, transfers = paper_runs()
    phases = pd.DataFrame([inside.source_phases(r, 0.999) for r in sources])
    norms = dict.fromkeys(PARAM_NAMES, 1.0)
    arguments = {
        "forgetting": lambda: inside.forgetting_panels(transfers, CONDITIONS),
        "sources": lambda: inside.progress_panels_sources(sources, phases),
        "transfers": lambda: inside.progress_panels_transfers(transfers, CONDITIONS),
        "attention": lambda: inside.attention_panels(sources + transfers, [inside.SOURCE, *CONDITIONS], 0.9),
        "movement": lambda: inside.movement_panels({(r.condition, r.seed): inside.movement_table(r.probes, norms)
                                                    for r in sources + transfers}, [inside.SOURCE, *CONDITIONS]),
    }[figure]()
    fig = plots.epoch_grid(**arguments)  # raises FigureLayoutError on overlapping tick labels
    assert plots.overlapping_labels(fig) == [] and all(ax.get_xscale() == "log" for ax in fig.axes)


def test_epoch_grid_rejects_a_panel_outside_its_rows_and_columns():
    frame = pd.DataFrame({"epoch": [1, 10], "value": [0.0, 1.0]})
    with pytest.raises(ValueError, match="not \\(row, column\\) pairs"):
        plots.epoch_grid({("loss", "nope"): [(frame, "k", "-", 1.0)]}, rows=["loss"], columns=["grokked"],
                         ylabels={"loss": "loss"})
    with pytest.raises(ValueError, match="columns 'epoch' and 'value'"):
        plots.epoch_grid({("loss", "grokked"): [(frame.rename(columns={"value": "v"}), "k", "-", 1.0)]},
                         rows=["loss"], columns=["grokked"], ylabels={"loss": "loss"})


# ----------------------------------------------------------------------------- runs carried past the cap

def _curve_run(seed, condition, first_top, last):
    """A study run (seed, condition, curve, result) reaching 100 % test accuracy at ``first_top``
    (None: never, up to ``last``)."""
    from grokpaper.core.study import Run

    epochs = list(range(0, last + 1, 10))
    acc = [1.0 if first_top is not None and e >= first_top else 0.5 for e in epochs]

    class Stored:
        curve = pd.DataFrame({"epoch": epochs, "test_acc": acc})
        result = {"stop_reason": "max_epochs"}
    return Run(seed=seed, condition=condition, stored=Stored())


def test_the_extension_replaces_the_censored_epoch_and_nothing_else():
    seeds, cap = [1, 2, 3], 300
    committed = [_curve_run(s, "grokked", 20 * s, cap) for s in seeds]
    committed += [_curve_run(s, "random", 100 * s if s < 3 else None, cap) for s in seeds]
    extended = [_curve_run(3, "random", 600, 700)]
    tests = inside.extension_tests(committed, extended, 0.999, cap, 1000, "random", ["grokked", "random"], 0.95)
    at_cap, longer = tests.iloc[0], tests.iloc[1]
    # ratios 100/20 = 5, 200/40 = 5, and seed 3: 300/60 at the cap (a lower bound), 600/60 with the extension
    assert at_cap["censored"] == 1 and at_cap["bound"] == "lower"
    assert at_cap["ratio"] == pytest.approx((5 * 5 * 5) ** (1 / 3))
    assert longer["censored"] == 0 and pd.isna(longer["bound"]) and longer["cap"] == 1000
    assert longer["ratio"] == pytest.approx((5 * 5 * 10) ** (1 / 3))
    table = inside.extended_runs_table(extended, committed, 0.999, cap, {(3, "random"): 0})
    assert table.to_dict(orient="records") == [{"seed": 3, "condition": "random", "test acc at cap (%)": 50.0,
                                                "first top": 600, "last epoch": 700, "stop": "max_epochs",
                                                "differing up to cap": 0}]
    shown = inside.extension_display(tests)["ratio (CI)"]
    assert shown.iloc[0].startswith("≥ 5.0×") and not shown.iloc[1].startswith("≥")


def test_extended_differing_reads_only_the_extended_rows():
    checked = pd.DataFrame({"run": ["transfer random seed 314", "transfer random seed 314 extended",
                                    "transfer memorized-fixed seed 7 extended"], "differing": [0, 2, 0]})
    assert inside.extended_differing(checked) == {(314, "random"): 2, (7, "memorized-fixed"): 0}
