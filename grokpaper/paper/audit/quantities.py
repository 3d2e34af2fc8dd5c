"""What a claim is compared against: each quantity reads the per-run evidence (or the family of
tests) and gives the run values or the estimate a rule judges. ``QUANTITIES`` names them for
``claims.yaml``; a quantity's keyword arguments are the fields its ``of`` may set."""

from __future__ import annotations

import inspect
import math

import pandas as pd

from grokpaper.analysis import stats
from grokpaper.analysis.stats import is_missing
from grokpaper.paper import inference
from grokpaper.paper.audit.consistency import param_count
from grokpaper.paper.audit.estimates import Estimate, RunValues
from grokpaper.paper.document import DOC_P
from grokpaper.paper.evidence import Evidence

SHARE = (0.0, 1.0)
EPOCHS = (0.0, math.inf)
# Units and ranges of the per-run columns the claims read (anything else: a plain value).
COLUMN_UNITS = {
    "test acc at 100": ("share", SHARE), "final test acc": ("share", SHARE),
    "source_acc_test": ("share", SHARE), "source_acc_distinct_test": ("share", SHARE),
    "transfer_acc_test": ("share", SHARE), "source_excess_test": ("fraction", (-1.0, 1.0)),
    "agreement_test": ("share", SHARE), "mean frac": ("share", SHARE), "jaccard": ("share", SHARE),
    "memorized test acc": ("share", SHARE), "fixed-epoch test acc": ("share", SHARE),
    "largest jump": ("fraction", (-1.0, 1.0)), "early gain": ("fraction", (-1.0, 1.0)),
    "late gain": ("fraction", (-1.0, 1.0)), "top freq": ("frequency", (1.0, math.inf)),
    "distinct freqs >= min": ("count", (0.0, math.inf)), "distinct freqs": ("count", (0.0, math.inf)),
    "shared with source": ("count", (0.0, math.inf)), "memorized epoch": ("epochs", EPOCHS),
    "largest jump at": ("epochs", EPOCHS),
}


def _column_unit(column: str, evidence: Evidence) -> tuple[str, tuple]:
    if column.startswith(("first ", "sustained ", "test ")) and column.endswith(("%", "% at")):
        return "epochs", EPOCHS
    if column == "n > 0.5":  # a count of MLP neurons: at most d_mlp of them
        return "count", (0.0, float(evidence.params.get("d_mlp", math.inf)))
    return COLUMN_UNITS.get(column, ("value", (-math.inf, math.inf)))


def _rows(evidence: Evidence, table: str, column: str, **where) -> pd.DataFrame:
    frame = evidence.table(table)
    if column not in frame:
        raise KeyError(f"{table}: no column {column!r}")
    for key, value in where.items():
        if value is not None:
            frame = frame[frame[key] == value]
    return frame


def _run_values(evidence: Evidence, table: str, column: str, label_of, what: str, items: str = "runs",
                censorable: bool = False, **where) -> RunValues:
    rows = _rows(evidence, table, column, **where)
    unit, bounds = _column_unit(column, evidence)
    if unit == "epochs":  # no run trains past its cap, so neither can a mean of its epochs
        cap_key = "grokked_max_epochs" if table == "sources" else "transfer_max_epochs"
        bounds = (0.0, float(evidence.params.get(cap_key, math.inf)))
    values = tuple((label_of(row), None if is_missing(row[column]) else float(row[column])) for _, row in rows.iterrows())
    return RunValues(what, values, unit, evidence.cap if censorable else None, bounds, items)


def q_transfer(ev: Evidence, family, column: str, condition: str | None = None) -> RunValues:
    """Per transfer run (of one condition, or all): a column of the transfer table (02)."""
    censorable = column.startswith(("first ", "sustained "))
    return _run_values(ev, "transfers", column, lambda r: f"{r['condition']} seed {r['seed']}",
                       f"{condition or 'all'} transfer runs: {column}", censorable=censorable, condition=condition)


def q_source(ev: Evidence, family, column: str) -> RunValues:
    """Per source run: a column of the source table (01)."""
    return _run_values(ev, "sources", column, lambda r: f"source seed {r['seed']}", f"source runs: {column}")


