# ---
# jupyter:
#   grokpaper:
#     title: "03 · Retention: the transferred models on addition"
#     depends_on: [01-sources, 02-transfer]
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
# # Retention: the transferred models on addition
#
# Every transferred model (each seed x condition, final weights) is scored on addition:
# on its seed's **test split** (the pairs its source never trained on) and on **all p²
# pairs**. A prediction is the argmax over all logits at "=" (predicting "=" is wrong).
# For reference, the seed's grokked and memorized *source* models are scored the same way.
#
# **What a perfect subtraction model scores on addition.** Addition and subtraction share
# their inputs: both are the tokens `[a, b, =]`; only the targets differ. So the design
# document's sanity check, "subtraction inputs with addition targets", is addition accuracy
# on the same pairs and cannot tell retention from coincidence. The targets coincide when
# a + b = a − b (mod p), i.e. 2b = 0 (mod p), i.e. b = 0 for odd p. A model that is exactly
# right on subtraction is therefore right on addition on the b = 0 pairs and on no others:
# its addition score is the share of b = 0 pairs in the split. Over all p² pairs that share
# is exactly 1/p (the document's "random chance"); on a seed's test split it is
# (number of b = 0 test pairs) / (test pairs), which differs from 1/p by the luck of the
# split (e.g. 84 / 8,939 = 0.94 % against 1/113 = 0.885 %). The meaningful check splits
# each model's correct addition answers into those on pairs where the targets coincide
# (what any subtraction model gets) and those where they differ (**retained** addition);
# subtraction accuracy on the same test split shows the model does subtraction.
#
# **Forgetting addition is forced by the input format.** With no task token, the input says
# nothing about which task is asked, so a model that has learned subtraction *cannot* answer
# addition anywhere but on the b = 0 pairs: "forgets addition completely" is a consequence of
# the design, not a finding about the models. What the data can show is only that the models
# behave as derived (they learned subtraction, and scored no correct addition answer where the
# targets differ). The one-sample t-tests below (addition accuracy against 1/p, and against the
# seed's perfect-subtraction score) are shown as that check; their answer is fixed by
# construction, so they are not in the paper's family of tests. Whether addition survives
# *inside* the model needs task tokens and internal probes (later chapters).

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, Study
from grokpaper.paper import plots, retention
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("03-retention", globals())
study = Study.from_params(P, progress=False)
models = retention.study_models(study, include_sources=True)
table = retention.retention_table(models, study.settings.model, P["frac_train"], P["source_task"], P["transfer_task"])
tests = retention.retention_tests(table, CONDITIONS, P["p"], P["confidence"])
perfect = retention.perfect_score_table(table, P["p"])
SOURCES = ("grokked_source", "memorized_source", "memorized-fixed_source")

# %%
#| label: tbl-perfect-subtraction
#| tbl-cap: "What a model that is exactly right on subtraction scores on addition, per seed: the test pairs whose addition and subtraction targets coincide (b = 0 for odd p), their share of the test split (its addition score there) and of all p² pairs, beside the chance level 1/p."
md_table(perfect, digits=4)

# %%
#| label: fig-retention
#| fig-cap: "Accuracy (%) of the transferred models on the seed's test split, per initial condition: addition (left; the models were trained on subtraction after addition) and subtraction (right). Bars: mean over seeds; dots: seeds; whiskers: t-interval at the study's {level}, clipped to 0–100 %; n = seeds. Lines: chance 1/p and the addition score of a perfect subtraction model (share of b = 0 test pairs, mean over seeds)."
summary = retention.retention_summary(table, CONDITIONS, {"source_acc_test": "addition", "transfer_acc_test": "subtraction"},
                                     confidence=P["confidence"], n_boot=P["n_bootstrap"])
plots.bar_panels(
    {f"{score} (test split)": summary[summary["score"] == score] for score in ("addition", "subtraction")},
    references={"addition (test split)": {"chance 1/p": 1 / P["p"],
                                          "perfect subtraction model": perfect["perfect-model score, test split"].mean()}},
    points={"addition (test split)": retention.values_by_model(table, "source_acc_test", CONDITIONS),
            "subtraction (test split)": retention.values_by_model(table, "transfer_acc_test", CONDITIONS)},
)

# %%
#| label: tbl-retention-summary
#| tbl-cap: "Scores per model kind, mean over seeds with sd (ddof 1) and t-interval at the study's {level}, truncated to 0–1 (n = seeds): subtraction and addition accuracy on the test split, addition accuracy on all p² pairs, addition accuracy on the test pairs where the two targets differ (retained addition), (@tbl-perfect-subtraction gives the score a perfect subtraction model would get). Sources: the addition models the transfers started from."
md_table(retention.retention_summary(table, [*SOURCES, *CONDITIONS], {
    "transfer_acc_test": "subtraction acc (test)", "source_acc_test": "addition acc (test)",
    "source_acc_all": "addition acc (all pairs)", "source_acc_distinct_test": "addition acc where targets differ (test)",
}, confidence=P["confidence"], n_boot=P["n_bootstrap"]), digits=4)

# %%
#| label: tbl-retention-tests
#| tbl-cap: "A check of the derivation, not a finding: one-sample t-tests (two-sided, uncorrected) of the transferred models' addition test accuracy per condition against chance 1/p, and, as the difference accuracy − the seed's perfect-subtraction score, against 0. Once subtraction is learned their answer is fixed by the input format, so they are outside the paper's family of tests. Mean, t, df = n − 1, p, n = seeds and the interval of the mean at the study's {level} (of the difference for the second test); a note where the test is undefined (every difference the same)."
md_table(tests.drop(columns=["test"]).rename(columns={"ci_low": "CI low", "ci_high": "CI high"}),
         digits={"df": 0, "n": 0, "t": 2, "p": 3, "reference": 4, "mean": 4, "CI low": 4, "CI high": 4})

# %%
#| label: tbl-retention-models
#| tbl-cap: "Every model on its seed's test split (all p² pairs where marked): subtraction and addition accuracy, the perfect-subtraction score of the split, the correct addition answers split into pairs where the targets coincide and pairs where they differ, and addition accuracy on the latter."
md_table(retention.readable_table(table, P["source_task"], P["transfer_task"]), digits=4)

# %%
save_numbers(retention.retention_numbers(table, tests, P, CONDITIONS), P);
