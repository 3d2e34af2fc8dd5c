#!/usr/bin/env bash
# The GPU check: the CUDA path end to end, on a machine with an NVIDIA GPU, in under 10 minutes.
#
#     bash benchmarks/gpu_check.sh                 # from the project root, with .venv's python
#     PYTHON=/path/to/python bash benchmarks/gpu_check.sh
#
# Needs a CUDA build of torch in that python's environment; without a CUDA GPU it stops at
# once with exit status 1 (it never falls back to the CPU). Steps, each under a time limit,
# all within GPU_CHECK_SECONDS (default 570 s); the checks that need only torch come first, the
# long paper-scale training last, so a time limit or a missing notebook package cuts the least:
#   1. CPU against CUDA: the paper profile's transfers for one seed, trained on both devices
#      (benchmarks/compare_devices.py): strict over the first 20 epochs, evaluated every epoch
#      (accuracies identical as counts, losses within 1e-4), then 300 epochs reported (the
#      devices' rounding parts them over longer horizons);
#   2. training speed on CUDA (benchmarks/train_speed.py --device cuda: M = 1, 15, 60, 240);
#   3. the smoke profile end to end on CUDA (every chapter, then the report build, which needs
#      the `offline` extra and is skipped, loudly, without it), in a copy of the project with a
#      scratch run store: the project's build and store are not touched;
#   4. the paper profile's transfer runs (5 seeds x 4 conditions, 30,000 epochs each) trained on
#      CUDA into a scratch store, from the committed source runs, then set beside the committed
#      CPU runs.
# Everything is written under one scratch folder in ${TMPDIR:-/tmp} (printed; kept for a look
# afterwards). The summary at the end, also in <scratch>/summary.md, goes into benchmarks/RESULTS.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # the benchmarks import grokpaper from this checkout, installed or not
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
BUDGET=${GPU_CHECK_SECONDS:-570}

loud() {
  echo "=================================================================================" >&2
  for line in "$@"; do echo "!!! $line" >&2; done
  echo "=================================================================================" >&2
}

# One torch import: "<version> <True|False>" ("not-importable False" when torch does not import).
read -r torch_version cuda_available < <("$PYTHON" -c 'import torch; print(torch.__version__, torch.cuda.is_available())' \
                                         2>/dev/null || echo "not-importable False")
if [[ $cuda_available != True ]]; then
  loud "GPU CHECK NOT RUN: NO CUDA GPU." \
       "torch.cuda.is_available() is False for $PYTHON (torch: $torch_version)." \
       "This script checks the CUDA path and never falls back to the CPU: nothing was run." \
       "Run it on a machine with an NVIDIA GPU and a CUDA build of torch (PYTHON=... to pick the python)."
  exit 1
fi

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/grokpaper-gpu-check.XXXXXX")
SUMMARY=$SCRATCH/summary.md
echo "scratch folder: $SCRATCH"

# step NAME LIMIT COMMAND...: run COMMAND under `timeout`, at most LIMIT seconds and never past
# the whole check's budget, its output shown and kept in $SCRATCH/NAME.log; stop on a failure.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - SECONDS))
  ((left < limit)) && limit=$left
  if ((limit < 10)); then
    loud "GPU CHECK STOPPED: no time left for step '$name' (GPU_CHECK_SECONDS=$BUDGET)."
    exit 1
  fi
  echo "--- $name (limit ${limit} s)"
  local start=$SECONDS status=0
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$SCRATCH/$name.log" || status=$?
  echo "$name: $((SECONDS - start)) s, exit status $status" >> "$SCRATCH/times.txt"
  if ((status != 0)); then
    [[ $status == 124 || $status == 137 ]] && loud "GPU CHECK FAILED: step '$name' ran past its ${limit} s." \
                         || loud "GPU CHECK FAILED: step '$name' exited with status $status (log: $SCRATCH/$name.log)."
    exit 1
  fi
}

