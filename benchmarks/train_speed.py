"""Training speed: our batched trainer against a plain reference loop, measured side by side.

    python benchmarks/train_speed.py [--p 113] [--epochs 20] [--rounds 3] [--device cpu|cuda]

The plain reference is the original training step: the reference model's full 3-position
forward, one model per step, torch AdamW, no per-epoch test pass. Ours is
``grokpaper.core.train.train`` itself (batched, "=" only, test set evaluated every 10 epochs)
for M = 1 and M = 15 models (M = 15 run through the forward/backward in chunks of 1, 3 or
all 15 models: same numbers, different memory traffic). Rounds interleave the three so machine noise hits all alike;
the table reports the median ms per model-epoch and the ratio to the reference.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date

import torch
import torch.nn.functional as F

from grokpaper.core.data import make_split
from grokpaper.core.model import ModelConfig, Transformer, init_params
from grokpaper.core.train import ModelRun, train


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_reference_ms(cfg, split, epochs, device) -> float:
    model = Transformer(cfg, init_params(cfg, torch.Generator().manual_seed(0))).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(step / 10, 1))
    x, y = split.train_x.to(device), split.train_y.to(device)
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        F.cross_entropy(model(x)[:, -1].double(), y).backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    sync(device)
    return (time.perf_counter() - start) / epochs * 1000


def trainer_ms(cfg, n_models, epochs, device, models_per_chunk=None) -> float:
    runs = [
        ModelRun(f"m{i}", make_split("subtract", cfg.p, i), init_params(cfg, torch.Generator().manual_seed(i)), epochs)
        for i in range(n_models)
    ]
    sync(device)
    start = time.perf_counter()
    train(runs, cfg, eval_every=10, device=device, progress=False, models_per_chunk=models_per_chunk)
    sync(device)
    return (time.perf_counter() - start) / (epochs * n_models) * 1000


def model_epoch_gflop(cfg, n_train) -> float:
    """Matmul work of one training step of one model: the "=" position's MLP and unembed,
    forward (2 flop per multiply-add) plus backward (twice the forward)."""
    forward = 2 * n_train * (2 * cfg.d_model * cfg.d_mlp + cfg.d_model * cfg.d_vocab + cfg.d_model * cfg.d_model)
    return 3 * forward / 1e9


def matmul_gflops(device, n_train) -> float:
    """This machine's rate on the step's main product shape, right now (it drifts on a shared host)."""
    a, b = torch.randn(n_train, 128, device=device), torch.randn(128, 512, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(20):
        a @ b
    sync(device)
    return 2 * n_train * 128 * 512 * 20 / (time.perf_counter() - start) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--p", type=int, default=113)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    cfg = ModelConfig(p=args.p)
    split = make_split("subtract", args.p, 0)
    trainer_ms(cfg, 2, 3, device)  # warm-up (allocator, kernels)
    variants = {
        "ours M=1": (1, 1),
        "ours M=15, chunks of 1": (15, 1),
        "ours M=15, chunks of 3": (15, 3),
        "ours M=15, one batch": (15, 15),
    }
    times = {"plain reference (M=1)": [], **{label: [] for label in variants}}
    for _ in range(args.rounds):
        times["plain reference (M=1)"].append(plain_reference_ms(cfg, split, args.epochs, device))
        for label, (n_models, chunk) in variants.items():
            times[label].append(trainer_ms(cfg, n_models, args.epochs, device, chunk))
    ref = statistics.median(times["plain reference (M=1)"])
    rate = matmul_gflops(device, len(split.train_x))
    floor = model_epoch_gflop(cfg, len(split.train_x)) / rate * 1000
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"{date.today()}  p={args.p}  {len(split.train_x)} train pairs  device: {name}  torch {torch.__version__}")
    print(f"{'':24s} {'ms / model-epoch':>17s} {'speed-up vs reference':>22s}   (median of {args.rounds} rounds)")
    for label, values in times.items():
        ms = statistics.median(values)
        print(f"{label:24s} {ms:17.2f} {ref / ms:21.1f}x")
    print(f"matmul rate now: {rate:.0f} GFLOP/s on the step's main product; one model-step needs "
          f"{model_epoch_gflop(cfg, len(split.train_x)):.2f} GFLOP of matmuls -> floor {floor:.1f} ms / model-epoch")


if __name__ == "__main__":
    main()
