"""Tests for grokpaper.plots: every figure builds headless on small synthetic data, has
labelled axes, and save() writes non-empty PNG and SVG files."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from grokpaper import plots as P  # noqa: E402
from grokpaper import stats as S  # noqa: E402


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
    "freq": lambda: P.frequency_histogram({"grokked": {4: 100, 32: 80, 43: 60},
                                           "transfer": {4: 90, 17: 30}}),
    "fraction_hist": lambda: P.fraction_explained_distribution(
        {"grokked": np.random.default_rng(0).uniform(0, 1, 50), "random": [0.1, 0.2]}),
    "fraction_violin": lambda: P.fraction_explained_distribution(
        {"grokked": np.random.default_rng(0).uniform(0, 1, 50), "random": [0.1, 0.2, 0.3]},
        kind="violin"),
    "fourier": lambda: P.fourier_heatmap(np.random.default_rng(0).normal(size=(11, 11)), "neuron 3"),
    "attn_maps": lambda: P.attention_pattern({h: np.random.default_rng(h).uniform(size=(7, 7))
                                              for h in range(4)}),
    "attn_bars": lambda: P.attention_pattern({h: [0.45, 0.45, 0.1] for h in range(4)}),
    "bars": lambda: P.bar_with_ci(S.summary_table(
        {"grokked": [1.0, 2.0, None], "memorized": [3.0, 3.5, 4.0], "random": [5.0]}, n_boot=100),
        ylabel="epochs to 99 % (mean, 95 % CI)"),
    "jumps_collapses": lambda: P.jumps_and_collapses(JUMPS, collapse_drop=0.05),
}


@pytest.mark.parametrize("name", FIGURES)
def test_figure_builds_labelled_and_saves(name, tmp_path):
    fig = FIGURES[name]()
    assert isinstance(fig, Figure) and labelled(fig)
    assert not plt.get_fignums(), "figures must be closed in pyplot (no double display)"
    paths = P.save(fig, tmp_path / "sub" / f"{name}-0.99")
    assert [p.name for p in paths] == [f"{name}-0.99.png", f"{name}-0.99.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[0].stat().st_size > 1000
    assert b"<svg" in paths[1].read_bytes() and paths[1].stat().st_size > 1000


def test_collapse_axis_states_the_drop_that_counted():
    fig = P.jumps_and_collapses(JUMPS, collapse_drop=0.05)
    assert "falls > 5 points" in fig.axes[1].get_ylabel()
    assert "falls" not in P.jumps_and_collapses(JUMPS).axes[1].get_ylabel()


def test_svg_is_reproducible(tmp_path):
    a = P.save(FIGURES["bars"](), tmp_path / "a")[1].read_bytes()
    b = P.save(FIGURES["bars"](), tmp_path / "b")[1].read_bytes()
    assert a == b


def test_condition_colors_fixed_and_extra_distinct():
    assert P.color("grokked") == P.CONDITION_COLORS["grokked"] == "#0072B2"
    extra = [P.color(f"other-{i}") for i in range(3)]
    assert len(set(extra)) == 3 and not set(extra) & set(P.CONDITION_COLORS.values())
    assert P.color("other-0") == extra[0]
    assert set(P.CONDITION_COLORS.values()) <= set(P.OKABE_ITO.values())


def test_fourier_labels():
    assert P.fourier_labels(5) == ["const", "cos1", "sin1", "cos2", "sin2"]


@pytest.mark.parametrize("call, match", [
    (lambda: P.learning_curves({}), "non-empty dict"),
    (lambda: P.learning_curves({"g": [pd.DataFrame({"epoch": [0]})]}), "columns 'epoch'"),
    (lambda: P.epochs_to_threshold_strip(RUNS), "censored"),
    (lambda: P.fourier_heatmap(np.zeros((2, 3))), "square"),
    (lambda: P.attention_pattern({0: np.zeros((2, 3))}), "p x p map"),
    (lambda: P.bar_with_ci(pd.DataFrame({"name": ["a"]})), "missing"),
    (lambda: P.save(plt.figure(), "x.png"), "suffix"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
    plt.close("all")