# 1. CPU against CUDA, strict, on short runs. 2. Training speed.
step compare-devices 150 "$PYTHON" benchmarks/compare_devices.py --epochs 20 --eval-every 1
step compare-devices-300 150 "$PYTHON" benchmarks/compare_devices.py --epochs 300 --eval-every 10 --report
step train-speed 150 "$PYTHON" benchmarks/train_speed.py --device cuda

# 3. Smoke profile end to end, in a copy of the project without its build (executed chapters,
#    results, frozen article, report) or run store, as tests/test_pipeline.py does.
mkdir "$SCRATCH/project"
tar -C "$ROOT" --exclude=./.git --exclude=./.venv --exclude=./store --exclude=./results --exclude=./_freeze \
    --exclude=./_manuscript --exclude=./tests --exclude='./chapters/*.ipynb' --exclude=__pycache__ -cf - . \
  | tar -C "$SCRATCH/project" -xf -
export GROKPAPER_STORE=$SCRATCH/smoke-store
(cd "$SCRATCH/project" && step smoke-run 240 "$PYTHON" -m grokpaper run --profile smoke)
# The report build is the same on any device (pandoc and typst, no torch); a GPU machine
# without the offline tools skips it, loudly, and the summary says so.
if "$PYTHON" -c 'import pypandoc, typst' 2>/dev/null; then
  (cd "$SCRATCH/project" && step smoke-render 60 "$PYTHON" -m grokpaper render)
  RENDER="the smoke report was built (grokpaper render)"
else
  RENDER="the smoke report was NOT built: pypandoc-binary and typst are not installed for $PYTHON (pip install -e '.[offline]')"
  loud "$RENDER"
fi
# The runs record the device they trained on: every smoke run must say cuda.
step smoke-device 30 "$PYTHON" - "$GROKPAPER_STORE" <<'EOF'
import json, sys
from pathlib import Path
devices = {p.parent.name: json.loads(p.read_text())["device"] for p in Path(sys.argv[1]).glob("runs/*/result.json")}
not_cuda = {key: d for key, d in devices.items() if not d.startswith("cuda")}
print(f"{len(devices)} smoke runs stored; trained on: {sorted(set(devices.values()))}")
if not devices or not_cuda:
    sys.exit(f"runs not trained on CUDA: {not_cuda}" if devices else "no smoke run was stored")
EOF
unset GROKPAPER_STORE

# 4. The paper profile's transfers on CUDA. The scratch store starts with the committed source
#    runs (store/runs/*, those whose config says "kind": "source"), so only the transfers train
#    and they start from the very weights the committed CPU transfers started from.
mkdir -p "$SCRATCH/paper-store/runs"
for run in store/runs/*/; do
  if grep -q '"kind": "source"' "$run/config.json"; then cp -r "$run" "$SCRATCH/paper-store/runs/"; fi
done
GROKPAPER_STORE=$SCRATCH/paper-store step paper-transfers 400 "$PYTHON" -m grokpaper train transfer --profile paper
step paper-side-by-side 30 "$PYTHON" benchmarks/compare_devices.py --stores store "$SCRATCH/paper-store"

{
  echo "## GPU check: bash benchmarks/gpu_check.sh"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC')  $("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name(), "torch", torch.__version__)')"
  echo
  echo "$RENDER"
  echo
  echo '```'
  cat "$SCRATCH/times.txt"
  echo
  cat "$SCRATCH/compare-devices.log"
  echo
  cat "$SCRATCH/compare-devices-300.log"
  echo
  cat "$SCRATCH/train-speed.log"
  echo
  echo "the paper profile's transfers on CUDA: $(grep '^paper-transfers' "$SCRATCH/times.txt")"
  cat "$SCRATCH/paper-side-by-side.log"
  echo '```'
} > "$SUMMARY"
echo
echo "GPU CHECK PASSED. Summary for benchmarks/RESULTS.md ($SUMMARY):"
echo
cat "$SUMMARY"
