"""Figures of the paper, in one style.

Colour-blind-safe Okabe-Ito palette with a fixed colour per condition
(``CONDITION_COLORS``; other names get the next free palette colour, stable within a
process). Every function returns a matplotlib Figure with labelled axes (units included).
Figures are closed in pyplot right after they are built, so in Jupyter (inline backend)
a returned figure is displayed once, by the notebook, and scripts never pile up open
figures; headless runs work with the Agg backend matplotlib picks when there is no display.
``save(fig, stem)`` writes ``stem.png`` (150 dpi) and ``stem.svg`` (no date stamp, fixed
hash salt, so reruns produce identical files).
"""

from __future__ import annotations

import contextlib
import itertools
import textwrap

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from grokpaper.paper.report import significant

OKABE_ITO = {"blue": "#0072B2", "vermillion": "#D55E00", "bluish green": "#009E73",
             "orange": "#E69F00", "sky blue": "#56B4E9", "reddish purple": "#CC79A7",
             "yellow": "#F0E442", "black": "#000000"}
CONDITION_COLORS = {"grokked": OKABE_ITO["blue"], "memorized": OKABE_ITO["vermillion"],
                    "memorized-fixed": OKABE_ITO["orange"], "random": OKABE_ITO["bluish green"]}
_extra_colors: dict[str, str] = {}
DPI = 150
TICK_FONT = 8.5  # tick labels that name conditions or parameters: four to eleven of them side by side

STYLE = {
    "figure.figsize": (6.4, 3.4), "figure.dpi": 100, "savefig.dpi": DPI,
    "savefig.bbox": "tight", "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
    "legend.fontsize": 9, "legend.frameon": False, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.8,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO.values())), "svg.hashsalt": "grokpaper",
    "image.cmap": "viridis",
}


@contextlib.contextmanager
def style():
    """The paper's rcParams, for figures built inside the block (every function here uses it)."""
    with mpl.rc_context(STYLE):
        yield


def color(name: str) -> str:
    """The fixed colour of a condition; other names get the next unused Okabe-Ito colour."""
    if name in CONDITION_COLORS:
        return CONDITION_COLORS[name]
    if name not in _extra_colors:
        used = set(CONDITION_COLORS.values()) | set(_extra_colors.values())
        free = [c for c in OKABE_ITO.values() if c not in used]
        _extra_colors[name] = free[0] if free else \
            list(OKABE_ITO.values())[len(_extra_colors) % len(OKABE_ITO)]
    return _extra_colors[name]


def _new(nrows=1, ncols=1, **kw):
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, constrained_layout=True, **kw)
    return fig, axes


class FigureLayoutError(ValueError):
    """A figure whose tick labels overlap: the message names the axes and the labels."""


def overlapping_labels(fig, slack: float = 0.5) -> list[str]:
    """The pairs of tick labels that overlap on an axis of ``fig``, drawn as it will be saved
    (text bounding boxes from matplotlib's renderer, shrunk by ``slack`` pixels so touching is
    not overlapping), as readable lines; empty when none do."""
    # A figure closed in pyplot has lost its drawing canvas; measure it on an Agg one.
    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    found = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis, labels in (("x", ax.get_xticklabels()), ("y", ax.get_yticklabels())):
            boxes = [(t.get_text(), t.get_window_extent(renderer).expanded(1, 1).padded(-slack))
                     for t in labels if t.get_visible() and t.get_text().strip()]
            for (text_a, a), (text_b, b) in itertools.combinations(boxes, 2):
                if a.overlaps(b):
                    where = ax.get_title() or ax.get_xlabel() or ax.get_ylabel() or "untitled axes"
                    found.append(f"{axis} axis of '{where}': {text_a!r} overlaps {text_b!r}")
    return found


def wrapped(name: str) -> str:
    """A condition or model name as a tick label: broken after '-' and at '_' so that neighbouring
    labels fit side by side ('memorized-fixed' becomes 'memorized-' over 'fixed')."""
    return str(name).replace("-", "-\n").replace("_", "\n")


def _done(fig):
    problems = overlapping_labels(fig)
    plt.close(fig)        # no second copy from the inline backend; still displayable
    if problems:
        raise FigureLayoutError("tick labels overlap (the figure is unreadable there): " + "; ".join(problems))
    return fig


def _model_panels(by_model: dict, ncols: int):
    """A grid of small shared-axis panels, one per model in order, unused panels hidden;
    returns the figure and (axis, model, value) triples."""
    nrows = int(np.ceil(len(by_model) / ncols))
    fig, axes = _new(nrows, ncols, sharex=True, sharey=True, figsize=(3.0 * ncols + 0.4, 1.9 * nrows + 0.4))
    for ax in list(axes.flat)[len(by_model):]:
        ax.set_visible(False)
    return fig, [(ax, model, value) for ax, (model, value) in zip(axes.flat, by_model.items())]


def _metric_label(metric: str) -> tuple[str, float]:
    """Axis label with units and the factor applied to the values."""
    split, _, kind = metric.partition("_")
    if kind.startswith(("acc_", "loss_")):  # a watched task's test set (``Split.extra_tests``): test_acc_add
        kind, _, task = kind.partition("_")
        return (f"{task}: test accuracy (%)", 100.0) if kind == "acc" else (f"{task}: test loss (nats)", 1.0)
    if kind == "acc":
        return f"{split} accuracy (%)", 100.0
    if kind == "loss":
        return f"{split} loss (cross-entropy, nats)", 1.0
    return metric, 1.0


def _check_nonempty(name: str, mapping) -> None:
    if not isinstance(mapping, dict) or len(mapping) == 0:
        raise ValueError(f"{name} must be a non-empty dict, got {type(mapping).__name__} "
                         f"of length {len(mapping) if hasattr(mapping, '__len__') else '?'}")


# ----------------------------------------------------------------------------- curves

