"""What a run of chapters would train before it can execute them: the study's runs that are
not in the store, their model-epochs, and the wall time that takes on this machine, from a
training rate measured here and now.

The chapters that open a ``Study`` train the runs they ask for and do not find stored. At paper
scale that is hours of CPU per run, so the runner says so before anything starts: ``run
--dry-run`` lists the runs with their model-epochs and an estimate (``describe``), and ``run``
trains runs at paper scale only when told to with ``--train`` (``refusal``).
"""

from __future__ import annotations

import ast
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from grokpaper.builder.plan import Chapter, PlanItem, executed_code
from grokpaper.core.data import make_split
from grokpaper.core.model import init_params
from grokpaper.core.parallel import jobs
from grokpaper.core.store import RunStore
from grokpaper.core.study import StudySettings
from grokpaper.core.train import ModelRun, train

# Paper scale: the modulus of the study (113). From p = 100 on, one epoch of one model costs
# about 0.1 s on a CPU core and a run 30,000 epochs: hours per run. The smoke profile (p = 23)
# trains its ten runs in about two minutes, and trains without asking.
PAPER_SCALE_P = 100
COMMITTED_KERNELS = "AVX2"  # the torch CPU kernels every committed run was trained with (README)


def kernel_notice(capability: str | None = None, environ=None) -> str | None:
    """One line for a CPU host whose torch picks other kernels than the committed runs' (AVX-512
    rounds differently from AVX2: a run trained here does not equal the same run trained there), with
    the fix; None when the kernels match or ``ATEN_CPU_CAPABILITY`` chose them."""
    environ = os.environ if environ is None else environ
    capability = capability or torch.backends.cpu.get_cpu_capability()
    if capability == COMMITTED_KERNELS or environ.get("ATEN_CPU_CAPABILITY"):
        return None
    return (f"note: torch uses {capability} kernels on this CPU; the committed runs were trained with "
            f"{COMMITTED_KERNELS} kernels, which round differently, so a run trained here will not equal the same run "
            f"trained there. ATEN_CPU_CAPABILITY={COMMITTED_KERNELS.lower()} (README: 'Launch them with the AVX2 "
            "kernels') makes them equal; a GPU run is unaffected.")
TIMING_SECONDS = 2.0  # about how long the measurement of the training rate takes


@dataclass(frozen=True)
class PendingRun:
    """A run a chapter would train: its label (``source seed 5``), store key, modulus and epochs
    (at most ``max_epochs``; exactly that many when it cannot stop early)."""

    label: str
    key: str
    p: int
    max_epochs: int
    stops_early: bool

    @property
    def paper_scale(self) -> bool:
        return self.p >= PAPER_SCALE_P


@dataclass(frozen=True)
class Rate:
    """Seconds per model-epoch measured on this machine, and how (for the reader)."""

    seconds_per_model_epoch: float
    how: str


