# ---
# jupyter:
#   grokpaper:
#     title: "04 · Prediction agreement between conditions"
#     depends_on: [02-transfer]
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
# # Prediction agreement between conditions
#
# For each seed and each pair of transfer conditions (grokked, memorized, random init),
# the **agreement** of their final models is the share of inputs on which their predictions
# (argmax over all logits at "=") are identical.
#
# *What "addition inputs" and "subtraction inputs" can mean.* Both tasks present the same
# tokens `[a, b, =]`, so there is only one set of inputs; what differs is the split and the
# targets. We measure agreement on the seed's **test split** (the pairs neither the source
# nor the transfer run trained on; the same pairs for both tasks) and on **all p²
# pairs**. Agreement itself needs no targets. Targets matter for agreement **among
# errors**: among the inputs where at least one of the two models is wrong, the share on
# which both give the same (wrong) answer, once with subtraction targets (the task the
# models were trained on last) and once with addition targets. Two perfect subtraction
# models agree on every input, and on every addition error, without sharing any mechanism:
# identical predictions of a deterministic function say nothing about circuits. As a
# baseline, the **chance agreement** of two models is Σₖ q_A(k) q_B(k), where q(k) is the share
# of inputs a model maps to k (1/p for two uniform predictors).

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, Study
from grokpaper.paper import plots, retention
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("04-agreement", globals())
study = Study.from_params(P, progress=False)
models = retention.study_models(study, include_sources=False)
table = retention.agreement_table(models, study.settings.model, P["frac_train"], CONDITIONS,
                                  P["source_task"], P["transfer_task"])

# %%
#| label: fig-agreement
#| fig-cap: "Prediction agreement (% of inputs with identical predictions) between the final models of the transfer conditions, mean over seeds, on the seed's test split (left) and on all p² pairs (right); the diagonal is 1 by definition."
plots.agreement_panels({"test split": retention.agreement_matrix(table, CONDITIONS, "agreement_test"),
                        "all p² pairs": retention.agreement_matrix(table, CONDITIONS, "agreement_all")})

# %%
#| label: tbl-agreement-summary
#| tbl-cap: "Agreement per pair of conditions, mean over seeds with sd (ddof 1) and t-interval at the study's {level}, truncated to 0–1 (n = seeds): on the test split and on all pairs, among the test inputs where at least one model is wrong on subtraction or on addition, and the chance agreement given each model's prediction frequencies."
md_table(retention.agreement_summary(table, {
    "agreement_test": "agreement (test)", "agreement_all": "agreement (all pairs)",
    "agreement_transfer_errors_test": "among subtraction errors (test)",
    "agreement_source_errors_test": "among addition errors (test)",
    "chance_agreement_test": "chance agreement (test)",
}, confidence=P["confidence"], n_boot=P["n_bootstrap"]), digits=4)

# %%
#| label: tbl-agreement-seeds
#| tbl-cap: "Agreement per seed and pair of conditions on the test split: agreement, the number of test inputs where at least one of the two is wrong on subtraction (resp. addition) and the agreement among those, and the chance agreement; last column: agreement on all p² pairs."
md_table(retention.agreement_display(table, P["source_task"], P["transfer_task"]), digits=4)

# %%
save_numbers(retention.agreement_numbers(table, CONDITIONS, P), P);
