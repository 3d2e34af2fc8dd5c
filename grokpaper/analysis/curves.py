"""Metrics read off learning curves (protocol items 2 and 7).

A learning curve is a pandas DataFrame with columns ``epoch, train_loss, train_acc,
test_loss, test_acc``, one row per evaluation (epoch 0 = the initial model, the last row =
the final state). Accuracies are fractions in [0, 1]. Each function checks only the
columns it reads, so a curve holding ``epoch`` and one metric also works.

"Never reached" is returned as ``None``: ``grokpaper.analysis.stats`` treats ``None`` as a value
censored at the run's cap, and reports it rather than dropping it.

Threshold comparisons. An accuracy is ``k / n`` (k correct of n examples) but arrives as a
float, often computed in float32, where ``9 / 10`` is ``0.89999998``. A plain
``acc >= 0.9`` would then miss a run that is exactly at 90 %. We therefore compare
``acc >= threshold - ACC_TOL`` with ``ACC_TOL = 5e-8``: above float32's rounding of any
``k / n`` in [0.5, 1] (at most 2**-25 = 3.0e-8), and below the smallest possible gap
between ``k / n`` and a threshold with <= 3 decimals (``1 / (1000 n)``, >= 7.8e-8 for
n <= 12,769 = 113**2), so it can never let one example too few count as reached. Pass
``n_examples`` to compare exact counts instead (``round(acc * n) >= threshold * n``): e.g.
0.999 with n = 8939 means at least 8931 correct, at most 8 errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CURVE_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")
ACC_TOL = 5e-8


# ----------------------------------------------------------------------------- checks

def _check_curve(curve, *metrics: str) -> pd.DataFrame:
    """One clear ValueError for a curve that cannot be read, before anything is computed."""
    if not isinstance(curve, pd.DataFrame):
        raise ValueError(f"curve must be a pandas DataFrame with columns {list(CURVE_COLUMNS)}; "
                         f"got {type(curve).__name__}")
    missing = [c for c in ("epoch", *metrics) if c not in curve.columns]
    if missing:
        raise ValueError(f"curve is missing column(s) {missing}; it has {list(curve.columns)} "
                         f"(expected {list(CURVE_COLUMNS)})")
    if len(curve) == 0:
        raise ValueError("curve is empty: it needs at least one evaluated epoch")
    epochs = curve["epoch"].to_numpy()
    if np.isnan(epochs.astype(float)).any():
        raise ValueError("curve column 'epoch' contains NaN")
    if len(epochs) > 1 and not (np.diff(epochs) > 0).all():
        raise ValueError("curve column 'epoch' must be strictly increasing (one row per evaluation)")
    for m in metrics:
        values = curve[m].to_numpy(dtype=float)
        if np.isnan(values).any():
            bad = curve["epoch"].to_numpy()[np.isnan(values)]
            raise ValueError(f"curve column {m!r} is NaN at epoch(s) {bad[:5].tolist()}")
    return curve


def _check_threshold(threshold) -> float:
    if not isinstance(threshold, (int, float, np.floating, np.integer)) or isinstance(threshold, bool) \
            or not (0 < float(threshold) <= 1):
        raise ValueError(f"threshold must be an accuracy fraction in (0, 1], got {threshold!r} "
                         "(write 99.9 % as 0.999)")
    return float(threshold)


def _check_positive(name: str, value) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool) \
            or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def _reached(values: np.ndarray, threshold: float, n_examples: int | None) -> np.ndarray:
    """Boolean mask: which accuracies are at or above the threshold (see module docstring)."""
    if n_examples is None:
        return values >= threshold - ACC_TOL
    correct = np.rint(values * n_examples)
    # threshold * n carries float error ~1e-12; correct is an integer, so 1e-6 is exact.
    return correct >= threshold * n_examples - 1e-6


# ----------------------------------------------------------------------------- thresholds

def epochs_to_threshold(curve: pd.DataFrame, threshold: float, metric: str = "test_acc",
                        sustained: bool = False, n_examples: int | None = None) -> int | None:
    """Epoch at which ``metric`` first reaches ``threshold`` (or, with ``sustained=True``, the
    first epoch from which it stays >= threshold through the last row); None if never.

    Only evaluated epochs count, so the answer is accurate to the evaluation interval.
    Comparison tolerance: see the module docstring (``ACC_TOL``, ``n_examples``).
    """
    threshold = _check_threshold(threshold)
    if n_examples is not None and (not isinstance(n_examples, (int, np.integer)) or n_examples < 1):
        raise ValueError(f"n_examples must be a positive integer or None, got {n_examples!r}")
    curve = _check_curve(curve, metric)
    epochs = curve["epoch"].to_numpy()
    ok = _reached(curve[metric].to_numpy(dtype=float), threshold, n_examples)
    if not sustained:
        hits = np.flatnonzero(ok)
        return int(epochs[hits[0]]) if len(hits) else None
    if not ok[-1]:
        return None
    below = np.flatnonzero(~ok)
    return int(epochs[below[-1] + 1]) if len(below) else int(epochs[0])


def value_at_epoch(curve: pd.DataFrame, epoch: int, metric: str = "test_acc") -> float:
    """The metric's value in the row evaluated at exactly ``epoch`` (ValueError if that epoch
    was not evaluated: we never interpolate)."""
    curve = _check_curve(curve, metric)
    rows = curve.index[curve["epoch"] == epoch]
    if len(rows) == 0:
        epochs = curve["epoch"].to_numpy()
        nearest = epochs[np.argsort(np.abs(epochs - epoch))[:2]]
        raise ValueError(f"epoch {epoch} was not evaluated in this curve (epochs "
                         f"{int(epochs[0])}..{int(epochs[-1])}; nearest evaluated: "
                         f"{sorted(int(e) for e in nearest)})")
    return float(curve.loc[rows[0], metric])


def final_value(curve: pd.DataFrame, metric: str = "test_acc") -> float:
    """The metric in the last row (the final state of the run)."""
    curve = _check_curve(curve, metric)
    return float(curve[metric].iloc[-1])


# ----------------------------------------------------------------------------- dynamics

def largest_jumps(curve: pd.DataFrame, k: int = 5, metric: str = "test_acc") -> pd.DataFrame:
    """The ``k`` largest increases of ``metric`` between two consecutive evaluations.

    One row per jump, largest first (ties: earlier first): ``from_epoch, epoch`` (the
    evaluation where the new value is first seen), ``before, after, jump = after - before``.
    Only increases (jump > 0) are listed; fewer than k rows if there are fewer.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    curve = _check_curve(curve, metric)
    epochs = curve["epoch"].to_numpy()
    values = curve[metric].to_numpy(dtype=float)
    table = pd.DataFrame({"from_epoch": epochs[:-1], "epoch": epochs[1:],
                          "before": values[:-1], "after": values[1:],
                          "jump": np.diff(values)})
    table = table[table["jump"] > 0]
    table = table.sort_values(["jump", "epoch"], ascending=[False, True], kind="stable")
    return table.head(k).reset_index(drop=True)


