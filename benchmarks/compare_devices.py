"""CPU against CUDA: the same training runs on both devices, their learning curves compared.

    python benchmarks/compare_devices.py [--profile paper] [--seeds 42] [--epochs 20] [--eval-every 1]
                                         [--conditions grokked,memorized,memorized-fixed,random]
                                         [--devices cpu,cuda] [--loss-tol 1e-4] [--report]
    python benchmarks/compare_devices.py --stores store /scratch/store [--profile paper]

The first form trains the profile's transfer runs (its settings, the given seeds and
conditions, ``--epochs`` epochs instead of the cap, evaluated every ``--eval-every`` epochs)
once on each device, each device's batch chunked as the trainer chooses there, and compares
every evaluation. The tolerance: the evaluated epochs the same, train and test accuracy
identical at every evaluation as counts of correct examples (the accuracy's last bits may
differ, as the devices sum the mean in different orders), losses within ``--loss-tol``
(absolute). It prints the largest differences and exits 1 on a mismatch; ``--report`` prints
the same and exits 0, for horizons where the devices are expected to part. Runs from a grokked
or memorized source read the source's weights from the run store (the paper profile's are
committed); nothing is written to it.

Why a short horizon by default: the two devices' matrix products round differently (their
kernels sum in different orders), and training amplifies such differences. On an H200 against
16 CPU threads (2026-11-29), 300 epochs of seed 42's four transfers agreed within the tolerance
for 20 epochs, then parted: accuracies by one example from epoch 40 (test accuracy from epoch
50-110), losses by more than 1e-4 from epoch 40-240. So the strict check covers the first 20
epochs, every epoch, and the longer horizon is reported.

The second form trains nothing: it sets two stores' transfer runs side by side (epochs to 99.9 %
test accuracy, final test accuracy), e.g. the committed CPU runs and the same runs trained on a
GPU. Full-length runs on two devices need not agree epoch for epoch (rounding differences grow
over thousands of updates), so this is a report, not a check.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from grokpaper.analysis.curves import epochs_to_threshold
from grokpaper.core.data import make_split
from grokpaper.core.model import init_params
from grokpaper.core.store import RunNotStored, RunStore
from grokpaper.core.study import CONDITIONS, Study, open_study
from grokpaper.core.train import ModelRun, train

ACCURACIES = ("train_acc", "test_acc")
LOSSES = ("train_loss", "test_loss")


def compare_curves(a: dict[str, dict[str, list]], b: dict[str, dict[str, list]],
                   loss_tol: float = 1e-4, examples: dict[str, int] | None = None) -> tuple[dict[str, float], list[str]]:
    """Compare two sets of learning curves (run name -> {"epoch": [...], metric: [...]}): the
    largest absolute difference of each metric over all runs and evaluations, and the mismatches
    (empty when the curves agree: same runs, same evaluated epochs, accuracies identical,
    losses within ``loss_tol``). ``examples`` (accuracy metric -> number of examples) compares
    the accuracies as counts of correct examples; without it they must be equal floats."""
    largest = {metric: 0.0 for metric in (*ACCURACIES, *LOSSES)}
    problems = []
    if sorted(a) != sorted(b):
        problems.append(f"different runs: {sorted(a)} and {sorted(b)}")
    for name in sorted(set(a) & set(b)):
        if a[name]["epoch"] != b[name]["epoch"]:
            problems.append(f"{name}: evaluated at different epochs")
            continue
        # An accuracy differs when its count of correct examples does: by half an example or more.
        accuracy_tol = {m: (0.5 / examples[m] if examples else 0.0) for m in ACCURACIES}
        for metric, tolerance in [(m, accuracy_tol[m]) for m in ACCURACIES] + [(m, loss_tol) for m in LOSSES]:
            differences = [abs(x - y) for x, y in zip(a[name][metric], b[name][metric])]
            largest[metric] = max([largest[metric], *differences])
            beyond = [i for i, d in enumerate(differences)  # NaN counts as beyond
                      if not (d < tolerance if metric in ACCURACIES and examples else d <= tolerance)]
            if beyond:
                i = beyond[0]
                problems.append(f"{name}: {metric} differs at {len(beyond)} evaluation(s), first at epoch "
                                f"{a[name]['epoch'][i]}: {a[name][metric][i]!r} against {b[name][metric][i]!r}")
    return largest, problems


def transfer_runs(study: Study, conditions: list[str], epochs: int) -> list[ModelRun]:
    """The study's transfer runs for its seeds and these conditions, cut to ``epochs`` epochs."""
    s = study.settings
    runs = []
    for seed in s.seeds:
        for condition in conditions:
            if condition == "random":  # the very weights the seed's source started from, as the study does
                init = init_params(s.model, torch.Generator().manual_seed(seed))
            else:
                init = study.source(seed, condition)
            runs.append(ModelRun(f"{condition} seed {seed}", make_split(s.transfer_task, s.p, seed, s.frac_train),
                                 init, epochs))
    return runs


