# ---
# jupyter:
#   grokpaper:
#     title: "08 · Claims audit"
#     depends_on: [01-sources, 02-transfer, 03-retention, 04-agreement, 05-circuits, 06-statistics, 07-dynamics, 10-inside-transfer, 11-relearning, 12-what-transfers]
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Claims audit
#
# Every claim of the design document, its numbers and the effects it claims in words, is one entry
# of `grokpaper/claims.yaml`: the quote as printed, the numbers in it as printed, what each is
# compared against, and the kind of statement it is. This chapter judges every entry but the
# hypotheses of the document's high-priority future experiments: their experiments (chapters 13-16) are
# this study's own, with a family of tests of their own, and chapter 16 judges them there by the
# same rules. A claim the document makes in several places is one entry (the other places are
# listed with it); a number the original computed on one run names that run's seed. The verdict
# rule is one short function per kind (`grokpaper.paper.audit.rules`, whose docstring states it
# in full). Each number is judged with a **tolerance**: the precision its digits imply ("-1.000"
# is ±0.0005), or for a value estimated from runs the practical margin of its kind of quantity
# when that is wider (10 % of the claimed value for epochs, ratios, counts, accuracies and
# shares; 0.05 for a correlation): a difference smaller than that would not change what the
# number means. The same tolerance decides both ways, as in an equivalence test: the data
# support a claim when the whole interval lies within it, and contradict it when the interval
# lies wholly outside it. Every interval is at the study's confidence level.
#
# The verdicts are counted apart:
#
# * **supported**: the data pin the value to the claim: the whole interval of the reproduced
#   value lies within the claim's tolerance (or, for a claimed significant difference, the
#   corrected p is below the claimed level, on the claimed side);
# * **consistent, not confirmed**: the data hold the claim but also values beyond its tolerance
#   (a wide interval, a lower bound from censored runs, a non-significant test of a claimed
#   absence of a difference, a difference significant at 0.05 but not at the claimed level);
# * **contradicted by the data**: the interval and the claim's tolerance do not meet, a bound
#   fails, or a claimed significant difference does not survive the correction;
# * **not established**: an effect the document asserts or predicts in words, without a number
#   (a hypothesis, or a finding such as "Grokking creates meta-structure"), whose test does not
#   show it after the correction: the data do not show the effect, and these runs cannot show
#   that it is absent (a significant effect on the claimed side supports it, on the other side
#   contradicts it);
# * **inconsistent within the document**: the claim contradicts the document's own setup (e.g.
#   "t(3)" with five seeds per group); what the data say is given beside it;
# * **definitional**: true by the setup's arithmetic (1/113);
# * **not testable**: hardware, time, the original's code.
#
# A claimed p, printed "p < x" or "p = x", is judged against x on the Holm-corrected p of the
# paper's family of tests. Every verdict is computed twice, with all runs and without the runs
# that never converged; a verdict that differs says which run it depends on.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.config import resolve_in_notebook
from grokpaper.paper import audit
from grokpaper.paper.report import Results, md_table, save_numbers

P = resolve_in_notebook("08-audit", globals())
R = Results.load()
rows = audit.audit(R)
# The document's central claims, shown in the main text (every claim is in the appendix table).
CENTRAL = ("speedup-grokked", "speedup-memorized", "epochs-grokked", "budget-10k", "memorized-source", "acc100-table",
           "spearman", "at-chance", "retention-grokked", "agreement-100", "lower-specialization",
           "different-frequencies", "top-frequency")

# %%
#| label: tbl-audit-counts
#| tbl-cap: "The design document's claims by verdict: supported (the data pin the value within the claim's tolerance, or show the claimed effect after correction), consistent but not confirmed (the data hold the claim and values beyond its tolerance), contradicted by this rerun's data, not established (an effect claimed in words whose test is not significant after correction), inconsistent within the document itself, definitional (true by the setup's arithmetic) and not testable."
md_table(audit.counts_table(rows))

# %%
#| label: tbl-audit-summary
#| tbl-cap: "The design document's central claims: what this rerun gives for each number in the quote, and the verdict (with the run a verdict depends on, where leaving out the runs that never converged changes it). Every claim, with its reason: the appendix."
md_table(audit.summary_table(rows, CENTRAL))

# %%
#| label: tbl-claims-audit
#| tbl-cap: "Every claim of the design document but the hypotheses of its high-priority future experiments (chapter 16 judges them), once, with where it is printed: what this rerun gives for each number of the quote (with its interval at the study's {level}, and n), the verdict, and the reason computed from the numbers, with what the original study's saved outputs show about the number where that explains it."
md_table(audit.appendix_table(rows))

# %%
save_numbers(audit.audit_numbers(rows, profile, P, CENTRAL), P);