def learning_curves(curves_by_condition: dict, metric: str | list[str] = "test_acc", log_x: bool = False,
                    band: str = "minmax", markers: dict | None = None, hold_last: bool = False,
                    title: str | None = None):
    """Median across seeds of ``metric`` per condition, with a min-max (or IQR) band and thin
    per-seed lines; ``markers`` = {label: epoch} draws dashed vertical lines. A list of
    metrics gives one panel per metric, stacked, sharing the epoch axis.

    The median and band use the epochs every seed of the condition evaluated (runs that
    stopped early end the band), unless ``hold_last=True`` carries each run's final value
    forward to the end of the longest run of any condition. On a log x axis epoch 0 is left out.
    """
    _check_nonempty("curves_by_condition", curves_by_condition)
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if band not in ("minmax", "iqr"):
        raise ValueError(f"band must be 'minmax' or 'iqr', got {band!r}")
    for cond, curves in curves_by_condition.items():
        if len(curves) == 0:
            raise ValueError(f"condition {cond!r} has no curves")
        for c in curves:
            if not isinstance(c, pd.DataFrame) or not {"epoch", *metrics} <= set(c.columns):
                raise ValueError(f"condition {cond!r}: each curve must be a DataFrame with "
                                 f"columns 'epoch' and {metrics}")
    # With hold_last every run (thin line, median and band) reaches this common right edge.
    end = max(c["epoch"].max() for curves in curves_by_condition.values() for c in curves) if hold_last else None
    with style():
        height = STYLE["figure.figsize"][1] * (1 if len(metrics) == 1 else 0.7 * len(metrics))
        fig, axes = _new(len(metrics), 1, sharex=True, figsize=(STYLE["figure.figsize"][0], height))
        for row, name in enumerate(metrics):
            _draw_curves(axes[row, 0], curves_by_condition, name, log_x, band, markers, end,
                         xlabel=row == len(metrics) - 1)
        if title:
            axes[0, 0].set_title(title)
        # Above the plot, two per row: four conditions' entries inside the axes would cover curves.
        band_name = "min-max" if band == "minmax" else "IQR"
        held = "; runs that ended early held at their last value" if hold_last else ""
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center",
                   ncols=min(2, len(curves_by_condition)), title=f"line: median; band: {band_name}{held}")
    return _done(fig)


def _draw_curves(ax, curves_by_condition, metric, log_x, band, markers, hold_until, xlabel):
    """One metric's per-seed lines, median and band per condition on ``ax``; ``hold_until``
    (an epoch, or None) carries each run's last value forward to that epoch."""
    ylabel, scale = _metric_label(metric)
    for cond, curves in curves_by_condition.items():
        c = color(cond)
        wide = pd.concat([cv.set_index("epoch")[metric].rename(i) for i, cv in enumerate(curves)],
                         axis=1).sort_index() * scale
        if hold_until is not None:
            # Forward fill also bridges epochs that only some runs evaluated (a step between evaluations).
            wide = wide.reindex(wide.index.union([hold_until])).ffill()
        if log_x:
            wide = wide[wide.index > 0]
        for col in wide:
            s = wide[col].dropna()
            ax.plot(s.index, s.to_numpy(), color=c, lw=0.6, alpha=0.35)
        full = wide.dropna()
        if len(full):
            lo, hi = ((full.min(axis=1), full.max(axis=1)) if band == "minmax"
                      else (full.quantile(0.25, axis=1), full.quantile(0.75, axis=1)))
            ax.fill_between(full.index, lo, hi, color=c, alpha=0.2, lw=0)
            ax.plot(full.index, full.median(axis=1), color=c,
                    label=f"{cond} (median of {len(curves)})")
    for label, epoch in (markers or {}).items():
        ax.axvline(epoch, color="0.3", ls="--", lw=1)
        ax.annotate(str(label), (epoch, 1), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=8, color="0.3")
    if log_x:
        ax.set_xscale("log")
    if metric.endswith("_loss"):
        ax.set_yscale("log")
    if xlabel:
        ax.set_xlabel("epoch" + (" (log scale)" if log_x else ""))
    ax.set_ylabel(ylabel)


def epochs_to_threshold_strip(df: pd.DataFrame, *, condition: str = "condition",
                              value: str = "epochs", cap: float | None = None,
                              log_y: bool = False, ylabel: str = "epochs to threshold",
                              title: str | None = None, seed: int = 0):
    """Strip + box plot of epochs per condition (one dot per run). Censored runs (value
    None/NaN, never reached) are drawn at ``cap`` (or the table's ``cap`` column) as open
    triangles; the boxes summarise reached runs only, as the legend says. ``log_y`` puts the
    epochs on a log axis and adds "(log scale)" to ``ylabel``."""
    if not isinstance(df, pd.DataFrame) or not {condition, value} <= set(df.columns):
        raise ValueError(f"df must be a DataFrame with columns {condition!r} and {value!r}")
    if len(df) == 0:
        raise ValueError("df is empty: nothing to plot")
    vals = pd.to_numeric(df[value], errors="coerce")
    censored = vals.isna()
    if censored.any() and cap is None:
        if "cap" not in df.columns:
            raise ValueError("some runs are censored (value None/NaN): give cap= or a 'cap' column")
    caps = (pd.Series(cap, index=df.index) if cap is not None
            else df["cap"] if "cap" in df.columns else pd.Series(np.nan, index=df.index))
    conds = list(pd.unique(df[condition]))
    rng = np.random.default_rng(seed)
    with style():
        fig, axes = _new()
        ax = axes[0, 0]
        reached = [vals[(df[condition] == c) & ~censored].to_numpy() for c in conds]
        ax.boxplot(reached, positions=range(len(conds)), widths=0.5, showfliers=False,
                   medianprops={"color": "0.2"}, boxprops={"color": "0.5"},
                   whiskerprops={"color": "0.5"}, capprops={"color": "0.5"})
        for i, c in enumerate(conds):
            rows = df[condition] == c
            ok, cen = rows & ~censored, rows & censored
            ax.scatter(i + rng.uniform(-0.12, 0.12, ok.sum()), vals[ok], color=color(c),
                       zorder=3, s=28, edgecolor="white", lw=0.5)
            if cen.any():
                ax.scatter(i + rng.uniform(-0.12, 0.12, cen.sum()), caps[cen], marker="^",
                           facecolor="none", edgecolor=color(c), zorder=3, s=50, lw=1.4)
        ax.set_xticks(range(len(conds)), [str(c) for c in conds])
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel("condition")
        ax.set_ylabel(ylabel + (" (log scale)" if log_y else ""))
        handles = [Line2D([], [], marker="o", ls="", color="0.4", label="run (reached)")]
        if censored.any():
            handles.append(Line2D([], [], marker="^", ls="", mfc="none", color="0.4",
                                  label=f"not reached by cap ({int(censored.sum())} censored, drawn at cap)"))
        handles.append(Line2D([], [], color="0.5", label="box: reached runs only"))
        ax.legend(handles=handles, loc="best")
        if title:
            ax.set_title(title)
    return _done(fig)