def train_on(device: str, study: Study, runs: list[ModelRun], eval_every: int) -> tuple[dict[str, dict[str, list]], float]:
    """Train the runs as one batch on ``device``; their curves by run name, and the wall time."""
    s = study.settings
    start = time.perf_counter()
    outcomes = train(runs, s.model, s.hyper, eval_every=eval_every, device=device, progress=False)
    return {o.name: o.curve for o in outcomes}, time.perf_counter() - start


def check_devices(args) -> int:
    devices = args.devices.split(",")
    if len(devices) != 2 or any(d not in ("cpu", "cuda") for d in devices):
        sys.exit(f"error: --devices takes two of cpu and cuda separated by a comma (e.g. cpu,cuda), got {args.devices!r}")
    if "cuda" in devices and not torch.cuda.is_available():
        sys.exit(f"error: --devices {args.devices} asks for CUDA, but torch {torch.__version__} sees no CUDA GPU here "
                 "(torch.cuda.is_available() is False); nothing was compared")
    conditions = args.conditions.split(",")
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        sys.exit(f"error: unknown condition(s) {unknown}; the conditions are {', '.join(CONDITIONS)}")
    study = open_study(args.profile, seeds=args.seeds)
    try:
        runs = transfer_runs(study, conditions, args.epochs)
    except RunNotStored as err:
        sys.exit(f"error: {err}")
    curves, seconds = {}, {}
    for device in devices:
        curves[device], seconds[device] = train_on(device, study, runs, args.eval_every)
    examples = {"train_acc": len(runs[0].split.train_x), "test_acc": len(runs[0].split.test_x)}
    largest, problems = compare_curves(curves[devices[0]], curves[devices[1]], args.loss_tol, examples)

    evaluations = len(next(iter(curves[devices[0]].values()))["epoch"])
    print(f"compare_devices: profile {args.profile}, seeds {', '.join(map(str, study.settings.seeds))}; {', '.join(conditions)}; "
          f"{args.epochs} epochs, {evaluations} evaluations per run (every {args.eval_every}); torch {torch.__version__}")
    print("  ".join(f"{device}: {seconds[device]:.1f} s" for device in devices)
          + (f"  ({torch.cuda.get_device_name()})" if "cuda" in devices else ""))
    print(f"largest |{devices[0]} - {devices[1]}| over {len(runs)} runs: "
          + "  ".join(f"{metric} {value:.3g}" for metric, value in largest.items())
          + f"  (tolerance: accuracies identical as counts of {examples['train_acc']} train and "
            f"{examples['test_acc']} test examples, losses {args.loss_tol:g})")
    for problem in problems:
        print(f"{'DIFFERS' if args.report else 'MISMATCH'} {problem}")
    if args.report:
        print(f"REPORT: over {args.epochs} epochs the devices " + ("part as listed" if problems else "agree within the tolerance"))
        return 0
    print("FAIL: the devices disagree beyond the tolerance" if problems else "PASS: the devices agree within the tolerance")
    return 1 if problems else 0


def stores_side_by_side(args) -> int:
    first, second = args.stores
    print(f"transfer runs of profile {args.profile}: epochs to 99.9 % test accuracy / final test accuracy")
    print(f"{'run':28s}  {first:>30s}  {second:>30s}")
    for seed in open_study(args.profile).settings.seeds:
        for condition in CONDITIONS:
            cells = []
            for path in args.stores:
                try:
                    run = open_study(args.profile, seeds=[seed], store=RunStore(path)).transfers((condition,))[0]
                except RunNotStored:
                    cells.append("not stored")
                    continue
                reached = epochs_to_threshold(run.curve, 0.999)
                cells.append(f"{'never' if reached is None else reached} / {run.curve['test_acc'].iloc[-1]:.4f}")
            print(f"{f'{condition} seed {seed}':28s}  {cells[0]:>30s}  {cells[1]:>30s}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=1)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--loss-tol", type=float, default=1e-4)
    parser.add_argument("--report", action="store_true", help="print the differences and exit 0 (a long horizon)")
    parser.add_argument("--stores", nargs=2, metavar=("STORE_A", "STORE_B"),
                        help="set two stores' transfer runs side by side instead (trains nothing)")
    args = parser.parse_args()
    return stores_side_by_side(args) if args.stores else check_devices(args)


if __name__ == "__main__":
    sys.exit(main())
