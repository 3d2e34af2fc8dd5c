# ---
# jupyter:
#   grokpaper:
#     title: "09 · Run records (methods appendix)"
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
# # Run records
#
# Every training run behind this build, read from its record in the run store: the hash of
# its full config (the store key: rerunning with the same config returns this run), seed,
# epochs trained, why it stopped, the wall time of its batch when it finished, and the
# device. Runs of one batch train together, so their wall times overlap.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
import pandas as pd

from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import Study
from grokpaper.paper import tables
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("09-runs", globals())
study = Study.from_params(P, progress=False)
records = tables.run_records(study.sources(), study.transfers())
provenance = tables.provenance()

# %%
#| label: tbl-run-records
#| tbl-cap: "Every training run of this build: kind (a source run is the grokked model, with its memorized and fixed-epoch snapshots from the same trajectory), condition, seed, config hash (run-store key), epochs trained, stop reason, wall time of its batch at the run's end (s) and device. The versions that trained them: the next table."
md_table(records.drop(columns=["torch", "package"]), digits=1)

# %%
#| label: tbl-run-versions
#| tbl-cap: "The torch and package versions that trained the runs of this build, with the number of runs each trained."
md_table(tables.versions_of_runs(records))

# %%
#| label: tbl-provenance
#| tbl-cap: "The code that executed this chapter: package version, git commit ('-dirty': uncommitted changes), Python, torch, machine."
md_table(pd.DataFrame([provenance]))

# %%
save_numbers(tables.run_records_numbers(records, provenance), P);
