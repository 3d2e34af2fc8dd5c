"""What the probes cost at paper scale: training with and without them, side by side, then
extrapolated to the probe reruns.

    ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1 python benchmarks/probe_overhead.py [--epochs 200] [--rounds 1]

Each round trains seed 42's grokked transfer (p = 113, from the committed source's weights, one
model, on the CPU) for ``--epochs`` epochs twice, without and with the paper profile's probes,
in alternating order; the difference per probe taken is one probe's cost, and the run without
probes gives the cost of an epoch (medians over rounds). The extrapolation counts the probes
each of the 25 probe reruns takes (``probe_epochs`` to its stop, plus the threshold crossings
and its last epoch), with each rerun's stop read off the committed curve (a source stops where
it did; a transfer at the top threshold held ``probe_hold_epochs``, or at its cap), and prints
the overhead per run, per condition and over the whole rerun.

``--tasks`` measures the runs with task tokens instead (chapters 13-16: their probes add the
addition readout at its own token and Furuta et al.'s measures): seed 42's sequential transfer to
subtraction and its similarity transfer to multiplication, both from the grokked source, without
and with their probes, side by side in the same way. Their stops are not known before they train,
so it prints the overhead of a run stopping at a few epochs instead.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date

import pandas as pd
import torch

from grokpaper.analysis.probes import make_probes, probe_epochs
from grokpaper.config import chapter_params
from grokpaper.core.data import make_split
from grokpaper.core.model import ModelConfig
from grokpaper.core.store import RunStore, config_key
from grokpaper.core.study import CONDITIONS, ProbeRequest, Study, StudySettings
from grokpaper.core.train import ModelRun, train


def timed_run(settings: StudySettings, source: dict, epochs: int, probes: bool) -> tuple[float, int]:
    """Seconds to train the grokked transfer of seed 42 for ``epochs`` epochs, and probes taken."""
    run = ModelRun("transfer", make_split(settings.transfer_task, settings.p, 42, settings.frac_train), source,
                   max_epochs=epochs)
    observers = ()
    if probes:
        spec = settings.probe_transfer_config(42, "grokked")["probes"]
        observers = (make_probes([ProbeRequest(0, run, settings.transfer_task, spec, source)], settings.model),)
    started = time.perf_counter()
    outcome = train([run], settings.model, settings.hyper, settings.eval_every, device="cpu", progress=False,
                    observers=observers)[0]
    return time.perf_counter() - started, len(outcome.records.get("probes", []))


def timed_task_run(study: Study, config: dict, epochs: int, probes: bool) -> tuple[float, int]:
    """Seconds to train one run with task tokens (``config``: ``settings.task_config``) for
    ``epochs`` epochs without or with its probes, and probes taken; built as ``Study`` builds it."""
    run = ModelRun("task", study._split(config), study._init(config), max_epochs=epochs,
                   frozen=tuple(config.get("frozen", ())))
    model = ModelConfig(**config["model"])
    observer = study._probe_observer({"task": config}, [run], model) if probes else None
    started = time.perf_counter()
    outcome = train([run], model, study.settings.hyper, study.settings.eval_every, device="cpu", progress=False,
                    observers=(observer,) if observer else ())[0]
    return time.perf_counter() - started, len(outcome.records.get("probes", []))


def side_by_side(timed, epochs: int, rounds: int) -> tuple[float, float]:
    """(seconds per epoch without probes, seconds per probe): ``timed(probes)`` run without and with
    probes in alternating order each round, medians over rounds."""
    without, extra = [], []
    for round_number in range(rounds):
        order = (False, True) if round_number % 2 == 0 else (True, False)
        times = {probes: timed(probes) for probes in order}
        without.append(times[False][0] / epochs)
        extra.append((times[True][0] - times[False][0]) / times[True][1])
    return statistics.median(without), statistics.median(extra)


def task_main(args) -> None:
    """``--tasks``: the probes of the runs with task tokens, side by side with their training."""
    settings = StudySettings.from_params(chapter_params("13-task-tokens", "paper"))
    study = Study(settings, RunStore(), progress=False, probes=make_probes)
    print(f"{date.today()}  p={settings.p}  {platform.machine()}, {torch.get_num_threads()} thread(s), CPU kernels "
          f"{torch.backends.cpu.get_cpu_capability()}  torch {torch.__version__}  ({args.rounds} round(s) of "
          f"{args.epochs} epochs with and without probes)")
    stops = (1_000, 3_000, 10_000, settings.task_max_epochs)
    for experiment, target in (("sequential", settings.transfer_task), ("similarity", "multiply")):
        config = settings.task_config(42, experiment, "grokked", target)
        epoch_s, probe_s = side_by_side(lambda probes, c=config: timed_task_run(study, c, args.epochs, probes),
                                        args.epochs, args.rounds)
        overhead = ", ".join(f"{stop:,}: {probes_taken(stop, settings) * probe_s / (stop * epoch_s):.1%}" for stop in stops)
        print(f"{experiment} -> {target}, seed 42, grokked: one epoch (no probes) {1000 * epoch_s:.1f} ms; one probe "
              f"{1000 * probe_s:.0f} ms = {probe_s / epoch_s:.1f} epochs; probes add, to a run stopping at "
              f"(epochs) {overhead}")


def rerun_stop(curve: pd.DataFrame, threshold: float, hold: int, cap: int) -> int:
    """Where a transfer probe rerun stops: the first evaluation at which test accuracy has held
    ``threshold`` for ``hold`` epochs (as the trainer's stop event), else the cap."""
    since = None
    for epoch, acc in zip(curve["epoch"], curve["test_acc"]):
        since = (since if since is not None else epoch) if acc >= threshold - 1e-12 else None
        if since is not None and epoch - since >= hold:
            return int(epoch)
    return cap


def probes_taken(stop: int, settings: StudySettings) -> int:
    """Probes of a rerun that stops at ``stop``: its cadence, at most one per threshold, the end."""
    s = settings
    return len(probe_epochs(stop, s.eval_every, s.probe_dense_until, s.probe_dense_every, s.probe_per_decade)) \
        + len(s.thresholds) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tasks", action="store_true", help="the runs with task tokens (chapters 13-16) instead")
    args = parser.parse_args()
    if args.epochs < 10 or args.rounds < 1:
        raise SystemExit(f"--epochs must be >= 10 and --rounds >= 1, got {args.epochs} and {args.rounds}")
    if args.tasks:
        task_main(args)
        return
    settings = StudySettings.from_params(chapter_params("01-sources", "paper"))
    store = RunStore()
    source = store.load(config_key(settings.source_config(42))).params()

    epoch_s, probe_s = side_by_side(lambda probes: timed_run(settings, source, args.epochs, probes),
                                    args.epochs, args.rounds)

    rows = []
    for seed in settings.seeds:
        source_run = store.load(config_key(settings.source_config(seed)))
        rows.append(("source", seed, source_run.result["epochs_trained"]))
        for condition in CONDITIONS:
            curve = store.load(config_key(settings.transfer_config(seed, condition))).curve
            rows.append((condition, seed, rerun_stop(curve, settings.top_threshold, settings.probe_hold_epochs,
                                                     settings.transfer_max_epochs)))
    table = pd.DataFrame(rows, columns=["run", "seed", "stop"])
    table["probes"] = [probes_taken(stop, settings) for stop in table["stop"]]
    table["train_s"] = table["stop"] * epoch_s
    table["probe_s"] = table["probes"] * probe_s
    by_run = table.groupby("run", sort=False)[["stop", "probes", "train_s", "probe_s"]].sum()
    by_run["overhead"] = by_run["probe_s"] / by_run["train_s"]
    total = table[["stop", "probes", "train_s", "probe_s"]].sum()

    print(f"{date.today()}  p={settings.p}  {platform.machine()}, {torch.get_num_threads()} thread(s), CPU kernels "
          f"{torch.backends.cpu.get_cpu_capability()}  torch {torch.__version__}  ({args.rounds} round(s) of "
          f"{args.epochs} epochs with and without probes)")
    print(f"one epoch (no probes): {1000 * epoch_s:.1f} ms; one probe: {1000 * probe_s:.0f} ms "
          f"= {probe_s / epoch_s:.1f} epochs")
    print(f"\nthe probe reruns (cadence: every {settings.probe_dense_every} epochs to {settings.probe_dense_until}, "
          f"then {settings.probe_per_decade} per decade; transfers stop at {settings.top_threshold:g} held "
          f"{settings.probe_hold_epochs} epochs), extrapolated per kind of run (5 seeds each):")
    print(by_run.assign(overhead=by_run["overhead"].map("{:.1%}".format)).round(0).to_string())
    print(f"all 25 reruns: {int(total['stop']):,} epochs, {int(total['probes']):,} probes: probes add "
          f"{total['probe_s'] / total['train_s']:.1%} to training time")
    dense = probes_taken(settings.probe_dense_until, settings) * probe_s / (settings.probe_dense_until * epoch_s)
    print(f"(in the dense phase alone, the first {settings.probe_dense_until} epochs: {dense:.0%})")


if __name__ == "__main__":
    main()