KAPLAN_MEIER_COLUMNS = ("epoch", "at_risk", "censored", "not_reached", "ci_low", "ci_high")


def time_to_threshold_curves(curves: dict, *, cap: float, xlabel: str = "epochs",
                             ylabel: str = "share of runs not yet at the threshold",
                             title: str | None = None):
    """Kaplan-Meier step curves, one per condition (``survival.kaplan_meier`` tables): the share
    of runs that have not yet reached the threshold against epochs (log axis, " (log scale)"
    added to ``xlabel``), with the pointwise confidence band; a "+" at ``cap`` marks runs
    censored there, where the curve ends above 0."""
    _check_nonempty("curves", curves)
    if isinstance(cap, bool) or not isinstance(cap, (int, float, np.integer, np.floating)) or not cap > 0:
        raise ValueError(f"cap must be a positive number of epochs, got {cap!r}")
    for cond, table in curves.items():
        missing = [c for c in KAPLAN_MEIER_COLUMNS if c not in getattr(table, "columns", [])]
        if not isinstance(table, pd.DataFrame) or missing or len(table) == 0:
            raise ValueError(f"curves[{cond!r}] must be a non-empty survival.kaplan_meier DataFrame; "
                             f"missing columns {missing}")
        if table["epoch"].max() > cap:
            raise ValueError(f"curves[{cond!r}] has epochs up to {table['epoch'].max():g}, beyond cap = {cap:g}")
    # A log axis cannot show epoch 0, where every curve starts at 1: start them at half the
    # earliest epoch any run reached the threshold, so the initial flat stretch stays visible.
    positive = [e for table in curves.values() for e in table["epoch"] if e > 0]
    left = min(positive) / 2 if positive else cap / 10
    with style():
        fig, axes = _new()
        ax = axes[0, 0]
        any_censored = False
        for cond, table in curves.items():
            c = color(cond)
            epochs = np.where(table["epoch"].to_numpy(float) > 0, table["epoch"].to_numpy(float), left)
            n, n_censored = int(table["at_risk"].iloc[0]), int(table["censored"].sum())
            ax.fill_between(epochs, table["ci_low"], table["ci_high"], step="post", color=c, alpha=0.15, lw=0)
            ax.step(epochs, table["not_reached"], where="post", color=c,
                    label=f"{cond} ({n} runs, {n_censored} censored)")
            last = float(table["not_reached"].iloc[-1])
            if n_censored and last > 0:
                ax.plot([cap], [last], marker="+", ms=12, mew=2, ls="", color=c, zorder=3)
                any_censored = True
        ax.axvline(cap, color="0.4", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.05)
        ax.set_xlabel(xlabel + " (log scale)")
        ax.set_ylabel(ylabel)
        handles, labels = ax.get_legend_handles_labels()
        if any_censored:
            handles.append(Line2D([], [], marker="+", ms=10, mew=2, ls="", color="0.3"))
            labels.append("runs censored at the cap (never reached it)")
        handles.append(Line2D([], [], color="0.4", ls=":"))
        labels.append(f"cap: {significant(cap)} epochs")
        # Above the plot: inside, the curves and bands of the fast conditions run through any corner.
        levels = {table.attrs.get("confidence") for table in curves.values()} - {None}
        band = f"band: pointwise {significant(100 * levels.pop())} % confidence interval" if len(levels) == 1 else \
            "band: pointwise confidence interval"
        fig.legend(handles, labels, loc="outside upper center", ncols=2, title=band)
        if title:
            ax.set_title(title)
    return _done(fig)


# ----------------------------------------------------------------------------- circuits

# ----------------------------------------------------------------------------- summaries

def bar_with_ci(summary_df: pd.DataFrame, *, group: str = "name", mean: str = "mean",
                low: str = "ci_low", high: str = "ci_high", ylabel: str = "mean (95 % CI)",
                xlabel: str = "condition", title: str | None = None):
    """Mean bars with CI error bars per group (e.g. ``stats.summary_table`` output),
    annotated with n (and the censored count when the table has ``n_total``)."""
    need = [c for c in (group, mean, low, high) if c not in getattr(summary_df, "columns", [])]
    if not isinstance(summary_df, pd.DataFrame) or need:
        raise ValueError(f"summary_df must be a DataFrame with columns {group!r}, {mean!r}, "
                         f"{low!r}, {high!r}; missing {need}")
    if len(summary_df) == 0:
        raise ValueError("summary_df is empty: nothing to plot")
    names = [str(g) for g in summary_df[group]]
    m = summary_df[mean].to_numpy(float)
    err = np.vstack([m - summary_df[low].to_numpy(float), summary_df[high].to_numpy(float) - m])
    with style():
        fig, axes = _new()
        ax = axes[0, 0]
        x = np.arange(len(names))
        ax.bar(x, m, color=[color(g) for g in names], alpha=0.85)
        ok = ~np.isnan(err).any(axis=0)
        ax.errorbar(x[ok], m[ok], yerr=err[:, ok], fmt="none", ecolor="0.15", capsize=4, lw=1.2)
        tops = np.where(ok, m + np.nan_to_num(err[1]), m)
        for i in range(len(summary_df)):
            row = summary_df.iloc[i]
            text = f"n = {row['n']}" if "n" in row.index else ""
            if {"n", "n_total"} <= set(row.index) and row["n_total"] != row["n"]:
                text += f"\n({row['n_total'] - row['n']} censored)"
            if not ok[i]:
                text += "\n(no CI)"
            ax.annotate(text, (i, np.nan_to_num(tops[i])), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color="0.2")
        ax.set_xticks(x, names)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(axis="x", visible=False)
        if title:
            ax.set_title(title)
    return _done(fig)


# ----------------------------------------------------------------------------- dynamics

