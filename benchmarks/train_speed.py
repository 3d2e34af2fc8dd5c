"""Training speed: our trainer against the original study's step, measured side by side.

    python benchmarks/train_speed.py [--p 113] [--epochs 20] [--rounds 3] [--device cpu|cuda] [--models 1,15]
                                     [--breakdown]

Rows, in ms per model-epoch (the median over rounds; every round runs every row, so the drift
of a shared machine hits all rows alike):

* baseline: the original study's step as written (its ``transformers.py``,
  ``Trainer.do_a_training_step``): the reference model's full 3-position forward on the train
  set and on the test set every epoch, the test loss computed with autograd on (no
  ``torch.no_grad``, so its graph is built and thrown away), both losses read with ``.item()``,
  backward of the train loss, torch AdamW and the warm-up scheduler. One model.
* reference: the same step with the train loss only (no test pass). One model.
* ours M=...: ``grokpaper.core.train.train`` itself, M models in one batch ("=" position only,
  the test set every 10 epochs, chunked as the trainer chooses: one model per chunk on a CPU, the
  whole batch on a GPU); then the largest M up to 15 chunked the other way, which shows why it
  chooses so (up to 15: on a GPU, 240 models one at a time took 100 of the check's 150 s).
* floor: the matrix products ours has to do per model-epoch, at the matmul rate this machine
  gives in the same rounds (``floor_gflop`` says exactly what is counted).

``--models`` defaults to 1,15 on a CPU and 1,15,60,240 on CUDA. ``--device cuda`` without a CUDA
GPU stops with an error; nothing falls back to the CPU.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from functools import partial

import torch
import torch.nn.functional as F

from grokpaper.core.data import make_split
from grokpaper.core.model import ModelConfig, Transformer, init_params
from grokpaper.core.train import ModelRun, train

EVAL_EVERY = 10  # ours evaluates the test set every 10 epochs, as the study does


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def reference_model(cfg, device):
    """The reference model with torch's AdamW and the original warm-up, as the original code sets them up."""
    model = Transformer(cfg, init_params(cfg, torch.Generator().manual_seed(0))).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(step / 10, 1))
    return model, opt, sched


def full_loss(model, x, y):
    """The original's loss: cross-entropy at the last position, the log-softmax in float64."""
    return F.cross_entropy(model(x)[:, -1].double(), y)


def baseline_ms(cfg, split, epochs, device) -> float:
    """The original study's step as written: train and test loss every epoch, both with autograd on.

    Its code also rebuilt the label tensors from Python lists in every call; that is left out here
    (the data are tensors on the device before the clock starts), so if anything this baseline is
    faster than the original was.
    """
    model, opt, sched = reference_model(cfg, device)
    train_x, train_y = split.train_x.to(device), split.train_y.to(device)
    test_x, test_y = split.test_x.to(device), split.test_y.to(device)
    train_losses, test_losses = [], []
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        train_loss = full_loss(model, train_x, train_y)
        test_loss = full_loss(model, test_x, test_y)  # no torch.no_grad: as written
        train_losses.append(train_loss.item())
        test_losses.append(test_loss.item())
        train_loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    sync(device)
    return (time.perf_counter() - start) / epochs * 1000


def reference_ms(cfg, split, epochs, device) -> float:
    """The same step with the train loss only: what the original's model and optimiser cost alone."""
    model, opt, sched = reference_model(cfg, device)
    x, y = split.train_x.to(device), split.train_y.to(device)
    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        full_loss(model, x, y).backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    sync(device)
    return (time.perf_counter() - start) / epochs * 1000


