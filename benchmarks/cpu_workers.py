"""CPU layout: one training process using every core against one single-threaded process per
core (what ``python -m grokpaper train all --workers N`` does), measured side by side.

    python benchmarks/cpu_workers.py [--p 113] [--epochs 60] [--rounds 3] [--workers 2]

Each measurement runs ``grokpaper.core.train.train`` on one model in fresh subprocesses (so the
thread count is set before torch starts): once with ``OMP_NUM_THREADS=workers``, once as
``workers`` concurrent processes with ``OMP_NUM_THREADS=1``. Rounds alternate the two so
machine noise hits both alike; the table reports the median throughput in model-epochs per
second and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import sys, torch
sys.path.insert(0, {bench!r})
from train_speed import ours_ms
from grokpaper.core.model import ModelConfig
ours_ms(ModelConfig(p={p}), 1, 5, torch.device("cpu"))  # warm-up
print(ours_ms(ModelConfig(p={p}), 1, {epochs}, torch.device("cpu")))
"""


def throughput(n_procs: int, threads: int, p: int, epochs: int) -> float:
    """Model-epochs per second of ``n_procs`` concurrent processes with ``threads`` threads each."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    code = CHILD.format(bench=str(Path(__file__).parent), p=p, epochs=epochs)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(n_procs)]
    ms = [float(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    return sum(1000 / m for m in ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--p", type=int, default=113)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    one, many = [], []
    for _ in range(args.rounds):
        one.append(throughput(1, args.workers, args.p, args.epochs))
        many.append(throughput(args.workers, 1, args.p, args.epochs))
    a, b = statistics.median(one), statistics.median(many)
    print(f"{time.strftime('%Y-%m-%d')}  p={args.p}  {args.epochs} epochs per measurement, median of {args.rounds} rounds")
    print(f"{'layout':40s} model-epochs / s   ratio")
    print(f"{f'1 process x {args.workers} threads':40s} {a:17.1f}   1.00x")
    print(f"{f'{args.workers} processes x 1 thread':40s} {b:17.1f}   {b / a:.2f}x")


if __name__ == "__main__":
    main()