def jumps_and_collapses(table: pd.DataFrame, *, condition: str = "condition",
                        jump: str = "largest jump", collapses: str = "collapses",
                        collapse_drop: float | None = None, title: str | None = None, seed: int = 0):
    """Two panels per condition: the largest single-evaluation jump of test accuracy (one
    dot per run, in percentage points) and the number of collapses (bars: total over runs;
    label: runs with at least one collapse). ``collapse_drop``, the fall that counted as a
    collapse, is written on the axis so the figure states its own definition."""
    need = [c for c in (condition, jump, collapses) if c not in getattr(table, "columns", [])]
    if not isinstance(table, pd.DataFrame) or need:
        raise ValueError(f"table must be a DataFrame with columns {condition!r}, {jump!r}, "
                         f"{collapses!r}; missing {need}")
    if len(table) == 0:
        raise ValueError("table is empty: nothing to plot")
    conds = list(pd.unique(table[condition]))
    rng = np.random.default_rng(seed)
    with style():
        fig, axes = _new(1, 2, figsize=(7.4, 3.6))
        left, right = axes[0]
        for i, c in enumerate(conds):
            v = 100 * pd.to_numeric(table.loc[table[condition] == c, jump]).to_numpy(float)
            left.scatter(i + rng.uniform(-0.12, 0.12, len(v)), v, color=color(c), s=28,
                         edgecolor="white", lw=0.5, zorder=3)
            left.hlines(np.median(v), i - 0.25, i + 0.25, color="0.2", lw=1.2)
            counts = table.loc[table[condition] == c, collapses].to_numpy(int)
            right.bar(i, counts.sum(), color=color(c), alpha=0.85)
            right.annotate(f"{int((counts > 0).sum())}/{len(counts)} runs", (i, counts.sum()),
                           xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
        for ax in (left, right):
            ax.set_xticks(range(len(conds)), [wrapped(c) for c in conds], fontsize=TICK_FONT)
            ax.set_xlabel("condition")
            ax.grid(axis="x", visible=False)
        left.set_ylabel("largest jump in test accuracy\n(percentage points; bar: median)")
        drop = "" if collapse_drop is None else f"falls > {significant(100 * collapse_drop)} points, "
        right.set_ylabel(f"collapses\n({drop}count over all runs)")
        totals = table.groupby(condition)[collapses].sum()
        right.set_ylim(0, max(1, int(totals.max())) * 1.2)
        right.yaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        if title:
            fig.suptitle(title)
    return _done(fig)


# ----------------------------------------------------------------------------- retention, agreement, circuits

def _family_color(name: str) -> str:
    """Colour of a model label such as ``grokked_source`` or ``random_init``: its condition's
    colour when the label starts with a condition name, else ``color(name)``."""
    head = str(name).split("_")[0]
    return CONDITION_COLORS.get(head, color(str(name)))


def bar_panels(panels: dict, references: dict | None = None, points: dict | None = None, *,
               group: str = "model", mean: str = "mean", low: str = "CI low", high: str = "CI high",
               scale: float = 100.0, limits: tuple | None = (0.0, 1.0), ylabel: str = "accuracy (%)",
               xlabel: str = "condition"):
    """One panel per entry of ``panels`` ({title: summary DataFrame}): bars of the mean per group
    with CI whiskers, n under each group name, values multiplied by ``scale``. ``points`` = {title:
    {group: values}} overlays the individual values (e.g. one dot per seed); ``references`` =
    {title: {label: value}} draws labelled horizontal lines. ``limits`` (unscaled) clip the
    whiskers to the possible range (an accuracy's t-interval can leave [0, 1] with few seeds)
    and the y axis zooms to what is drawn within them; None leaves both as they are."""
    _check_nonempty("panels", panels)
    for title, df in panels.items():
        need = [c for c in (group, mean, low, high) if c not in getattr(df, "columns", [])]
        if not isinstance(df, pd.DataFrame) or need or len(df) == 0:
            raise ValueError(f"panel {title!r} must be a non-empty DataFrame with columns {group!r}, "
                             f"{mean!r}, {low!r}, {high!r}; missing {need}")
    styles = ["--", ":", "-.", (0, (5, 1, 1, 1))]
    rng = np.random.default_rng(0)
    with style():
        fig, axes = _new(1, len(panels), figsize=(3.4 * len(panels) + 0.6, 4.0))
        for ax, (title, df) in zip(axes[0], panels.items()):
            names = [str(g) for g in df[group]]
            m = df[mean].to_numpy(float) * scale
            lo, hi = df[low].to_numpy(float) * scale, df[high].to_numpy(float) * scale
            if limits is not None:
                lo, hi = np.clip(lo, limits[0] * scale, None), np.clip(hi, None, limits[1] * scale)
            err = np.vstack([m - lo, hi - m])
            x = np.arange(len(names))
            ax.bar(x, m, color=[_family_color(g) for g in names], alpha=0.6)
            ok = ~np.isnan(err).any(axis=0)
            ax.errorbar(x[ok], m[ok], yerr=err[:, ok], fmt="none", ecolor="0.15", capsize=4, lw=1.2)
            for i, g in enumerate(names):
                values = np.asarray((points or {}).get(title, {}).get(g, []), float) * scale
                if len(values):
                    ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=16, color="0.1",
                               zorder=3, label="one seed" if i == 0 else None)
            refs = (references or {}).get(title, {})
            for (label, value), ls in zip(refs.items(), styles):
                ax.axhline(value * scale, color="0.25", ls=ls, lw=1.2, label=label)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize=8)  # away from the seeds' dots where it can
            if limits is not None:
                # Zoom to what is drawn (small accuracies stay visible), never past the limits.
                drawn = [m, hi, np.asarray([v * scale for v in refs.values()], float)]
                drawn += [np.asarray(v, float) * scale for v in (points or {}).get(title, {}).values()]
                top = np.nanmax(np.concatenate([np.ravel(d) for d in drawn]))
                ax.set_ylim(limits[0] * scale, min(limits[1] * scale * 1.02, top * 1.3 if top > 0 else scale))
            labels = [wrapped(g) for g in names]
            if "n" in df.columns:
                labels = [f"{g}\n(n = {n})" for g, n in zip(labels, df["n"])]
            ax.set_xticks(x, labels, fontsize=TICK_FONT)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            ax.grid(axis="x", visible=False)
    return _done(fig)


ATTENDED_POSITIONS = ("a", "b", "=")  # the positions "=" attends to, in token order
# Bars encode positions, not conditions, so they take colours no condition uses; "=" is light
# grey: it carries no operand, and a threshold line stays visible over it.
POSITION_COLORS = {"a": OKABE_ITO["sky blue"], "b": OKABE_ITO["reddish purple"], "=": "0.8"}


