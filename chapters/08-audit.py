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
# Every quantitative claim of the design document, one row each (`grokpaper.audit.CLAIMS`:
# the quote, the claimed value and how to compute it from this rerun), against the value
# the chapters before this one computed, with its 95 % CI where there is one. One general
# rule gives the verdict (the docstring of `grokpaper.audit` states it in full): a claimed
# estimate is **supported** when it lies in the reproduced 95 % CI (widened by the claim's
# rounding) and that CI is narrow enough to tell it from values 50 % away, **inconclusive**
# when the CI holds the claim and such values alike; a bound is supported when it holds for
# every run; a claim that contradicts the document's
# own setup (e.g. "t(3)" with five seeds per group, epochs to 99.9 % beyond its stated
# 10,000-epoch runs) is **not supported**; claims about hardware, time or the original
# repository, or whose inputs this profile cannot produce (runs censored at a shorter cap),
# are **not testable**. The reason column is generated from the numbers. The profile and
# p of the rerun are recorded with the numbers: the smoke profile checks the plumbing only.

# %% tags=["parameters"]
profile = "smoke"  # params/<profile>.yaml gives every value left as None
p = None
seeds = None
frac_train = None
eval_every = None
device = None
source_task = None
transfer_task = None
lr = None
weight_decay = None
grokked_max_epochs = None
grokked_hold_epochs = None
memorized_fixed_epochs = None
transfer_max_epochs = None
transfer_hold_epochs = None
thresholds = None
checkpoint_every = None

# %%
import pandas as pd

from grokpaper import audit
from grokpaper.params import resolve_in_notebook
from grokpaper.report import Results, md_table, save_numbers

P = resolve_in_notebook("08-audit", globals())
rows = audit.audit(Results.load())
counts = audit.verdict_counts(rows)

# %%
#| label: tbl-audit-counts
#| tbl-cap: "Verdicts over all audited claims of the design document (this profile's rerun)."
md_table(pd.DataFrame([counts]))

# %%
#| label: tbl-claims-audit
#| tbl-cap: "Every quantitative claim of the design document: the quoted claim and its section, the claimed value, the verdict, and the reason computed from the numbers, which states the reproduced value with its 95 % CI and n (runs). A dash: the claim states no value. The same rows with the reproduced values as separate columns are in results/08-audit.json."
md_table(audit.display_table(rows))

# %%
numbers = {
    "profile": profile,
    "p": P["p"],
    "n_seeds": len(P["seeds"]),
    "counts": counts,
    "claims": {r["id"]: r for r in rows},
}
save_numbers("08-audit", numbers, P);