def trains(chapter: Chapter) -> bool:
    """Whether a chapter opens a ``Study`` (imports it from ``grokpaper.core.study``), which
    trains the runs it does not find stored; ``open_study`` and ``open_run`` only read."""
    for code in executed_code(chapter.notebook):
        try:
            tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                       for line in code.splitlines()))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "grokpaper.core.study" and \
                    any(alias.name == "Study" for alias in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and node.module == "grokpaper.core" and \
                    any(alias.name == "study" for alias in node.names):
                return True
            if isinstance(node, ast.Import) and any(alias.name == "grokpaper.core.study" for alias in node.names):
                return True
    return False


def store_for(root: Path) -> RunStore:
    """The run store the chapters of the project at ``root`` use: ``$GROKPAPER_STORE``, else ``store/``."""
    return RunStore(os.environ.get("GROKPAPER_STORE") or root / "store")


def runs_to_train(items: list[PlanItem], root: Path) -> list[PendingRun]:
    """The runs that the chapters executing in this plan would train first: every run of their
    study settings that is not stored, in the order ``train all`` starts them."""
    store, pending = store_for(root), {}
    for item in items:
        if not (item.execute and trains(item.chapter)):
            continue
        settings = StudySettings.from_params(item.params)
        for job in jobs(settings):
            if job.key in pending or store.has(job.key):
                continue
            source = job.label.startswith("source")
            pending[job.key] = PendingRun(
                job.label, job.key, settings.p,
                settings.grokked_max_epochs if source else settings.transfer_max_epochs,
                stops_early=source or settings.transfer_hold_epochs is not None)
    return list(pending.values())


def model_epochs(runs: list[PendingRun]) -> int:
    """The model-epochs of ``runs`` at most (a run that stops early counted at its cap)."""
    return sum(run.max_epochs for run in runs)


def measure_rate(settings: StudySettings, seconds: float = TIMING_SECONDS) -> Rate:
    """Time the project's trainer on one model of ``settings`` (its modulus, train fraction,
    device and this process's torch threads) for about ``seconds``, after a warm-up; returns
    the seconds per model-epoch."""
    split = make_split(settings.source_task, settings.p, 0, settings.frac_train)
    device = settings.torch_device

    def timed(epochs: int) -> float:
        run = ModelRun("timing", split, init_params(settings.model, torch.Generator().manual_seed(0)), epochs)
        start = time.perf_counter()
        train([run], settings.model, settings.hyper, eval_every=settings.eval_every, device=device, progress=False)
        return time.perf_counter() - start

    warm = timed(3) / 3  # the first epochs pay for allocation and warm caches
    epochs = int(min(200, max(20, seconds / max(warm, 1e-6))))
    elapsed = timed(epochs)
    threads = torch.get_num_threads() if device.type == "cpu" else None
    where = f"{threads} torch thread{'s' * (threads != 1)}" if threads else str(device)
    return Rate(elapsed / epochs, f"measured now: {epochs} epochs of one model at p = {settings.p}, {where}, "
                                  f"in {elapsed:.1f} s")


def duration(seconds: float) -> str:
    """'3 min', '5.2 h': a wall time as a reader wants it."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _epochs_text(runs: list[PendingRun]) -> str:
    """'4 transfers x 30,000 epochs, 1 source x up to 50,000 (a source stops once grokked)'."""
    groups: dict[tuple[str, int, bool], int] = {}
    for run in runs:
        kind = run.label.split()[0]
        groups[(kind, run.max_epochs, run.stops_early)] = groups.get((kind, run.max_epochs, run.stops_early), 0) + 1
    parts = [f"{n} {kind}{'s' * (n != 1)} x {'up to ' if early else ''}{epochs:,} epochs"
             for (kind, epochs, early), n in groups.items()]
    note = " (a source stops once grokked)" if any(k == "source" for k, _, _ in groups) else ""
    return ", ".join(parts) + note


def describe(runs: list[PendingRun], rate: Rate | None, profile: str = "<profile>") -> list[str]:
    """The dry run's lines on what would train first: the runs, their model-epochs and the
    estimated wall time at ``rate``, and the flag that paper-scale training needs."""
    if not runs:
        return ["trains nothing: every run the executing chapters read is stored"]
    total = model_epochs(runs)
    up_to = "up to " if any(run.stops_early for run in runs) else ""
    paper = [run for run in runs if run.paper_scale]
    scale = f" at paper scale (p >= {PAPER_SCALE_P})" if paper else ""
    lines = [f"would train {len(runs)} run{'s' * (len(runs) != 1)}{scale} first: {', '.join(r.label for r in runs)}",
             f"  {up_to}{total:,} model-epochs: {_epochs_text(runs)}"]
    if rate:
        lines.append(f"  about {duration(total * rate.seconds_per_model_epoch)}{' at most' if up_to else ''} on this machine at "
                     f"{1000 * rate.seconds_per_model_epoch:,.1f} ms per model-epoch ({rate.how}; a chapter trains "
                     "its runs in one process, one model after another on a CPU)")
    if paper:
        lines.append("  `run` trains runs at paper scale only with --train (or train them beforehand: "
                     f"`python -m grokpaper train all --profile {profile}`)")
    return lines


def refusal(runs: list[PendingRun], profile: str = "<profile>") -> str | None:
    """One line refusing to train runs at paper scale without ``--train``, naming them; None
    when no run of ``runs`` is at paper scale."""
    paper = [run for run in runs if run.paper_scale]
    if not paper:
        return None
    up_to = "up to " if any(run.stops_early for run in paper) else ""
    return (f"this run would first train {len(paper)} run{'s' * (len(paper) != 1)} at paper scale (p >= "
            f"{PAPER_SCALE_P}; {up_to}{model_epochs(paper):,} model-epochs, hours of CPU each): "
            f"{', '.join(run.label for run in paper)}. Pass --train to train them (`--dry-run` estimates the "
            f"wall time), or train them beforehand with `python -m grokpaper train all --profile {profile}`")


# --- what the stored runs cost ----------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredCost:
    """What one group of runs of a set cost when they trained, from their store records: runs in
    the group and stored, model-epochs trained, the sum of the stored runs' wall times and the
    devices they trained on (``measured_cost``)."""

    group: str
    runs: int
    stored: int
    model_epochs: int
    wall_s: float
    devices: tuple[str, ...]


def _cost_group(runs: str, label: str) -> str:
    """The group a job of set ``runs`` reports under: the set, or for the runs with task tokens
    their experiment (chapters 13-16 read different experiments): 'tasks: replay'."""
    return f"tasks: {label.split()[1]}" if runs == "tasks" else runs


def measured_cost(settings: StudySettings, store: RunStore, runs: str) -> list[MeasuredCost]:
    """The measured training cost of a set of runs (``parallel.jobs``, without the study runs it
    needs first), per group (``_cost_group``). A run's wall time is that of the process or batch
    that trained it, carried across resumes: runs trained one per process (``train all``) add up
    to the CPU time spent; runs trained together in one batch each carry the batch's time, so
    their sum overstates it (the device column says where)."""
    study = set() if runs == "study" else {job.key for job in jobs(settings, "study")}
    own = [job for job in jobs(settings, runs) if job.key not in study]
    groups: dict[str, list] = {}
    for job in own:
        groups.setdefault(_cost_group(runs, job.label), []).append(job)
    out = []
    for group, members in groups.items():
        results = [json.loads((store.entry(job.key) / "result.json").read_text())
                   for job in dict.fromkeys(members) if store.has(job.key)]
        out.append(MeasuredCost(group, len(members), len(results), sum(int(r["epochs_trained"]) for r in results),
                                sum(float(r["wall_s"]) for r in results),
                                tuple(sorted({str(r.get("device", "?")) for r in results}))))
    return out


def cost_lines(costs: list[MeasuredCost]) -> list[str]:
    """The measured cost as lines for a person: per group, stored runs, model-epochs, wall time."""
    lines = []
    for c in costs:
        per_s = f", {c.model_epochs / c.wall_s:,.1f} model-epochs/s per run" if c.wall_s else ""
        lines.append(f"{c.group}: {c.stored} of {c.runs} runs stored, {c.model_epochs:,} model-epochs, "
                     f"{duration(c.wall_s)} of run wall time summed{per_s} ({', '.join(c.devices) or 'no device yet'})")
    return lines
