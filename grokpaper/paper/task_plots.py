"""Figures of the task-token chapters (13-16) that the main study has no use for, in the paper's
style (``plots``): kept apart so that the main chapters' code, and with it their executed build,
does not change when these do."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from grokpaper.paper.plots import _condition_axis, _done, _family_color, _need, _new, speedup_points, style
from grokpaper.paper.task_tokens import target_name


def speedup_by_target(points: pd.DataFrame, summary: pd.DataFrame, *, reference: str, ylabel: str):
    """``plots.speedup_points`` with one target task per x position (``points`` and ``summary`` by
    target in their ``condition`` column), named by ``task_tokens.TARGET_NAMES``, on an axis called 'target task'."""
    def named(table: pd.DataFrame) -> pd.DataFrame:
        return table.assign(condition=table["condition"].map(target_name))
    fig = speedup_points(named(points), named(summary), reference=reference, ylabel=ylabel)
    fig.axes[0].set_xlabel("target task")
    return fig


def frequency_overlap(points: pd.DataFrame, targets, conditions, *, labels: dict | None = None):
    """Frequency reuse per target (x, in the order given): for each initial weights (side by side,
    in its colour) one dot per seed at the share of the source's key frequencies found again at the
    target's token, a bar at their mean, and a black dash at what chance gives (``points``:
    ``task_tokens.overlap_points``; the dash is the mean over seeds of each seed's chance share)."""
    _need(points, {"target", "condition", "seed", "share", "chance"}, "points")
    labels = labels or {}
    rng = np.random.default_rng(0)
    width = 0.8 / max(len(conditions), 1)
    with style():
        fig, axes = _new(figsize=(1.3 * len(targets) + 2.0, 3.8))
        ax = axes[0, 0]
        for j, condition in enumerate(conditions):
            offset = (j - (len(conditions) - 1) / 2) * width
            for i, target in enumerate(targets):
                rows = points[(points["target"] == target) & (points["condition"] == condition)]
                if not len(rows):
                    continue
                x = i + offset
                ax.bar([x], [rows["share"].mean()], width=0.85 * width, color=_family_color(condition), alpha=0.35)
                ax.scatter(x + rng.uniform(-0.2, 0.2, len(rows)) * width, rows["share"], s=18,
                           color=_family_color(condition), zorder=3, edgecolor="white", lw=0.5)
                ax.hlines(rows["chance"].mean(), x - 0.4 * width, x + 0.4 * width, color="0.1", lw=1.6, zorder=4)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("share of the source's key\nfrequencies found again")
        _condition_axis(ax, [target_name(t) for t in targets], xlabel="target task")
        handles = [Line2D([], [], marker="o", ls="", color=_family_color(c), label=labels.get(c, c)) for c in conditions]
        handles.append(Line2D([], [], color="0.1", lw=1.6, label="chance (same number of frequencies at random)"))
        fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return _done(fig)


def no_data(message: str):
    """A figure that says why it has nothing to show (``message``), for a labelled figure whose data
    a build lacks (a small profile's runs that never reached the threshold): the label keeps an
    output, so the article's embed of it still builds, and the reader sees why it is empty."""
    with style():
        fig, axes = _new(figsize=(6.0, 1.2))
        ax = axes[0, 0]
        ax.axis("off")
        ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes)
    return _done(fig)