def attention_panels(table: pd.DataFrame, models=None, *, ncols: int = 4, focus_threshold: float | None = None):
    """One panel per model kind: per seed a group of stacked bars, one per head, of the mean
    attention from "=" to a, b and "=" (``circuits.attention_table``); ``models`` gives the
    panels' order (None: as in the table), ``focus_threshold`` draws a dashed line."""
    need = {"seed", "model", "head", *ATTENDED_POSITIONS}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns) or len(table) == 0:
        missing = sorted(need - set(getattr(table, "columns", [])))
        raise ValueError(f"table must be a non-empty attention table with columns {sorted(need)}; missing {missing}")
    if not isinstance(ncols, (int, np.integer)) or isinstance(ncols, bool) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    models = list(pd.unique(table["model"])) if models is None else [m for m in models if (table["model"] == m).any()]
    if not models:
        raise ValueError(f"none of the models is in the attention table; it has {list(pd.unique(table['model']))}")
    seeds = list(pd.unique(table["seed"]))
    n_heads = int(table["head"].max()) + 1
    ncols = min(ncols, len(models))
    nrows = int(np.ceil(len(models) / ncols))
    with style():
        fig, axes = _new(nrows, ncols, sharey=True, figsize=(3.0 * ncols + 0.4, 2.4 * nrows + 0.6))
        for ax in axes.flat[len(models):]:
            ax.set_visible(False)
        for ax, m in zip(axes.flat, models):
            for i, seed in enumerate(seeds):
                heads = table[(table["model"] == m) & (table["seed"] == seed)].sort_values("head")
                x = i * (n_heads + 1) + heads["head"].to_numpy()  # a gap of one bar between seeds
                bottom = np.zeros(len(heads))
                for position in ATTENDED_POSITIONS:
                    ax.bar(x, heads[position], 0.9, bottom=bottom, color=POSITION_COLORS[position],
                           label=f"to {position}" if i == 0 else None)
                    bottom += heads[position].to_numpy()
            if focus_threshold is not None:
                ax.axhline(focus_threshold, color="0.4", lw=0.8, ls="--")
            ax.set_xticks([i * (n_heads + 1) + (n_heads - 1) / 2 for i in range(len(seeds))], [str(s) for s in seeds])
            ax.set_title(m, fontsize=9)
            ax.set_xlabel(f"seed (bars: heads 0-{n_heads - 1})", fontsize=8)
            ax.set_ylabel("attention from '=' (mean weight)", fontsize=8)
            ax.set_ylim(0, 1)
            ax.grid(axis="x", visible=False)
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside upper center",
                   ncols=len(ATTENDED_POSITIONS))
    return _done(fig)


def agreement_panels(matrices: dict, *, label: str = "agreement (% of inputs)", scale: float = 100.0):
    """Square model x model matrices (e.g. mean prediction agreement), one annotated heatmap
    panel per entry of ``matrices`` ({title: DataFrame}), on one colour scale 0..``scale``."""
    _check_nonempty("matrices", matrices)
    for title, m in matrices.items():
        if not isinstance(m, pd.DataFrame) or m.shape[0] != m.shape[1] or m.size == 0:
            raise ValueError(f"matrix {title!r} must be a non-empty square DataFrame, got {getattr(m, 'shape', None)}")
    n = max(len(m) for m in matrices.values())
    with style():
        # Sized near the page's text width, so the numbers print at about the body text's size.
        fig, axes = _new(1, len(matrices), figsize=((0.75 * n + 1.0) * len(matrices) + 0.8, 0.75 * n + 1.6))
        for ax, (title, matrix) in zip(axes[0], matrices.items()):
            values = matrix.to_numpy(float) * scale
            im = ax.imshow(values, cmap="viridis", vmin=0, vmax=scale)
            for i in range(len(matrix)):
                for j in range(len(matrix)):
                    v = values[i, j]
                    ax.text(j, i, "–" if np.isnan(v) else f"{v:.1f}", ha="center", va="center", fontsize=10,
                            color="black" if np.nan_to_num(v) > 0.6 * scale else "white")
            ax.set_xticks(range(len(matrix)), [wrapped(c) for c in matrix.columns], fontsize=8)
            ax.set_yticks(range(len(matrix)), [wrapped(c) for c in matrix.index], fontsize=8)
            ax.grid(False)
            ax.set_xlabel("condition")
            ax.set_ylabel("condition")
            ax.set_title(title)
        fig.colorbar(im, ax=list(axes[0]), label=label, shrink=0.8)
    return _done(fig)


def frequency_panels(counts_by_model: dict, n_freqs: int, *, ncols: int = 3, alive: dict | None = None,
                     title: str | None = None):
    """Small multiples: for each model, neurons (count) per best frequency k = 1..``n_freqs``,
    one panel each on shared axes (``ncols`` per row), coloured by the model's condition;
    ``alive`` = {model: alive neurons} goes into the panel titles."""
    _check_nonempty("counts_by_model", counts_by_model)
    if not isinstance(n_freqs, (int, np.integer)) or n_freqs < 1:
        raise ValueError(f"n_freqs must be a positive integer, got {n_freqs!r}")
    bad = [k for counts in counts_by_model.values() for k in counts if not 1 <= int(k) <= n_freqs]
    if bad:
        raise ValueError(f"frequencies {sorted(set(bad))} outside 1..{n_freqs}")
    k = np.arange(1, n_freqs + 1)
    with style():
        fig, panels = _model_panels(counts_by_model, ncols)
        for ax, model, counts in panels:
            ax.bar(k, [counts.get(int(f), 0) for f in k], width=0.9, color=_family_color(model))
            name = f"{model} ({alive[model]} alive)" if alive and model in alive else str(model)
            ax.set_title(name, fontsize=9)
            ax.set_ylabel("neurons (count)", fontsize=8)
            ax.set_xlabel("best frequency k", fontsize=8)
            ax.tick_params(labelbottom=True, labelleft=True)
        if title:
            fig.suptitle(title)
    return _done(fig)


