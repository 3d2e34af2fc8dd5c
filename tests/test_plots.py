"""Tests for grokpaper.paper.plots: every figure builds headless on small synthetic data, has
labelled axes, and save() writes non-empty PNG and SVG files."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from grokpaper.analysis import stats as S  # noqa: E402
from grokpaper.analysis import survival as V  # noqa: E402
from grokpaper.paper import plots as P  # noqa: E402


def curve(seed, n=30, every=10):
    rng = np.random.default_rng(seed)
    acc = np.clip(np.sort(rng.uniform(0, 1, n)), 0, 1)
    return pd.DataFrame({"epoch": np.arange(n) * every, "train_loss": np.linspace(4, 0.01, n),
                         "train_acc": np.ones(n), "test_loss": np.linspace(5, 0.1, n),
                         "test_acc": acc})


CURVES = {"grokked": [curve(0), curve(1)], "memorized": [curve(2, n=20)], "random": [curve(3)]}
JUMPS = pd.DataFrame({"condition": ["grokked", "grokked", "random"], "largest jump": [0.1, 0.3, 0.05],
                      "collapses": [0, 2, 1]})
RUNS = pd.DataFrame({"condition": ["grokked"] * 3 + ["random"] * 3,
                     "epochs": [500.0, 700.0, None, 2000.0, 2500.0, 3100.0]})
KM_CAP = 30000
SURVIVAL = {"grokked": V.kaplan_meier([500, 700, 400, 900], cap=KM_CAP, confidence=0.95),
            "memorized-fixed": V.kaplan_meier([5000, 7000, None], cap=KM_CAP, confidence=0.95),
            "random": V.kaplan_meier([21810, 17170, 17800, None, 22450], cap=KM_CAP, confidence=0.95)}
ATTENTION = pd.DataFrame([{"seed": seed, "model": model, "head": head, "a": a, "b": 0.9 - a, "=": 0.1}
                          for seed in (1, 2) for model in ("grokked", "random")
                          for head, a in enumerate((0.85, 0.45))])


def labelled(fig):
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), ax
    return True


FIGURES = {
    "curves": lambda: P.learning_curves(CURVES, markers={"cap": 200}),
    "curves_log_loss": lambda: P.learning_curves(CURVES, metric="test_loss", log_x=True,
                                                 band="iqr", hold_last=True),
    "strip": lambda: P.epochs_to_threshold_strip(RUNS, cap=30000, log_y=True),
    "bars": lambda: P.bar_with_ci(S.summary_table(
        {"grokked": [1.0, 2.0, None], "memorized": [3.0, 3.5, 4.0], "random": [5.0]}, n_boot=100, confidence=0.95),
        ylabel="epochs to 99 % (mean, 95 % CI)"),
    "jumps_collapses": lambda: P.jumps_and_collapses(JUMPS, collapse_drop=0.05),
    "time_to_threshold": lambda: P.time_to_threshold_curves(SURVIVAL, cap=KM_CAP),
    "attention_panels": lambda: P.attention_panels(ATTENTION, focus_threshold=0.9),
}


@pytest.mark.parametrize("name", FIGURES)
def test_figure_builds_labelled_and_draws(name):
    fig = FIGURES[name]()
    assert isinstance(fig, Figure) and labelled(fig)
    assert not plt.get_fignums(), "figures must be closed in pyplot (no double display)"
    png = io.BytesIO()
    fig.savefig(png, format="png")
    assert png.getvalue()[:8] == b"\x89PNG\r\n\x1a\n" and len(png.getvalue()) > 1000


def test_collapse_axis_states_the_drop_that_counted():
    fig = P.jumps_and_collapses(JUMPS, collapse_drop=0.05)
    assert "falls > 5 points" in fig.axes[1].get_ylabel()
    assert "falls" not in P.jumps_and_collapses(JUMPS).axes[1].get_ylabel()


def test_hold_last_carries_every_run_to_the_longest_runs_end():
    short = {"grokked": [curve(0, n=10), curve(1, n=30)], "random": [curve(3, n=20)]}
    end = 29 * 10                                   # the longest run's last epoch, any condition
    for log_x in (False, True):
        ax = P.learning_curves(short, hold_last=True, log_x=log_x).axes[0]
        lines = ax.get_lines()                      # thin per-seed lines, then the median, per condition
        assert len(lines) == 2 + 1 + 1 + 1
        assert all(line.get_xdata()[-1] == end for line in lines)
        assert lines[0].get_ydata()[-1] == 100 * short["grokked"][0]["test_acc"].iloc[-1]  # last value held
    plain = P.learning_curves(short).axes[0].get_lines()
    median = [line for line in plain if line.get_label().startswith("grokked (median")][0]
    assert median.get_xdata()[-1] == 90              # without hold_last the band ends with the shortest run


def test_legend_of_four_conditions_sits_above_the_plot():
    four = {c: [curve(i)] for i, c in enumerate(("grokked", "memorized", "memorized-fixed", "random"))}
    fig = P.learning_curves(four, hold_last=True)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [f"{c} (median of 1)" for c in four]
    assert "held at their last value" in legend.get_title().get_text()
    assert fig.axes[0].get_legend() is None


def test_strip_log_axis_says_so():
    ax = P.epochs_to_threshold_strip(RUNS, cap=30000, log_y=True, ylabel="epochs to 99.9 %").axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "epochs to 99.9 % (log scale)"
    censored = [c for c in ax.collections if c.get_offsets().shape[0] == 1 and c.get_offsets()[0, 1] == 30000]
    assert censored, "the censored run is drawn at the cap"
    assert P.epochs_to_threshold_strip(RUNS, cap=30000).axes[0].get_ylabel() == "epochs to threshold"


def test_time_to_threshold_curves_one_step_line_per_condition_and_censored_marks():
    ax = P.time_to_threshold_curves(SURVIVAL, cap=KM_CAP).axes[0]
    assert ax.get_xscale() == "log" and "(log scale)" in ax.get_xlabel() and ax.get_ylabel()
    steps = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert sorted(steps) == ["grokked (4 runs, 0 censored)", "memorized-fixed (3 runs, 1 censored)",
                             "random (5 runs, 1 censored)"]
    assert all(line.get_ydata()[0] == 1.0 for line in steps.values())         # every run still below at first
    assert steps["grokked (4 runs, 0 censored)"].get_ydata()[-1] == 0.0
    plus = [line for line in ax.get_lines() if line.get_marker() == "+"]
    assert [line.get_xdata()[0] for line in plus] == [KM_CAP, KM_CAP]          # censored runs at the cap,
    assert sorted(line.get_ydata()[0] for line in plus) == pytest.approx([0.2, 1 / 3])  # where each curve ends
    labels = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert "runs censored at the cap (never reached it)" in labels
    with pytest.raises(ValueError, match="beyond cap"):
        P.time_to_threshold_curves(SURVIVAL, cap=1000)
    with pytest.raises(ValueError, match=r"curves\['grokked'\].*missing columns \['ci_low', 'ci_high'\]"):
        P.time_to_threshold_curves({"grokked": SURVIVAL["grokked"].drop(columns=["ci_low", "ci_high"])}, cap=KM_CAP)
    with pytest.raises(ValueError, match="cap must be a positive number"):
        P.time_to_threshold_curves(SURVIVAL, cap=0)


def test_attention_panels_stack_to_one_and_mark_the_threshold():
    fig = P.attention_panels(ATTENTION, ["random", "grokked", "absent"], focus_threshold=0.9)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["random", "grokked"]
    tops = [bar.get_y() + bar.get_height() for bar in axes[0].patches]
    assert max(tops) == pytest.approx(1.0)           # a + b + "=" of each head stacks to 1
    assert any(line.get_ydata()[0] == 0.9 for line in axes[0].get_lines())
    with pytest.raises(ValueError, match="none of the models"):
        P.attention_panels(ATTENTION, models=["nothing"])
    with pytest.raises(ValueError, match=r"missing \['head'\]"):
        P.attention_panels(ATTENTION.drop(columns=["head"]))
    plt.close("all")


def test_condition_colors_fixed_and_extra_distinct():
    assert P.color("grokked") == P.CONDITION_COLORS["grokked"] == "#0072B2"
    extra = [P.color(f"other-{i}") for i in range(3)]
    assert len(set(extra)) == 3 and not set(extra) & set(P.CONDITION_COLORS.values())
    assert P.color("other-0") == extra[0]
    assert set(P.CONDITION_COLORS.values()) <= set(P.OKABE_ITO.values())


@pytest.mark.parametrize("call, match", [
    (lambda: P.learning_curves({}), "non-empty dict"),
    (lambda: P.learning_curves({"g": [pd.DataFrame({"epoch": [0]})]}), "columns 'epoch'"),
    (lambda: P.epochs_to_threshold_strip(RUNS), "censored"),
    (lambda: P.bar_with_ci(pd.DataFrame({"name": ["a"]})), "missing"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
    plt.close("all")


# ----------------------------------------------------------------------------- readable figures

# The paper's shapes: its four conditions (the longest names side by side), eight model kinds,
# five seeds, eleven parameter matrices. A figure whose tick labels overlap raises while it is
# built (plots._done), so building each one here is the check.
FOUR = ("grokked", "memorized", "memorized-fixed", "random")
MODELS = ("grokked_source", "memorized_source", "memorized-fixed_source", "random_init", *FOUR)
SEEDS = (42, 7, 99, 314, 123)
PARAMS = ("embed.W_E", "pos_embed.W_pos", "blocks.0.attn.W_K", "blocks.0.attn.W_Q", "blocks.0.attn.W_V",
          "blocks.0.attn.W_O", "blocks.0.mlp.W_in", "blocks.0.mlp.b_in", "blocks.0.mlp.W_out", "blocks.0.mlp.b_out",
          "unembed.W_U")
SUMMARY = pd.DataFrame({"model": FOUR, "mean": [0.0085, 0.0085, 0.0085, 0.0078], "n": [5] * 4}).assign(
    **{"CI low": lambda d: d["mean"] - 0.0005, "CI high": lambda d: d["mean"] + 0.0005})
MATRIX = pd.DataFrame(np.full((4, 4), 0.8), index=FOUR, columns=FOUR)
CONTROLS = ("norm-matched", "permuted", "embeddings-only", "all-but-embeddings", "frozen-embeddings")
ORDER = ("grokked_source", *FOUR, *CONTROLS)  # chapter 12's initial weights, side by side
COMPARED = (*[c for c in FOUR if c != "random"], *CONTROLS)
PAPER_SHAPED = {
    "transfer curves": lambda: P.learning_curves({c: [curve(i), curve(i + 1)] for i, c in enumerate(FOUR)},
                                                 log_x=True, hold_last=True),
    "epochs to threshold": lambda: P.epochs_to_threshold_strip(pd.DataFrame(
        {"condition": np.repeat(FOUR, 5), "epochs": [480, 380, 430, 550, 1980] * 3 + [21810, 17170, None, 17800, 22450]}),
        cap=30000, log_y=True),
    "time to threshold": lambda: P.time_to_threshold_curves(SURVIVAL, cap=KM_CAP),
    "accuracy at epoch 100": lambda: P.bar_with_ci(SUMMARY.rename(columns={"CI low": "ci_low", "CI high": "ci_high"}),
                                                   group="model", ylabel="test accuracy at epoch 100 (%)"),
    "retention": lambda: P.bar_panels({"addition (test split)": SUMMARY, "subtraction (test split)": SUMMARY},
                                      points={"addition (test split)": {c: [0.0086] * 5 for c in FOUR}}),
    "agreement": lambda: P.agreement_panels({"test split": MATRIX, "all p² pairs": MATRIX}),
    "neuron frequencies": lambda: P.frequency_panels({m: {9: 120, 23: 60} for m in MODELS}, 56, ncols=2),
    "fraction explained": lambda: P.fraction_panels({m: np.linspace(0.2, 1, 50) for m in MODELS}, ncols=2),
    "weight change": lambda: P.weight_change_bars(pd.DataFrame(
        [{"model": c, "param": p, "seed": s, "change_norm": 10.0, "relative_change": 1.2}
         for c in FOUR for p in PARAMS for s in SEEDS]), FOUR),
    "attention": lambda: P.attention_panels(pd.DataFrame(
        [{"seed": s, "model": m, "head": h, "a": 0.5, "b": 0.49, "=": 0.01} for s in SEEDS for m in MODELS
         for h in range(4)]), MODELS, focus_threshold=0.9),
    "jumps and collapses": lambda: P.jumps_and_collapses(pd.DataFrame(
        {"condition": np.repeat(FOUR, 5), "largest jump": 0.1, "collapses": 0}), collapse_drop=0.05),
    "speed-ups": lambda: P.speedup_points(
        pd.DataFrame([{"condition": c, "seed": s, "ratio": 10.0 + s % 7, "bound": ">=" if s == 314 else None}
                      for c in COMPARED for s in SEEDS]),
        pd.DataFrame({"condition": COMPARED, "estimate": 12.0, "ci_low": 6.0, "ci_high": 30.0}),
        reference="random init", ylabel="speed-up: random init's epochs to 99.9 %\nover this run's"),
    "key-frequency ablation": lambda: P.ablation_null_panels(pd.DataFrame(
        [{"seed": s, "condition": c, "where": w, "ablated": kind, "loss": loss}
         for c in ORDER for s in SEEDS for w in ("embedding", "neurons")
         for kind, loss in [("none", 1e-6), ("key", 10.0)] + [("random", 1e-5 * (1 + i)) for i in range(50)]]),
        ORDER),
    "sign flip": lambda: P.sign_flip_panels(pd.DataFrame(
        [{"condition": c, "seed": s, "freq": k, "comparison": comparison, "cos_similarity_cos": 0.9,
          "cos_similarity_sin": -0.8} for c in ORDER for s in SEEDS for k in range(6)
         for comparison in ("b vs a", "a vs source", "b vs source")]), ORDER),
    "head importance": lambda: P.head_importance_points(pd.DataFrame(
        [{"condition": c, "seed": s, "head": h, "loss increase": 0.1 * h - 0.05, "reads": "ab"[h % 2]}
         for c in ORDER for s in SEEDS for h in range(4)]), ORDER),
}


@pytest.mark.parametrize("name", PAPER_SHAPED)
def test_no_figure_of_the_paper_overlaps_its_tick_labels(name):
    fig = PAPER_SHAPED[name]()                       # raises FigureLayoutError if labels overlap
    assert P.overlapping_labels(fig) == []


def test_the_overlap_check_fails_on_the_old_figure_10_layout():
    """Figure 10 as the last build drew it: two panels in a 6.4 in wide figure, the four condition
    names unwrapped under each; 'memorized' and 'memorized-fixed' ran into each other."""
    with P.style():
        fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4), constrained_layout=True)
        for ax in axes:
            ax.set_xticks(range(len(FOUR)), FOUR)
            ax.set_xlabel("condition")
    problems = P.overlapping_labels(fig)
    plt.close(fig)
    assert problems and "'memorized' overlaps 'memorized-fixed'" in problems[0]


def test_a_figure_with_overlapping_labels_is_refused_with_the_labels_named():
    crowded = {"a" * 30: pd.DataFrame({"model": [f"condition-number-{i}" for i in range(12)], "mean": 0.5,
                                       "CI low": 0.4, "CI high": 0.6})}
    with pytest.raises(P.FigureLayoutError, match="x axis of 'a+': 'condition-"):
        P.bar_panels(crowded)
    assert not plt.get_fignums()                     # refused figures are closed too
