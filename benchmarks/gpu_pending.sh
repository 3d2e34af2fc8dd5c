#!/usr/bin/env bash
# Train the paper profile's pending new run families on a lent GPU, in one call, and hand the new runs back.
#
#     OUT=/path/to/folder bash benchmarks/gpu_pending.sh        # from the project root, with .venv's python
#     PYTHON=/path/to/python FAMILIES="controls tasks" LIMIT_SECONDS=500 bash benchmarks/gpu_pending.sh
#
# For the device machine that some sessions are lent (the brief: "use it for every pending new run
# family at once"): it trains, family by family, every run of FAMILIES (default: controls, then tasks)
# that the store does not hold, each family as the batches `python -m grokpaper train <family>` makes
# (runs of one batch share their data sizes), on CUDA, into this checkout's store, all within
# LIMIT_SECONDS (default 500). Then it copies every run folder that is new since it started to
# $OUT/runs/, with the log, so the session copies them into its store and writes the manifest:
#
#     cp -r <files_at>/runs/* store/runs/ && python -m grokpaper train all --profile paper --write-manifest
#
# Each run's result.json records its device. Runs that must equal committed CPU runs (reruns of the
# study) are not in these families. Without a CUDA GPU it stops at once with exit status 1, and without
# OUT before anything runs. Runs the time limit cuts short are not handed back; the next call (or the
# CPU queue) trains them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=$ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
if [[ -z "${OUT:-}" ]]; then
  echo "gpu_pending: set OUT to the folder the new runs are copied to; nothing was run" >&2
  exit 2
fi
FAMILIES=${FAMILIES:-controls tasks}
LIMIT=${LIMIT_SECONDS:-500}

if [[ $("$PYTHON" -c 'import torch; print(torch.cuda.is_available())' 2>/dev/null || echo False) != True ]]; then
  echo "gpu_pending: no CUDA GPU for $PYTHON; nothing was run (this script never trains on the CPU)" >&2
  exit 1
fi
"$PYTHON" -c 'import torch; print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)'

mkdir -p "$OUT/runs" store/runs
ls store/runs > "$OUT/before.txt"
for family in $FAMILIES; do
  left=$((LIMIT - SECONDS))
  if (( left < 30 )); then echo "gpu_pending: no time left for $family" | tee -a "$OUT/log.txt"; break; fi
  echo "== train $family --profile paper (at most ${left} s)" | tee -a "$OUT/log.txt"
  timeout "$left" "$PYTHON" -m grokpaper train "$family" --profile paper 2>&1 | tail -n 40 | tee -a "$OUT/log.txt" || \
    echo "gpu_pending: $family stopped (time limit or error; see above)" | tee -a "$OUT/log.txt"
done
new=0
for run in store/runs/*/; do
  name=$(basename "$run")
  if ! grep -qx "$name" "$OUT/before.txt" && [[ -f "$run/result.json" ]]; then
    cp -r "$run" "$OUT/runs/"
    new=$((new + 1))
  fi
done
echo "gpu_pending: $new new runs in $OUT/runs after ${SECONDS} s" | tee -a "$OUT/log.txt"