def weight_change_bars(table: pd.DataFrame, models, *, spread: str = "minmax"):
    """Per parameter matrix, grouped bars per model kind of the mean over seeds of the relative
    change ||W - W0|| / ||W0|| (top) and the change ||W - W0|| (bottom), with min-max whiskers
    over seeds (``table``: ``circuits.weight_change_table``); the relative panel has a log
    axis. Missing bars: W0 = 0."""
    need = {"model", "param", "change_norm", "relative_change"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns) or len(table) == 0:
        raise ValueError(f"table must be a non-empty DataFrame with columns {sorted(need)}")
    if spread != "minmax":
        raise ValueError(f"spread must be 'minmax', got {spread!r}")
    models = [m for m in models if (table["model"] == m).any()]
    if not models:
        raise ValueError("none of the models is in the table")
    params = list(pd.unique(table["param"]))
    x = np.arange(len(params))
    width = 0.8 / len(models)
    with style():
        fig, axes = _new(2, 1, sharex=True, figsize=(7.4, 6.0))
        axes[0, 0].set_yscale("log")
        for ax, column, ylabel in ((axes[0, 0], "relative_change", "relative change ||W - W0|| / ||W0||\n(log scale)"),
                                   (axes[1, 0], "change_norm", "change ||W - W0|| (Frobenius)")):
            for i, m in enumerate(models):
                g = table[table["model"] == m].groupby("param", sort=False)[column]
                mean, lo, hi = (s.reindex(params).to_numpy(float) for s in (g.mean(), g.min(), g.max()))
                n = int(g.count().max())
                pos = x + (i - (len(models) - 1) / 2) * width
                ax.bar(pos, mean, width, color=_family_color(m), label=f"{m} (mean of {n})")
                ok = ~np.isnan(mean)
                ax.errorbar(pos[ok], mean[ok], yerr=[mean[ok] - lo[ok], hi[ok] - mean[ok]], fmt="none",
                            ecolor="0.2", capsize=2, lw=0.8)
            ax.set_ylabel(ylabel)
            ax.grid(axis="x", visible=False)
        axes[0, 0].legend(loc="best", title="whiskers: min-max over seeds")
        # Horizontal (rotated labels cannot be checked for overlap), by the matrices' own short names.
        axes[1, 0].set_xticks(x, [p.split(".")[-1] for p in params], fontsize=TICK_FONT)
        axes[1, 0].set_xlabel("parameter")
    return _done(fig)


def fraction_panels(fractions_by_model: dict, *, ncols: int = 3, bins: int = 20,
                    xlabel: str = "fraction explained by best frequency"):
    """Small multiples: for each model, a histogram of per-neuron values in [0, 1] (e.g. the
    fraction explained by the best frequency), with its median as a dashed line and n in the
    title, one panel each on shared axes, coloured by the model's condition."""
    _check_nonempty("fractions_by_model", fractions_by_model)
    data = {m: np.asarray(v, float)[~np.isnan(np.asarray(v, float))] for m, v in fractions_by_model.items()}
    empty = [m for m, v in data.items() if len(v) == 0]
    if empty:
        raise ValueError(f"model(s) {empty} have no values")
    edges = np.linspace(0, 1, bins + 1)
    with style():
        fig, panels = _model_panels(data, ncols)
        for ax, model, v in panels:
            ax.hist(v, bins=edges, color=_family_color(model), alpha=0.85)
            ax.axvline(np.median(v), color="0.15", ls="--", lw=1.2,
                       label=f"median {np.median(v):.2f}")
            ax.legend(loc="upper right", fontsize=8)
            ax.set_title(f"{model} (n = {len(v)})", fontsize=9)
            ax.set_ylabel("neurons (count)", fontsize=8)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.tick_params(labelbottom=True, labelleft=True)
    return _done(fig)


# ----------------------------------------------------------------------------- along training (probes)

# The weight matrices in the figures of movement: a colour per part of the model, a line style per matrix.
MATRIX_STYLES = {
    "embed.W_E": (OKABE_ITO["blue"], "-"), "pos_embed.W_pos": (OKABE_ITO["blue"], "--"),
    "blocks.0.attn.W_Q": (OKABE_ITO["orange"], "-"), "blocks.0.attn.W_K": (OKABE_ITO["orange"], "--"),
    "blocks.0.attn.W_V": (OKABE_ITO["orange"], ":"), "blocks.0.attn.W_O": (OKABE_ITO["orange"], "-."),
    "blocks.0.mlp.W_in": (OKABE_ITO["bluish green"], "-"), "blocks.0.mlp.W_out": (OKABE_ITO["bluish green"], "--"),
    "blocks.0.mlp.b_in": (OKABE_ITO["reddish purple"], "-"), "blocks.0.mlp.b_out": (OKABE_ITO["reddish purple"], "--"),
    "unembed.W_U": (OKABE_ITO["vermillion"], "-"),
}
# Nanda et al.'s phases as shaded spans (light enough that the curves stay readable over them).
PHASE_COLORS = {"memorization": "0.8", "circuit formation": OKABE_ITO["sky blue"], "cleanup": OKABE_ITO["yellow"]}