def q_retention(ev: Evidence, family, column: str, model: str | None = None, role: str | None = None) -> RunValues:
    """Per model: a column of the retention table (03), of one model kind or one role."""
    return _run_values(ev, "retention", column, lambda r: f"{r['model']} seed {r['seed']}",
                       f"{model or role} models: {column}", model=model, role=role)


def q_agreement(ev: Evidence, family, column: str) -> RunValues:
    """Per pair of transfer runs of one seed: a column of the agreement table (04)."""
    return _run_values(ev, "agreement", column, lambda r: f"{r['model_a']} vs {r['model_b']} seed {r['seed']}",
                       f"pairs of runs: {column}", items="pairs of runs")


def q_circuit(ev: Evidence, family, column: str, model: str) -> RunValues:
    """Per model of one kind: a column of the neuron-method circuit table (05)."""
    return _run_values(ev, "circuits", column, lambda r: f"{r['model']} seed {r['seed']}",
                       f"{model} models: {column}", items="models", model=model)


def q_inside_circuit(ev: Evidence, family, column: str, condition: str, point: str) -> RunValues:
    """Per transfer run of one condition: a circuit column of chapter 10's table at one point of the
    run (start: its initial weights, matched: its first evaluation at the top threshold, end)."""
    return _run_values(ev, "inside", column, lambda r: f"{r['condition']} seed {r['seed']} ({point})",
                       f"{condition} models at the {point}: {column}", items="models", condition=condition, point=point)


def q_dynamics(ev: Evidence, family, column: str, condition: str) -> RunValues:
    """Per transfer run of one condition: a column of the dynamics table (07)."""
    return _run_values(ev, "dynamics", column, lambda r: f"{r['condition']} seed {r['seed']}",
                       f"{condition} transfer runs: {column}", condition=condition)


def q_speedup(ev: Evidence, family, column: str, numerator: str, denominator: str) -> Estimate:
    """The per-seed paired ratio of epochs numerator / denominator (geometric mean, t-interval
    of the log ratios); censored numerators counted at the cap make it a lower bound."""
    r = inference.paired_ratio(ev, column, numerator, denominator, ev.confidence)
    bound = "lower" if r["bound"] == "lower" else None
    if r["bound"] in ("upper", "mixed"):
        return Estimate(f"{numerator} / {denominator}", None, unit="ratio", note=r["note"], confidence=ev.confidence)
    return Estimate(f"{numerator} / {denominator} epochs to {column.split(' ', 1)[1]}", r["geometric_mean"],
                    r["ci_low"], r["ci_high"], n=r["n_pairs"], unit="ratio", bound=bound,
                    method="geometric mean of paired ratios", note=r["note"], confidence=ev.confidence)


def q_paired_difference(ev: Evidence, family, table: str, column: str, a: str, b: str) -> Estimate:
    """The mean per-seed difference a - b of a column, with its t-interval."""
    r = inference.paired_difference(ev, table, column, a, b, ev.confidence)
    unit, _ = _column_unit(column, ev)
    return Estimate(f"{a} - {b}: {column}", r["mean"], r["ci_low"], r["ci_high"], n=r["n"],
                    unit="fraction" if unit == "share" else unit, method="paired t-interval", note=r["note"],
                    confidence=ev.confidence)


def q_family_test(ev: Evidence, family: pd.DataFrame, test: str) -> Estimate:
    """One test of the paper's family (``inference.family``): effect, interval, p and Holm p."""
    if family is None:
        raise KeyError("the statistics family could not be computed (a chapter has no results)")
    rows = family[family["test"] == test]
    if not len(rows):
        raise KeyError(f"no test {test!r} in the family")
    r = rows.iloc[0]
    unit = {"ratio": "ratio", "difference": "fraction", "rho": "value"}.get(r["effect"], "value")
    # A censored test's bound ("lower", "upper", or "mixed": censored runs on both sides) goes with
    # it: a rule may not read a side the censoring leaves open.
    bound = r["bound"] if r["bound"] in ("lower", "upper", "mixed") else None
    return Estimate(test, r["estimate"], r["ci_low"], r["ci_high"], n=int(r["n"]), unit=unit,
                    bound=bound, method=r["method"], note=r["note"] or "",
                    p=r["p"], p_holm=r["p_holm"], family_size=inference.family_size(family), null=r["null"],
                    confidence=ev.confidence)


