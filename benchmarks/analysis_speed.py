"""Wall time of the full neuron Fourier analysis of one p = 113 model (not a test).

Uses the reference grokked checkpoint (../shared/reference/) if present, else random weights.
Prints the best of a few repeats for: the whole analysis, its two stages (the "=" forward pass
and the Fourier shares), and, side by side, the reference model's full forward with cache.

    python benchmarks/analysis_speed.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import torch

from grokpaper.analysis.fourier import neuron_fourier_analysis, neuron_fourier_shares
from grokpaper.analysis.inspection import all_inputs, equals_position_forward
from grokpaper.core.model import ModelConfig, Transformer, init_params, load_checkpoint

CHECKPOINT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "nanda_wd0.1_addition.pth"


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if CHECKPOINT.exists():
        params, cfg = load_checkpoint(CHECKPOINT)
        source = f"reference checkpoint {CHECKPOINT.name}"
    else:
        cfg = ModelConfig(p=113)
        params = init_params(cfg, torch.Generator().manual_seed(0))
        source = "random weights (reference checkpoint absent)"
    x = all_inputs(cfg.p)

    def reference_forward():
        with torch.no_grad():
            Transformer(cfg, params).run_with_cache(x)

    acts = equals_position_forward(params, cfg, x)["mlp_post"]
    timings = {
        "full neuron analysis": best_time(lambda: neuron_fourier_analysis(params, cfg, "add"), args.repeats),
        '  "=" forward (fast path)': best_time(lambda: equals_position_forward(params, cfg, x), args.repeats),
        "  Fourier shares": best_time(lambda: neuron_fourier_shares(acts, cfg.p), args.repeats),
        "reference forward with cache": best_time(reference_forward, args.repeats),
    }
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.node()} {platform.machine()} {platform.processor() or ''} "
          f"cpus={os.cpu_count()} torch_threads={torch.get_num_threads()} torch={torch.__version__}")
    print(f"model: p={cfg.p}, d_mlp={cfg.d_mlp}, {source}; best of {args.repeats}")
    for name, seconds in timings.items():
        print(f"{name:32s} {seconds * 1000:8.1f} ms")
    ratio = timings["reference forward with cache"] / timings['  "=" forward (fast path)']
    print(f'reference forward / "=" forward: {ratio:.1f}x')


if __name__ == "__main__":
    main()
