# ---
# jupyter:
#   grokpaper:
#     title: "11 · Relearning the source task after transfer"
#     depends_on: []
#     runs: [relearn]
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
# # Relearning the source task after transfer
#
# The design document's future work asks "How fast can models relearn addition after
# forgetting?" and "Does grokked initialization help relearning speed?", with the hypothesis
# "Grokked models relearn faster due to latent structure". Here each transferred model (the
# committed transfer run's final weights, after `transfer_max_epochs` epochs of subtraction) is
# trained back on addition: its seed's split, a fresh optimizer, until test accuracy held the
# top threshold for `probe_hold_epochs` epochs, capped at `relearn_max_epochs`, probes on.
#
# We report the epochs until test accuracy on addition first reached each threshold, per
# condition and paired by seed, against **the source run's own first learning of addition**
# (epochs to the same thresholds on its curve). The second reference the issue names, a random
# init learning addition, is the same runs: every source run starts from its seed's random
# init, so "learning addition from random init" *is* the source's first learning, and it is one
# reference, not two. Runs that never reached a threshold are kept, censored at their cap
# (Kaplan-Meier median, restricted mean), never dropped. The primary threshold is the document's
# 95 %.
#
# **One test per question**, paired by seed on log ratios of epochs to the primary threshold
# (`stats.paired_log_ratio`; a censored run enters at its own cap, which makes its ratio a bound):
# each condition's relearning against first learning ("is relearning faster than learning
# from scratch?"), and each other condition's relearning against the grokked transfer's ("does
# grokked initialization help relearning?"). These tests belong to the paper's family: their
# p-values here are **uncorrected**, and chapter 06 corrects them (Holm) together with every
# other test the paper reports. Last, the
# latent-structure question: does the addition readout left inside a transferred model (its R² at
# the start of relearning, chapter 10's linear readout) go with faster relearning?

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.analysis import survival
from grokpaper.analysis.probes import make_probes
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, Study
from grokpaper.paper import contract, inside, plots, relearning
from grokpaper.paper.contract import FIRST, FIRST_LEARNING, epochs_column
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("11-relearning", globals())
# Relearning runs missing from the store: trained here on `missing_runs: train` (smoke); the paper
# profile waits for `train all --runs relearn`, and reads them only (RunNotStored names the command).
study = Study.from_params(P, progress=False, train=P["missing_runs"] == "train", probes=make_probes, profile=profile)
relearned = inside.probe_runs(study.relearning())
sources = study.sources()
conditions = [c for c in CONDITIONS if any(r.condition == c for r in relearned)]
levels = sorted(P["thresholds"])
primary = relearning.primary_threshold(levels)  # the document's "epochs to recover 95% accuracy"
cap, source_cap = P["relearn_max_epochs"], P["grokked_max_epochs"]
caps = {**dict.fromkeys(conditions, cap), FIRST_LEARNING: source_cap}

table = relearning.relearning_table(relearned, sources, levels)
epochs = relearning.time_to_thresholds(table, levels, conditions, cap, source_cap, P["confidence"])
tests = relearning.relearning_tests(table, primary, conditions, caps, P["confidence"])
correlation = relearning.readout_correlation(table, primary, conditions, cap, P["confidence"])

# %%
#| label: fig-relearning-curves
#| fig-cap: "Relearning addition: test accuracy on addition against epoch (log scale) while each transferred model is trained back on it, one panel per initial condition of the transfer, a line per seed; grey dashed lines: the source runs' first learning of addition from their random init (the same in every panel). Dashed horizontal line: the primary threshold. A relearning run stops once the top threshold held the hold window, or at its cap."
plots.epoch_grid(**relearning.relearning_panels(relearned, sources, conditions, primary))

# %%
#| label: fig-relearning-time
#| fig-cap: "Kaplan-Meier curves of epochs until test accuracy on addition first reaches the primary threshold: the share of runs not yet there, per condition's relearning and for the source runs' first learning, all censored at the relearning cap for comparison (first learning that took longer counts as not there by the cap), with pointwise log-log bands at the level in the legend. Epochs on a log scale."
column = epochs_column(FIRST, primary)
plots.time_to_threshold_curves(
    {who: survival.kaplan_meier([None if v is None or v != v or v > cap else v
                                 for v in table.loc[table["condition"] == who, column]], cap=cap, confidence=P["confidence"])
     for who in [*conditions, FIRST_LEARNING]},
    cap=cap, xlabel=f"epochs to first {100 * primary:g} % test accuracy on addition", ylabel="runs not yet there (share)")

# %%
#| label: tbl-relearning-time
#| tbl-cap: "Epochs until test accuracy on addition first reaches each threshold, per condition's relearning and for the source runs' first learning (the same as learning it from random init), with runs that never got there kept as censored at their cap (the relearning cap, or the source runs' cap): runs that reached it (of all), Kaplan-Meier median with its interval, restricted mean to the cap with its log-normal interval (with a censored run it is a lower bound), and the geometric mean of the runs that reached it; intervals at the study's {level}."
md_table(relearning.time_display(epochs, levels, [*conditions, FIRST_LEARNING], P["confidence"]))

# %%
#| label: tbl-relearning-runs
#| tbl-cap: "Every relearning run and every source run's first learning (condition 'first learning'): the first epoch at which test accuracy on addition reached each threshold (a dash: never, by the cap), test accuracy at the start and at the end, the readout R² of addition at the start of relearning (chapter 10's linear readout), why the run stopped and the epochs it trained."
md_table(table, digits="sig4")

# %%
#| label: tbl-relearning-tests
#| tbl-cap: "One test per question, paired by seed, on epochs to the primary threshold: the geometric mean of the per-seed ratios a / b with its t-interval at the study's {level} ('>=': a censored run of a entered at its cap, so the ratio is a lower bound; '<=': one of b), the paired t-test on the log ratios and the Wilcoxon signed-rank test. The p-values are uncorrected; chapter 06 corrects them with the paper's family of tests. Ratio < 1 against first learning: relearning was faster; ratio > 1 against grokked: the grokked transfer relearned sooner."
md_table(relearning.tests_display(tests), digits={"pairs": 0, "p (paired t, uncorrected)": "p", "p (Wilcoxon, uncorrected)": "p"})

# %%
def per_condition(column):
    return relearning.by_condition(table, column, conditions, P["confidence"], P["n_bootstrap"])


numbers = contract.Relearning(
    n_seeds=len(sources),
    conditions=conditions,
    cap=cap,
    source_cap=source_cap,
    thresholds=levels,
    primary_threshold=primary,
    start_acc=per_condition("start acc"),
    start_readout=per_condition("start readout R2"),
    final_acc=per_condition("final acc"),
    epochs=epochs,
    tests=tests,
    correlation=correlation,
    p_note=relearning.P_NOTE,
    reference_note=relearning.REFERENCE_NOTE,
    table=table.to_dict(orient="list"),
)
save_numbers(numbers, P);