def q_correlation(ev: Evidence, family: pd.DataFrame, test: str) -> Estimate:
    """A correlation of the family, as an estimate (rho with its interval)."""
    e = q_family_test(ev, family, test)
    return Estimate(e.what, e.value, e.ci_low, e.ci_high, n=e.n, unit="value", method=e.method, note=e.note,
                    confidence=e.confidence)


def q_abs_z(ev: Evidence, family, column: str) -> RunValues:
    """|z| (ddof 1) of every transfer run's value within its condition (censored runs left out)."""
    out = []
    frame = ev.table("transfers")
    for condition, rows in frame.groupby("condition", sort=False):
        values = rows[column].astype(float)
        ok = values.notna()
        if ok.sum() >= 2 and values[ok].std(ddof=1) > 0:
            z = (values[ok] - values[ok].mean()) / values[ok].std(ddof=1)
            out += [(f"{condition} seed {s}", abs(float(v))) for s, v in zip(rows.loc[ok, "seed"], z)]
    return RunValues(f"|z| within condition: {column}", tuple(out), "z")


def q_shapiro_p(ev: Evidence, family, column: str) -> RunValues:
    """The Shapiro-Wilk p of each condition's values (censored runs left out)."""
    out = []
    for condition, rows in ev.table("transfers").groupby("condition", sort=False):
        r = stats.shapiro([None if is_missing(v) else float(v) for v in rows[column]], name=condition)
        out.append((condition, None if is_missing(r["p"]) else r["p"]))
    return RunValues(f"Shapiro-Wilk p per condition: {column}", tuple(out), "p", items="conditions")


def q_param_count(ev: Evidence, family) -> Estimate:
    """Parameters of the model at the document's p = 113."""
    return Estimate("parameters at p = 113", float(param_count(DOC_P)), n=1, unit="count")


def q_vocab_size(ev: Evidence, family) -> Estimate:
    """Tokens: the p numbers and "=" (p + 1)."""
    return Estimate("p + 1 tokens", float(DOC_P + 1), n=1, unit="count")


def q_split_size(ev: Evidence, family, part: str) -> Estimate:
    """Train pairs (the original code's int(0.3 p^2)) or test pairs of the document's split."""
    n_train = int(0.3 * DOC_P ** 2)
    return Estimate(f"{part} pairs at p = {DOC_P}", float(n_train if part == "train" else DOC_P ** 2 - n_train),
                    n=1, unit="count")


def q_chance(ev: Evidence, family) -> Estimate:
    """The chance level 1/p at p = 113."""
    return Estimate("1/p", 1 / DOC_P, n=1, unit="share")


QUANTITIES = {
    "transfer": q_transfer, "source": q_source, "retention": q_retention, "agreement": q_agreement,
    "circuit": q_circuit, "inside_circuit": q_inside_circuit, "dynamics": q_dynamics, "speedup": q_speedup, "paired_difference": q_paired_difference,
    "family_test": q_family_test, "correlation": q_correlation, "abs_z": q_abs_z, "shapiro_p": q_shapiro_p,
    "param_count": q_param_count, "vocab_size": q_vocab_size, "split_size": q_split_size, "chance": q_chance,
}




def quantity_fields(name: str) -> tuple[str, ...]:
    """The fields a claim's ``of`` may set for quantity ``name``: its keyword arguments."""
    signature = inspect.signature(QUANTITIES[name])
    return tuple(list(signature.parameters)[2:])  # after (evidence, family)


# Quantities that read the family of tests or the document's setup, not runs: a claim about one
# seed cannot use them (the family is computed over every seed).
NOT_PER_SEED = ("family_test", "correlation", "abs_z", "shapiro_p", "param_count", "vocab_size", "split_size", "chance")
