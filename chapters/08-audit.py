# ---
# jupyter:
#   grokpaper:
#     title: "08 · Claims audit"
#     depends_on: [01-sources, 02-transfer, 03-retention, 04-agreement, 05-circuits, 06-statistics, 07-dynamics]
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
# Every quantitative claim of the design document is one entry of `grokpaper/claims.yaml`: the
# quote as printed, the numbers in it as printed, what each is compared against, and the kind of
# statement it is. A claim the document makes in several places is one entry (the other places are
# listed with it). The verdict rule is one short function per kind (`grokpaper.paper.audit`, whose
# docstring states it in full): a mean is judged against its interval (log-normal for epochs;
# with censored runs, the restricted mean to the cap is a lower bound, and only a claim below it is
# contradicted); a claimed p-value on the Holm-corrected p of the paper's whole family of tests and
# on the effect's interval; a bound on every run it is about. Precision comes from the printed
# string ("-1.000" is ±0.0005).
#
# The verdicts are counted apart: **supported** and **contradicted by the data**; **inconclusive**
# (the data hold the claim and very different values alike); **inconsistent within the document**
# (the claim contradicts the document's own setup, e.g. "t(3)" with five seeds per group; what the
# data say is given beside it); **definitional** (true by the setup's arithmetic, such as 1/113);
# **not testable** (hardware, time, the original's code). Every verdict is computed twice, with all
# runs and without the runs that never converged; a verdict that differs says which run it
# depends on.

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
#| tbl-cap: "The design document's claims by verdict: supported or contradicted by this rerun's data, inconclusive, inconsistent within the document itself, definitional (true by the setup's arithmetic) and not testable."
md_table(audit.counts_table(rows))

# %%
#| label: tbl-audit-summary
#| tbl-cap: "The design document's central claims: what this rerun gives for each number in the quote, and the verdict (with the run a verdict depends on, where leaving out the runs that never converged changes it). Every claim, with its reason: the appendix."
md_table(audit.summary_table(rows, CENTRAL))

# %%
#| label: tbl-claims-audit
#| tbl-cap: "Every quantitative claim of the design document, once, with where it is printed: what this rerun gives for each number of the quote (with its 95 % interval and n), the verdict, and the reason computed from the numbers, with what the original study's saved outputs show about the number where that explains it."
md_table(audit.appendix_table(rows))

# %%
save_numbers(audit.audit_numbers(rows, profile, P, CENTRAL), P);
