"""Checks of a claim against what the design document itself states (``grokpaper.paper.document``):
a claim that contradicts the document's own setup is "inconsistent within the document"."""

from __future__ import annotations

import math

from grokpaper.core.model import ModelConfig
from grokpaper.paper.audit.printed import parse_printed
from grokpaper.paper.document import DOC_EPOCH_BUDGET, DOC_METHOD_UNITS, DOC_P, DOC_SEEDS


def param_count(p: int) -> int:
    """Parameters of the study's model at modulus p."""
    return sum(math.prod(shape) for shape in ModelConfig(p=p).param_shapes().values())


def architecture_params(claimed: str) -> str | None:
    """Inconsistent when the claimed parameter count is not that of the architecture the document
    states (d_model 128, 4 heads, d_mlp 512, 3 positions, 114 tokens, untied embed/unembed)."""
    x, n = parse_printed(claimed), param_count(DOC_P)
    if abs(n - x.value) > x.tolerance:
        return f"the architecture the document states has {n:,} parameters at p = {DOC_P}, not {claimed}"
    return None


def exceeds_budget(epochs: float, what: str = "", budget: float = DOC_EPOCH_BUDGET) -> str | None:
    """Inconsistent when a claimed epoch count exceeds the training length the document states."""
    if epochs > budget:
        head = what or f"{epochs:,.0f} epochs"
        return f"{head} beyond the document's own {budget:,.0f}-epoch training runs"
    return None


def df_impossible(df: float, n_per_group: int = len(DOC_SEEDS)) -> str | None:
    """Inconsistent when a two-group t-test with n seeds per group cannot have this df
    (it lies between n - 1, paired, and 2n - 2, pooled)."""
    lo, hi = n_per_group - 1, 2 * n_per_group - 2
    if not lo <= df <= hi:
        return f"t({df:g}) with {n_per_group} seeds per group: a t-test then has df between {lo} and {hi}"
    return None


def vacuous_z(threshold: float, n: int = len(DOC_SEEDS)) -> str | None:
    """Inconsistent (cannot fail) when no z-score (ddof 1) among n values can exceed the threshold."""
    bound = (n - 1) / math.sqrt(n)
    if bound <= threshold:
        return f"with n = {n} no |z| can exceed (n - 1)/sqrt(n) = {bound:.2f} < {threshold:g}: the check cannot fail"
    return None


def overlap_mismatch(set_a, set_b, shared: int, of: int) -> str | None:
    """Inconsistent when 'shared / of' does not follow from the two listed frequency sets."""
    n_shared, union = len(set(set_a) & set(set_b)), len(set(set_a) | set(set_b))
    if (n_shared, union) != (shared, of):
        return (f"the listed sets share {n_shared} of {union} distinct frequencies ({n_shared / union:.0%}), "
                f"not {shared}/{of} ({shared / of:.0%})")
    return None


def units_mismatch(claimed_units: int, method_units: int = DOC_METHOD_UNITS) -> str | None:
    """Inconsistent when a count is out of a number of units the described method does not have."""
    if claimed_units != method_units:
        return (f"the method the document describes analyses {method_units} units (d = 1..{method_units} of "
                f"W_E / W_U), but the claim counts out of {claimed_units}")
    return None


def conflicting_p(bound: float, other_p: float, alpha: float) -> str | None:
    """Inconsistent when the document gives another p for the same comparison that breaks the bound."""
    if other_p >= bound:
        return (f"the document also reports p = {other_p:g} for this comparison (>= {bound:g}, and "
                f"{'above' if other_p > alpha else 'below'} its own Bonferroni alpha {alpha:.3f})")
    return None


def restated_differently(first: str, second: str, what: str) -> str | None:
    """Inconsistent when the document states one value in two ways that differ beyond rounding."""
    a, b = parse_printed(first), parse_printed(second)
    if abs(a.value - b.value) > a.tolerance + b.tolerance:
        return f"{what} ({first} vs {second})"
    return None


CONSISTENCY = {
    "architecture_params": architecture_params, "exceeds_budget": exceeds_budget, "df_impossible": df_impossible,
    "vacuous_z": vacuous_z, "overlap_mismatch": overlap_mismatch, "units_mismatch": units_mismatch,
    "conflicting_p": conflicting_p, "restated_differently": restated_differently,
}