def epoch_grid(panels: dict, *, rows: list[str], columns: list[str], ylabels: dict, log_y=(), legend: dict | None = None,
               vlines: dict | None = None, spans: dict | None = None, hlines: dict | None = None,
               points: dict | None = None, legend_title: str | None = None):
    """Small multiples against epoch (log scale; epoch 0 left out): one row per measure (``rows``,
    y label from ``ylabels``, log y for those in ``log_y``), one column per group (``columns``:
    conditions or seeds, shared x; y shared within a row). ``panels`` = {(row, column): [(frame
    with columns epoch and value, colour, line style, line width)]}. Optional per panel: ``vlines``
    [(epoch, colour, style)], ``spans`` [(from, to, colour)] shaded, ``points`` [(epoch, value,
    colour, marker)]; per row: ``hlines`` {row: value}. ``legend`` = {label: (colour, style)} goes
    above the panels (a marker style such as "o" draws a marker, a style "span" a shaded patch)."""
    _check_nonempty("panels", panels)
    if not rows or not columns:
        raise ValueError("rows and columns must be non-empty lists")
    unknown = [key for key in panels if not (isinstance(key, tuple) and key[0] in rows and key[1] in columns)]
    if unknown:
        raise ValueError(f"panels {unknown[:3]} are not (row, column) pairs of rows {rows} and columns {columns}")
    missing = [r for r in rows if r not in ylabels]
    if missing:
        raise ValueError(f"ylabels lacks the rows {missing}")
    for key, lines in panels.items():
        for line in lines:
            frame = line[0]
            if not isinstance(frame, pd.DataFrame) or not {"epoch", "value"} <= set(frame.columns):
                raise ValueError(f"panel {key}: each line needs a DataFrame with columns 'epoch' and 'value'")
    with style():
        fig, axes = _new(len(rows), len(columns), sharex=True, sharey="row",
                         figsize=(2.35 * len(columns) + 1.0, 1.75 * len(rows) + 1.1))
        for i, row in enumerate(rows):
            for j, column in enumerate(columns):
                ax, key = axes[i, j], (row, column)
                for start, end, shade in (spans or {}).get(key, []):
                    ax.axvspan(max(start, 1), max(end, 1), color=shade, alpha=0.35, lw=0)
                for frame, colour, ls, lw in panels.get(key, []):
                    f = frame[(frame["epoch"] > 0) & frame["value"].notna()]
                    ax.plot(f["epoch"], f["value"], color=colour, ls=ls, lw=lw)
                for epoch, colour, ls in (vlines or {}).get(key, []):
                    if epoch and epoch > 0:
                        ax.axvline(epoch, color=colour, ls=ls, lw=1.0)
                for epoch, value, colour, marker in (points or {}).get(key, []):
                    if epoch and epoch > 0 and not pd.isna(value):
                        ax.plot([epoch], [value], marker=marker, color=colour, ms=5, ls="", zorder=3)
                if row in (hlines or {}):
                    ax.axhline(hlines[row], color="0.4", lw=0.8, ls="--")
                ax.set_xscale("log")
                if row in log_y:
                    ax.set_yscale("log")
                if i == 0:
                    ax.set_title(str(column), fontsize=9)
                if j == 0:  # wrapped: a long label would run into the next row's
                    ax.set_ylabel(textwrap.fill(str(ylabels[row]), 26), fontsize=8)
                if i == len(rows) - 1:
                    ax.set_xlabel("epoch (log scale)", fontsize=8)
                ax.tick_params(labelsize=7.5)
        if legend:
            handles = []
            for label, (colour, ls) in legend.items():
                if ls == "span":
                    handles.append(Patch(color=colour, alpha=0.35, label=label))
                elif ls in ("o", "s", "^", "D", "v"):
                    handles.append(Line2D([], [], marker=ls, ls="", color=colour, label=label))
                else:
                    handles.append(Line2D([], [], color=colour, ls=ls, label=label))
            fig.legend(handles=handles, loc="outside upper center", ncols=min(4, len(columns) + 1, len(handles)), fontsize=8,
                       title=legend_title, title_fontsize=8)
    return _done(fig)


# ----------------------------------------------------------------------------- what carries the transfer

def _condition_axis(ax, conditions, xlabel: str = "initial weights"):
    ax.set_xticks(range(len(conditions)), [wrapped(c) for c in conditions], fontsize=TICK_FONT)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", visible=False)


def _need(table, columns, name: str) -> None:
    missing = sorted(set(columns) - set(getattr(table, "columns", [])))
    if not isinstance(table, pd.DataFrame) or missing or len(table) == 0:
        raise ValueError(f"{name} must be a non-empty DataFrame with columns {sorted(columns)}; missing {missing}")