def collapses(curve: pd.DataFrame, drop: float = 0.05, after_reaching: float = 0.99,
              metric: str = "test_acc") -> pd.DataFrame:
    """Collapses: falls of ``metric`` by more than ``drop`` once it has reached ``after_reaching``.

    Once the metric is >= ``after_reaching`` we track its running peak; a collapse starts at
    the first evaluation more than ``drop`` below that peak and lasts until the metric is
    back at >= ``after_reaching`` (the recovery), after which a new collapse can start.
    One row per collapse: ``start_epoch, peak, min_epoch, min_value, drop = peak - min_value,
    recovery_epoch`` (None if it never recovered) and ``epochs_to_recover``.
    """
    _check_positive("drop", drop)
    after_reaching = _check_threshold(after_reaching)
    curve = _check_curve(curve, metric)
    epochs = curve["epoch"].to_numpy()
    values = curve[metric].to_numpy(dtype=float)
    high = values >= after_reaching - ACC_TOL
    events, peak, current = [], None, None
    for epoch, value, is_high in zip(epochs, values, high):
        if current is not None:                      # inside a collapse
            if value < current["min_value"]:
                current.update(min_value=float(value), min_epoch=int(epoch))
            if is_high:
                current["recovery_epoch"] = int(epoch)
                events.append(current)
                current, peak = None, float(value)
            continue
        if peak is None:                             # not yet reached the level
            if is_high:
                peak = float(value)
            continue
        if value < peak - drop:                      # collapse starts here
            current = {"start_epoch": int(epoch), "peak": peak, "min_epoch": int(epoch),
                       "min_value": float(value), "recovery_epoch": None}
        else:
            peak = max(peak, float(value))
    if current is not None:
        events.append(current)
    columns = ["start_epoch", "peak", "min_epoch", "min_value", "drop", "recovery_epoch",
               "epochs_to_recover"]
    for e in events:
        e["drop"] = e["peak"] - e["min_value"]
        e["epochs_to_recover"] = (None if e["recovery_epoch"] is None
                                  else e["recovery_epoch"] - e["start_epoch"])
    return pd.DataFrame(events, columns=columns).astype(
        {"recovery_epoch": object, "epochs_to_recover": object})


def early_late_gains(curve: pd.DataFrame, early_epochs: int, late_epochs: int,
                     metric: str = "test_acc") -> dict:
    """Change of ``metric`` over the first ``early_epochs`` and over the last ``late_epochs``.

    Early: value at the last evaluation <= first epoch + early_epochs, minus the first value.
    Late: final value minus the value at the last evaluation <= final epoch - late_epochs
    (so the window spans at least ``late_epochs``; the whole curve if it is shorter).
    Returns the epochs actually used (``early_from, early_to, late_from, late_to``) and the
    gains, so a window clipped by a short curve is visible.
    """
    _check_positive("early_epochs", early_epochs)
    _check_positive("late_epochs", late_epochs)
    curve = _check_curve(curve, metric)
    epochs = curve["epoch"].to_numpy()
    values = curve[metric].to_numpy(dtype=float)
    i_early = int(np.searchsorted(epochs, epochs[0] + early_epochs, side="right")) - 1
    i_late = max(int(np.searchsorted(epochs, epochs[-1] - late_epochs, side="right")) - 1, 0)
    return {"metric": metric,
            "early_from": int(epochs[0]), "early_to": int(epochs[i_early]),
            "early_gain": float(values[i_early] - values[0]),
            "late_from": int(epochs[i_late]), "late_to": int(epochs[-1]),
            "late_gain": float(values[-1] - values[i_late])}
