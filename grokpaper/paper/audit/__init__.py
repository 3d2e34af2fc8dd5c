"""Claims audit (protocol item 8): every quantitative claim of the design document, judged
against this rerun.

The claims are data (``claims.yaml`` beside this package): the quote as printed, the numbers in
it as printed, what each is compared against, the seeds it is about and the kind of statement
it is. The package, one concern a module:

* ``printed``: the value and precision of a number as the document prints it;
* ``estimates``: what the rerun gives (per-run values, estimates with intervals at the study's
  confidence level);
* ``rules``: the verdict rule, one short function per kind, with the tolerances (its docstring
  states the rule in full);
* ``quantities``: what a claim is compared against (``QUANTITIES``);
* ``consistency``: the checks against the document's own stated setup;
* ``claims``: loading ``claims.yaml`` (each field checked) and evaluating it, all runs and
  without the runs that never converged (``audit``);
* ``tables``: counts, the appendix and the numbers the article reads.

The verdict categories and ``ALPHA`` are in ``grokpaper.paper.verdicts``.
"""

from grokpaper.paper.audit.claims import (
    CLAIMS_FILE,
    FUTURE_WORK,
    PAPER_SECTIONS,
    Check,
    Claim,
    ClaimError,
    audit,
    evaluate,
    evaluate_check,
    future_work_audit,
    load_claims,
)
from grokpaper.paper.audit.consistency import (
    CONSISTENCY,
    architecture_params,
    df_impossible,
    exceeds_budget,
    overlap_mismatch,
    restated_differently,
    units_mismatch,
    vacuous_z,
)
from grokpaper.paper.audit.estimates import (
    Estimate,
    RunValues,
    describe_estimate,
    mean_estimate,
    reason_number,
    spread_estimate,
    statistic,
)
from grokpaper.paper.audit.printed import Printed, parse_printed, plain_text
from grokpaper.paper.audit.quantities import QUANTITIES
from grokpaper.paper.audit.rules import (
    KINDS,
    MARGINS,
    RULES,
    combine,
    judge_category,
    judge_definitional,
    judge_effect,
    judge_estimate,
    judge_exact,
    judge_p_value,
    judge_per_run,
    tolerance,
)
from grokpaper.paper.audit.tables import (
    appendix_table,
    audit_numbers,
    counts_table,
    summary_table,
    verdict_counts,
    verdict_text,
)

__all__ = [
    "CLAIMS_FILE", "FUTURE_WORK", "future_work_audit", "PAPER_SECTIONS", "Check", "Claim", "ClaimError", "audit", "evaluate", "evaluate_check",
    "load_claims", "CONSISTENCY", "architecture_params", "df_impossible", "exceeds_budget", "overlap_mismatch",
    "restated_differently", "units_mismatch", "vacuous_z", "Estimate", "RunValues", "describe_estimate",
    "mean_estimate", "reason_number", "spread_estimate", "statistic", "Printed", "parse_printed", "plain_text",
    "QUANTITIES", "KINDS", "MARGINS", "RULES", "combine", "judge_category", "judge_definitional", "judge_estimate",
    "judge_exact", "judge_effect", "judge_p_value", "judge_per_run", "tolerance", "appendix_table", "audit_numbers", "counts_table",
    "summary_table", "verdict_counts", "verdict_text",
]