def speedup_points(points: pd.DataFrame, summary: pd.DataFrame, *, reference: str, ylabel: str):
    """Speed-ups over ``reference`` per condition (x): one dot per seed (``points``: condition, seed,
    ratio, bound; a triangle where the ratio is a bound, pointing the way the true value lies) and
    the geometric mean with its interval (``summary``: condition, estimate, ci_low, ci_high); a line
    at 1 (as fast as the reference); log y axis."""
    _need(points, {"condition", "seed", "ratio", "bound"}, "points")
    _need(summary, {"condition", "estimate", "ci_low", "ci_high"}, "summary")
    conditions = list(summary["condition"])
    rng = np.random.default_rng(0)
    with style():
        fig, axes = _new(figsize=(0.85 * len(conditions) + 2.0, 4.2))
        ax = axes[0, 0]
        for i, c in enumerate(conditions):
            rows = points[points["condition"] == c]
            for bound, marker in ((None, "o"), (">=", "^"), ("<=", "v")):
                part = rows[rows["bound"].isna()] if bound is None else rows[rows["bound"] == bound]
                if len(part):
                    ax.scatter(i - 0.15 + rng.uniform(-0.07, 0.07, len(part)), part["ratio"], marker=marker, s=26,
                               color=_family_color(c), zorder=3, edgecolor="white", lw=0.5)
            s = summary[summary["condition"] == c].iloc[0]
            if np.isfinite(s["estimate"]):
                low, high = s["ci_low"], s["ci_high"]
                if np.isfinite(low) and np.isfinite(high):
                    ax.errorbar([i + 0.15], [s["estimate"]], yerr=[[s["estimate"] - low], [high - s["estimate"]]],
                                fmt="none", ecolor="0.15", capsize=4, lw=1.2)
                ax.scatter([i + 0.15], [s["estimate"]], marker="D", s=34, color="0.15", zorder=4)
        ax.axhline(1.0, color="0.4", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_ylabel(ylabel + " (log scale)")
        _condition_axis(ax, conditions)
        handles = [Line2D([], [], marker="o", ls="", color="0.4", label="one seed"),
                   Line2D([], [], marker="^", ls="", color="0.4", label="one seed, at least (random init censored)"),
                   Line2D([], [], marker="v", ls="", color="0.4", label="one seed, at most (this run censored)"),
                   Line2D([], [], marker="D", ls="", color="0.15", label="geometric mean with its interval"),
                   Line2D([], [], ls="--", color="0.4", label=f"as fast as {reference}")]
        fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return _done(fig)


def ablation_null_panels(draws: pd.DataFrame, conditions, *, ylabel: str = "loss after ablation"):
    """Key-frequency ablation against its null, one panel per place of ablation (``where``): per
    condition (x) and seed (side by side), the loss with the seed's key frequencies removed (a
    marker in the condition's colour), with as many random frequencies removed (grey dots, one
    per draw) and intact (a black dash); log y axis. ``draws``: the rows of
    ``ablation.key_frequency_ablation`` with seed and condition."""
    _need(draws, {"seed", "condition", "where", "ablated", "loss"}, "draws")
    conditions = [c for c in conditions if (draws["condition"] == c).any()]
    if not conditions:
        raise ValueError(f"none of the conditions is in draws; it has {list(pd.unique(draws['condition']))}")
    places = list(pd.unique(draws["where"]))
    seeds = list(pd.unique(draws["seed"]))
    offsets = np.linspace(-0.3, 0.3, len(seeds)) if len(seeds) > 1 else np.zeros(1)
    floor = max(float(draws["loss"][draws["loss"] > 0].min()) if (draws["loss"] > 0).any() else 1e-12, 1e-12)
    with style():
        fig, axes = _new(len(places), 1, sharex=True, figsize=(0.85 * len(conditions) + 2.0, 3.0 * len(places) + 0.8))
        for ax, where in zip(axes[:, 0], places):
            for i, c in enumerate(conditions):
                for offset, seed in zip(offsets, seeds):
                    rows = draws[(draws["condition"] == c) & (draws["seed"] == seed) & (draws["where"] == where)]
                    x = i + offset
                    null = rows[rows["ablated"] == "random"]["loss"].clip(lower=floor)
                    ax.scatter(np.full(len(null), x), null, s=6, color="0.6", alpha=0.5, lw=0, zorder=2)
                    for kind, marker, size, tone in (("key", "o", 30, _family_color(c)), ("none", "_", 60, "0.1")):
                        value = rows[rows["ablated"] == kind]["loss"].clip(lower=floor)
                        ax.scatter([x] * len(value), value, marker=marker, s=size, color=tone, zorder=3)
            ax.set_yscale("log")
            ax.set_ylabel(f"{ylabel}\n(log scale)")
            ax.set_title(f"key frequencies removed from the {where}")
            ax.grid(axis="x", visible=False)
        _condition_axis(axes[-1, 0], conditions)
        handles = [Line2D([], [], marker="o", ls="", color="0.3", label="key frequencies (one per seed)"),
                   Line2D([], [], marker="o", ls="", ms=3, color="0.6", label="random frequencies (one per draw)"),
                   Line2D([], [], marker="_", ls="", ms=8, color="0.1", label="intact")]
        fig.legend(handles=handles, loc="outside upper center", ncols=3)
    return _done(fig)


SIGN_COLUMNS = {"cos_similarity_cos": ("cos part", "o", -0.17), "cos_similarity_sin": ("sin part", "^", 0.17)}


SIGN_PANELS = {"b vs a": "operand b against operand a, within the model",
               "a vs source": "operand a against the grokked source's operand a",
               "b vs source": "operand b against the grokked source's operand b"}


def sign_flip_panels(flips: pd.DataFrame, conditions):
    """The sign-flip statistic, one panel per comparison (``comparison``: b vs a within the model, a
    and b against the grokked source): per condition (x), the cosine similarity of the cos part
    (circles, left) and of the sin part (triangles, right) of what an operand adds to the neurons,
    one dot per seed and key frequency; y from -1 (flipped) to 1 (kept)."""
    _need(flips, {"condition", "comparison", *SIGN_COLUMNS}, "flips")
    conditions = [c for c in conditions if (flips["condition"] == c).any()]
    if not conditions:
        raise ValueError(f"none of the conditions is in flips; it has {list(pd.unique(flips['condition']))}")
    panels = [c for c in SIGN_PANELS if (flips["comparison"] == c).any()]
    rng = np.random.default_rng(0)
    with style():
        fig, axes = _new(len(panels), 1, sharex=True, figsize=(0.85 * len(conditions) + 2.0, 2.9 * len(panels) + 0.6))
        for ax, comparison in zip(axes[:, 0], panels):
            for i, c in enumerate(conditions):
                rows = flips[(flips["condition"] == c) & (flips["comparison"] == comparison)]
                for column, (_, marker, offset) in SIGN_COLUMNS.items():
                    ax.scatter(i + offset + rng.uniform(-0.05, 0.05, len(rows)), rows[column], marker=marker, s=16,
                               color=_family_color(c), alpha=0.8, lw=0, zorder=3)
            ax.axhline(0, color="0.4", lw=0.8)
            ax.set_ylim(-1.08, 1.08)
            ax.set_ylabel("cosine similarity")
            ax.set_title(SIGN_PANELS[comparison])
            ax.grid(axis="x", visible=False)
        _condition_axis(axes[-1, 0], conditions)
        handles = [Line2D([], [], marker=marker, ls="", color="0.3", label=f"{label} of a key frequency")
                   for label, marker, _ in SIGN_COLUMNS.values()]
        fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return _done(fig)


HEAD_READS_COLORS = {"a": OKABE_ITO["sky blue"], "b": OKABE_ITO["reddish purple"], "both or neither": "0.55"}


def head_importance_points(heads: pd.DataFrame, conditions):
    """Head importance per condition (x): the loss increase when one head's output at "=" is
    replaced by its mean, one dot per head and seed, coloured by the operand the head reads
    (``reads``: a, b, both or neither); symmetric log y axis (an increase can be slightly negative)."""
    _need(heads, {"condition", "loss increase", "reads"}, "heads")
    conditions = [c for c in conditions if (heads["condition"] == c).any()]
    if not conditions:
        raise ValueError(f"none of the conditions is in heads; it has {list(pd.unique(heads['condition']))}")
    rng = np.random.default_rng(0)
    with style():
        fig, axes = _new(figsize=(0.85 * len(conditions) + 2.0, 4.2))
        ax = axes[0, 0]
        for i, c in enumerate(conditions):
            rows = heads[heads["condition"] == c]
            ax.scatter(i + rng.uniform(-0.25, 0.25, len(rows)), rows["loss increase"], s=18, zorder=3,
                       color=[HEAD_READS_COLORS.get(r, "0.55") for r in rows["reads"]], edgecolor="white", lw=0.4)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_ylabel("loss increase when the head is\nmean-ablated (symmetric log scale)")
        _condition_axis(ax, conditions)
        handles = [Line2D([], [], marker="o", ls="", color=tone, label=f"head reads {reads}")
                   for reads, tone in HEAD_READS_COLORS.items()]
        fig.legend(handles=handles, loc="outside upper center", ncols=3)
    return _done(fig)


def loss_floor_curve(curve: pd.DataFrame, floor: float):
    """Training loss against epoch (log scales, epoch 0 left out) with the data's loss floor dashed."""
    _need(curve, {"epoch", "train_loss"}, "curve")
    with style():
        fig, axes = _new()
        ax = axes[0, 0]
        shown = curve[curve["epoch"] > 0]
        ax.plot(shown["epoch"], shown["train_loss"], color=color("grokked"), label="training loss")
        ax.axhline(floor, color="0.3", ls="--", lw=1, label=f"loss floor of the data ({floor:.3g} nats)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("epoch (log scale)")
        ax.set_ylabel("training loss (nats, log scale)")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return _done(fig)