def ours_ms(cfg, n_models, epochs, device, models_per_chunk=None) -> float:
    """Our trainer on n_models runs (each its own split and init) for ``epochs`` epochs.

    A run of E epochs makes E updates but E + 1 train passes and E / 10 + 1 test passes (epoch 0
    and epoch E are evaluated, and epoch E's gradient is computed and not used), so this is a
    slight over-estimate of the steady state: about 1 / E (5 % at the default 20 epochs).
    """
    runs = [
        ModelRun(f"m{i}", make_split("subtract", cfg.p, i), init_params(cfg, torch.Generator().manual_seed(i)), epochs)
        for i in range(n_models)
    ]
    sync(device)
    start = time.perf_counter()
    train(runs, cfg, eval_every=EVAL_EVERY, device=device, progress=False, models_per_chunk=models_per_chunk)
    sync(device)
    return (time.perf_counter() - start) / (epochs * n_models) * 1000


MATMUL_OPS = ("aten::mm", "aten::bmm", "aten::baddbmm", "aten::addmm")


def breakdown(cfg, epochs, device) -> dict[str, float]:
    """Where ours' time goes, per model-epoch (ms), at M = 1: matrix products (the ops the floor
    counts, at the rate they ran), every other torch op (element-wise work, the float64
    log-softmax, gathers and scatters, AdamW, copies), and the rest of the wall time (Python,
    autograd's bookkeeping, the trainer's per-epoch checks). Self times from torch.profiler, whose
    own cost is in the total, so read the shares, not the sum against the plain row above."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        wall = ours_ms(cfg, 1, epochs, device) * epochs / 1000
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    matmul = sum(getattr(e, attr) for e in events if e.key in MATMUL_OPS) / 1e6
    other = sum(getattr(e, attr) for e in events if e.key not in MATMUL_OPS) / 1e6
    per = 1000 / epochs
    largest_other = sorted(((getattr(e, attr) / 1e6 * per, e.key) for e in events if e.key not in MATMUL_OPS),
                           reverse=True)[:8]
    return {"matrix products": matmul * per, "other torch ops": other * per,
            "Python and overhead": max(0.0, wall - matmul - other) * per, "total (profiled)": wall * per,
            **{f"  of which {key}": ms for ms, key in largest_other}}


def forward_gflop(cfg, n_examples) -> float:
    """Matmul work of our forward pass over n examples: at the "=" position, the products with
    W_O, W_in, W_out and W_U (2 flop per multiply-add)."""
    per_example = cfg.d_model * cfg.d_model + 2 * cfg.d_model * cfg.d_mlp + cfg.d_model * cfg.d_vocab
    return 2 * n_examples * per_example / 1e9


def floor_gflop(cfg, n_train, n_test) -> float:
    """Matmul work of one model-epoch of ours, which the floor counts: the train step's forward and
    backward over the train set (backward = twice the forward: one product for the input's
    gradient, one for the weight's) plus a tenth of a test-set forward (one every 10 epochs).

    Not counted, so the floor is a lower bound: the attention's per-token tables (products of
    size d_vocab, not n_examples), element-wise work (softmax, ReLU, the float64 log-softmax),
    AdamW, and Python and autograd overhead.
    """
    return 3 * forward_gflop(cfg, n_train) + forward_gflop(cfg, n_test) / EVAL_EVERY


def matmul_gflops(device, n_train, cfg, n_models) -> float:
    """This machine's rate right now (it drifts on a shared host) on the step's main product,
    (n_train x d_model) @ (d_model x d_mlp), for n_models models at once, the batch ours multiplies."""
    a = torch.randn(n_models, n_train, cfg.d_model, device=device)
    b = torch.randn(n_models, cfg.d_model, cfg.d_mlp, device=device)
    for _ in range(3):
        torch.bmm(a, b)
    sync(device)
    start = time.perf_counter()
    for _ in range(20):
        torch.bmm(a, b)
    sync(device)
    return 2 * n_models * n_train * cfg.d_model * cfg.d_mlp * 20 / (time.perf_counter() - start) / 1e9


def model_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--models takes positive integers separated by commas (e.g. 1,15), got {text!r}")
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--p", type=int, default=113)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--breakdown", action="store_true",
                        help="after the table, where ours' time goes at M = 1 (torch.profiler)")
    parser.add_argument("--models", type=model_counts, help="model counts for ours (default 1,15; 1,15,60,240 on CUDA)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"error: --device cuda, but torch {torch.__version__} sees no CUDA GPU here "
                 "(torch.cuda.is_available() is False); nothing was measured, and nothing falls back to the CPU")
    models = args.models or ([1, 15, 60, 240] if device.type == "cuda" else [1, 15])
    cfg = ModelConfig(p=args.p)
    split = make_split("subtract", args.p, 0)
    n_train, n_test = len(split.train_x), len(split.test_x)

    largest = max(models)
    # The trainer's default chunking (one model per chunk on a CPU, the whole batch on a GPU) and,
    # for the largest batch up to 15 models, the other one.
    batched_on_device = device.type == "cuda"
    rows = {
        "baseline: original as written (M=1)": partial(baseline_ms, cfg, split, device=device),
        "reference: train loss only (M=1)": partial(reference_ms, cfg, split, device=device),
        **{f"ours M={m}": partial(ours_ms, cfg, m, device=device) for m in models},
    }
    swapped = max([m for m in models if m <= 15], default=min(models))
    if swapped > 1:
        other = "chunks of 1" if batched_on_device else "one batch"
        rows[f"ours M={swapped}, {other}"] = partial(
            ours_ms, cfg, swapped, device=device, models_per_chunk=1 if batched_on_device else swapped)
    # The matmul rate is measured on the batch ours multiplies at once: one model on a CPU, the
    # largest batch on a GPU (where a bigger batch gets a better rate: the floor is the largest M's).
    rate_batch = largest if batched_on_device else 1

    for measure in rows.values():  # warm-up: allocator, kernels, caches
        measure(epochs=2)
    times = {label: [] for label in rows}
    rates = []
    for _ in range(args.rounds):
        for label, measure in rows.items():
            times[label].append(measure(epochs=args.epochs))
        rates.append(matmul_gflops(device, n_train, cfg, rate_batch))

    medians = {label: statistics.median(values) for label, values in times.items()}
    rate = statistics.median(rates)
    work = floor_gflop(cfg, n_train, n_test)
    floor = work / rate * 1000
    medians[f"floor: ours' matmuls at {rate:.0f} GFLOP/s"] = floor
    baseline = medians["baseline: original as written (M=1)"]

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"{date.today()}  p={args.p}  {n_train} train / {n_test} test pairs  device: {name}  torch {torch.__version__}"
          f"  (median of {args.rounds} rounds of {args.epochs} epochs)")
    width = max(len(label) for label in medians)
    print(f"{'':{width}s}  {'ms / model-epoch':>16s}  {'speed-up vs baseline':>20s}  {'x floor':>7s}")
    for label, ms in medians.items():
        print(f"{label:{width}s}  {ms:16.2f}  {baseline / ms:19.1f}x  {ms / floor:7.2f}")
    print(f"floor: {work:.2f} GFLOP of matmuls per model-epoch (train step {3 * forward_gflop(cfg, n_train):.2f}, "
          f"test forward {forward_gflop(cfg, n_test):.2f} every {EVAL_EVERY} epochs); rate measured in the same rounds on "
          f"{n_train}x{cfg.d_model} @ {cfg.d_model}x{cfg.d_mlp}, {rate_batch} model(s) at a time")
    if args.breakdown:
        parts = breakdown(cfg, args.epochs, device)
        total = parts["total (profiled)"]
        print(f"where ours' time goes at M=1 (torch.profiler, {args.epochs} epochs; ms / model-epoch):")
        for label, ms in parts.items():
            print(f"  {label:40s} {ms:8.2f}  {100 * ms / total:5.1f} %")
        print(f"  the floor's matmuls in the matrix products' time:  {floor_gflop(cfg, n_train, n_test) / parts['matrix products'] * 1000:.0f} GFLOP/s "
              f"(the floor's rate: {rate:.0f})")


if __name__ == "__main__":
    main()
