# grokpaper: `make report` builds the paper from the committed executed chapters (no training);
# `make test` runs the test suite. Both set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# `make chapters` rebuilds the committed build: the paper profile, on the runs committed under store/.
# A run of another profile refuses to replace it (README: "Rerunning chapters").
PROFILE ?= paper

# make chapters TRAIN=1: the chapters may train the runs they need that are not stored, also at paper scale
# (hours each on a CPU; `python -m grokpaper run --profile paper --dry-run` lists them with an estimate).
TRAIN ?=

# make paper-runs: WORKERS processes of a local Dask cluster, or SCHEDULER=tcp://HOST:PORT, a running one.
WORKERS ?= 2
SCHEDULER ?=

.PHONY: setup report preview chapters paper-runs test test-fast lint lock bench clean-report

setup: $(VENV)/.installed

# CPU torch (2.13.0) only when .venv has no torch: a GPU user who installed a CUDA build of torch
# into .venv first keeps it. Then the package with the offline report build (make report: pandoc,
# typst) and the test tools (make test, make lint), at the exact versions of requirements.lock.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c requirements.lock -e ".[offline,test]"
	touch $@

report: setup                     ## the report from the committed results (HTML + PDF in _manuscript/)
	$(PY) -m grokpaper render

# make preview: the port on 127.0.0.1 (0: any free one).
PORT ?= 8000

preview: setup                    ## build the report, serve it on http://127.0.0.1:$(PORT)/, rebuild on edits (Ctrl-C stops)
	$(PY) -m grokpaper preview --port $(PORT)

chapters: setup                   ## (re)execute the stale chapters of PROFILE, then build the report (TRAIN=1: may train)
	$(PY) -m grokpaper run --profile $(PROFILE) $(if $(TRAIN),--train)
	$(PY) -m grokpaper render

paper-runs: setup                 ## train the paper profile's missing runs on Dask: WORKERS local processes, or SCHEDULER's cluster
	$(PY) -m grokpaper train all --profile paper --workers $(WORKERS) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

test: setup                       ## the test suite (includes the smoke pipeline end to end)
	$(PY) -m pytest -q

test-fast: setup                  ## the suite without the end-to-end tests (smoke pipeline, report builds)
	$(PY) -m pytest -q -m "not slow"

lint: setup                       ## ruff: pyflakes, import order, pycodestyle errors, bugbear (pyproject.toml)
	$(PY) -m ruff check

lock: setup                       ## rewrite requirements.lock from .venv (after changing dependencies)
	{ sed -n '/^#/p' requirements.lock; $(PY) -m pip freeze --exclude-editable | grep -v '^torch=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

bench: setup                      ## speed benchmarks (not tests)
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/cpu_workers.py
	$(PY) benchmarks/analysis_speed.py

clean-report:
	rm -rf _manuscript
