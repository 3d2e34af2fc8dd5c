"""Batched full-batch training of M models at once, each with its own data, init and stop rule.

The training step is the original one: full batch, AdamW (lr 1e-3, weight decay 1.0,
betas (0.9, 0.98), eps 1e-8) with learning-rate multiplier min(step / 10, 1) (step 0 has
lr 0), cross-entropy over all logits at "=" with the log-softmax in float64. The loss
and accuracy logged at epoch e are those of the weights after e updates; epoch 0 is the
initialisation. Train metrics come free from the training forward pass; the test set is
evaluated every ``eval_every`` epochs (and at every epoch an event asks for).

A model leaves the batch as soon as one of its stop events fires, with the weights that
were just evaluated; the others carry on unchanged. Snapshot events copy a model's weights
when they first fire without stopping it (the memorized model is the grokked run's first
state with 100 % train accuracy: same seed, same start, same trajectory).

With ``resume_path`` the whole batch state is checkpointed every ``checkpoint_every``
epochs (atomically); a run started again with the same path continues from there and
ends bit-identical (on CPU) to an uninterrupted run. Ctrl-C (SIGINT) is taken at the end of
the current epoch, where the state is whole: the batch is checkpointed there and
``TrainingInterrupted`` says from which epoch the same call resumes.

Progress goes to a tqdm bar (``progress=True``) and, when ``$GROKPAPER_STATUS_FILE`` is set,
to a one-line status file that a watcher in another process shows (``grokpaper.core.status``).

The loop in ``train`` reads top to bottom: Ctrl-C, resume checkpoint, train loss and gradients,
evaluation (curves, snapshots, stop events), observers, models leaving, the AdamW update,
progress. An ``Observer`` (the probes of ``grokpaper.analysis.probes``, injected by a higher
layer) sees the weights just evaluated, before anyone leaves and before the update, and never
changes the training state: training with or without observers gives the same numbers. Its own
state rides in the resume checkpoints, and its records per run in each ``RunOutcome``.

A run can freeze named parameters (``ModelRun.frozen``, e.g. ``("embed.W_E", "pos_embed.W_pos")``):
they stay bit-identical to the run's initial weights (no update, no weight decay), and every
other parameter, of this run and of the others in its batch, trains exactly as without freezing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from grokpaper.core import batched
from grokpaper.core.data import Split
from grokpaper.core.files import atomic_path
from grokpaper.core.model import PARAM_NAMES, ModelConfig, check_param_shapes
from grokpaper.core.status import StatusFile, interrupted_message
from grokpaper.core.store import StoreError

METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


@dataclass(frozen=True)
class Hyper:
    """Optimiser settings of every run (the original study's)."""

    lr: float = 1e-3
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    warmup_steps: int = 10

    def lr_at(self, step: int) -> float:
        """Learning rate of the step-th update (0-based), as LambdaLR(min(step/10, 1)) gives it."""
        return self.lr * min(step / self.warmup_steps, 1)


@dataclass(frozen=True)
class Event:
    """A condition checked at evaluations: a metric reached and held, or a fixed epoch.

    ``Event.reached("test_acc", 1.0, hold=100)`` fires at the first evaluation at which test
    accuracy has been >= 1.0 at every evaluation of the last 100 epochs.
    ``Event.at_epoch(2000)`` fires at epoch 2000.
    """

    metric: str | None = None
    threshold: float = 1.0
    hold: int = 0
    epoch: int | None = None

    @staticmethod
    def reached(metric: str, threshold: float = 1.0, hold: int = 0) -> "Event":
        if metric not in METRICS:
            raise ValueError(f"event metric must be one of {METRICS}, got {metric!r}")
        if hold < 0:
            raise ValueError(f"event hold must be >= 0 epochs, got {hold}")
        return Event(metric=metric, threshold=threshold, hold=hold)

    @staticmethod
    def at_epoch(epoch: int) -> "Event":
        if epoch < 1:
            raise ValueError(f"event epoch must be >= 1, got {epoch}")
        return Event(epoch=epoch)

    def describe(self) -> str:
        if self.epoch is not None:
            return f"epoch {self.epoch}"
        return f"{self.metric} >= {self.threshold:g} held {self.hold} epochs"


@dataclass
class ModelRun:
    """One model of a batch: its data, initial weights, when to stop and what to snapshot."""

    name: str
    split: Split
    init: dict[str, torch.Tensor]
    max_epochs: int
    stop_events: tuple[Event, ...] = ()
    snapshot_events: dict[str, Event] = field(default_factory=dict)
    # A snapshot of this name holds the weights at the start of the streak that fired the stop
    # event (the first evaluation of the streak that the hold window then confirmed).
    sustained_snapshot: str | None = None
    # Parameters (original names) that never change: no AdamW update and no weight decay reach them.
    frozen: tuple[str, ...] = ()


@dataclass
class RunOutcome:
    """What training one model produced."""

    name: str
    params: dict[str, torch.Tensor]
    curve: dict[str, list]  # "epoch" and METRICS, one entry per evaluation
    epochs_trained: int
    stop_reason: str  # the event that fired, "max_epochs", or "error: ..." (the run failed)
    snapshots: dict[str, dict]  # name -> {"epoch", metrics..., "params"}
    wall_s: float
    records: dict[str, list[dict]] = field(default_factory=dict)  # observer name -> its rows for this run

    @property
    def failed(self) -> bool:
        return self.stop_reason.startswith("error")


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C at ``epoch``; the same call resumes from ``resumes_from``
    (None: there is no resume checkpoint, it starts again from epoch 0)."""

    def __init__(self, epoch: int, resumes_from: int | None):
        self.epoch, self.resumes_from = epoch, resumes_from
        super().__init__(interrupted_message(epoch, resumes_from))

    @property
    def message(self) -> str:
        """The one line to show: where training stopped and where it resumes."""
        return interrupted_message(self.epoch, self.resumes_from)


@contextlib.contextmanager
def sigint_deferred(enabled: bool = True):
    """Turn the first Ctrl-C into a request (``requested["at"]`` is set) that the code checks
    where stopping is safe; a second Ctrl-C interrupts at once. Only replaces Python's default
    handler, in the main thread (elsewhere, or if disabled, Ctrl-C works as usual)."""
    requested = {"at": None}
    usable = (enabled and threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if not usable:
        yield requested
        return

    def on_sigint(signum, frame):
        if requested["at"] is not None:
            raise KeyboardInterrupt
        requested["at"] = time.monotonic()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")



# --- the state of a batch, and what watches it ---------------------------------------------


class _Streaks:
    """For each model and event, the epoch since which the event's condition has held."""

    def __init__(self):
        self.since: dict[tuple[int, str], int | None] = {}

    def fires(self, model: int, key: str, event: Event, epoch: int, row: dict) -> bool:
        if event.epoch is not None:
            return epoch >= event.epoch
        ok = row[event.metric] >= event.threshold - 1e-12
        start = self.since.get((model, key))
        start = (epoch if start is None else start) if ok else None
        self.since[(model, key)] = start
        return start is not None and epoch - start >= event.hold


@dataclass
class TrainingState:
    """Everything the loop changes, all of it in a resume checkpoint. Batched tensors have the
    models still training along their first dimension, in the order of ``active``."""

    epoch: int  # the next epoch to run: its weights have had ``epoch`` updates
    active: list[int]  # indices into runs of the models still training
    params: dict[str, torch.Tensor]
    exp_avg: dict[str, torch.Tensor]
    exp_avg_sq: dict[str, torch.Tensor]
    curves: list[dict[str, list]]  # per run: "epoch" and METRICS, one entry per evaluation
    snapshots: list[dict[str, dict]]  # per run: name -> {"epoch", metrics..., "params"}
    streaks: _Streaks
    # (run index, stop event number) -> the evaluation that began the event's current streak,
    # with its weights: kept only for runs that name a ``sustained_snapshot``.
    streak_starts: dict[tuple[int, int], dict]
    done: dict[int, RunOutcome]  # run index -> its outcome, once it left the batch
    wall_s: float = 0.0  # training time before this process (from the checkpoint it resumed)
    resumed_at: int | None = None  # the epoch of the checkpoint it resumed from (None: a fresh start)
    started: float = 0.0  # time.perf_counter() at which wall_s was 0 (not checkpointed)

    @classmethod
    def fresh(cls, runs: list[ModelRun], device: torch.device) -> "TrainingState":
        """Epoch 0: every model active, at its initial weights, with zero AdamW moments."""
        params = {k: v.to(device) for k, v in batched.stack([r.init for r in runs]).items()}
        return cls(
            epoch=0, active=list(range(len(runs))), params=params,
            exp_avg={k: torch.zeros_like(v) for k, v in params.items()},
            exp_avg_sq={k: torch.zeros_like(v) for k, v in params.items()},
            curves=[{k: [] for k in ("epoch", *METRICS)} for _ in runs],
            snapshots=[{} for _ in runs], streaks=_Streaks(), streak_starts={}, done={},
        )

    def elapsed(self) -> float:
        """Seconds of training so far, over every process that trained this batch."""
        return time.perf_counter() - self.started

    def weights_of(self, position: int) -> dict[str, torch.Tensor]:
        """A CPU copy of the weights of the model at ``position`` in ``active``."""
        return {k: v[position].detach().cpu().clone() for k, v in self.params.items()}


@dataclass
class Evaluation:
    """What one epoch found: the metrics of every model evaluated (none between evaluations)
    and the models that leave the batch now, both by position in ``TrainingState.active``."""

    epoch: int
    rows: dict[int, dict[str, float]]
    leaving: dict[int, str]  # position -> stop reason


class Observer:
    """Something the loop calls besides training (the probes): it reads the training state and
    never changes it. ``name`` keys its state in resume checkpoints and its rows in each run's
    ``RunOutcome.records``."""

    name = "observer"

    def evaluated(self, state: TrainingState, evaluation: Evaluation) -> None:
        """Called at every epoch with an evaluation, on the weights just evaluated: before the
        models in ``evaluation.leaving`` leave and before the update."""

    def records(self, run_index: int) -> list[dict]:
        """This observer's rows for one run (stored beside its curve)."""
        return []

    def state_dict(self) -> dict:
        """What a resume checkpoint must carry for this observer to go on as if never stopped."""
        return {}

    def load_state_dict(self, saved: dict) -> None:
        """Take up the state ``state_dict`` gave, read back from a resume checkpoint."""


class _Progress:
    """The tqdm bar and the status file (``grokpaper.core.status``), updated after each epoch."""

    def __init__(self, state: TrainingState, runs: list[ModelRun], show_bar: bool, checkpoints: "_ResumeCheckpoints"):
        self.runs, self.show_bar, self.checkpoints = runs, show_bar, checkpoints
        self.max_epochs = max(r.max_epochs for r in runs)
        self.bar = tqdm(total=self.max_epochs, initial=state.epoch, disable=not show_bar,
                        desc="training", unit="epoch", dynamic_ncols=True)
        self.status_file = StatusFile.from_env()
        self.last_test_acc: dict[int, float] = {}  # run index -> test accuracy at its last evaluation

    def status(self, state: TrainingState, state_name: str = "training", **extra) -> dict:
        return {"state": state_name, "epoch": state.epoch, "max_epochs": self.max_epochs,
                "active": len(state.active), "runs": len(self.runs),
                "test_acc": [self.last_test_acc[i] for i in state.active if i in self.last_test_acc],
                "checkpoint_epoch": self.checkpoints.epoch, **extra}

    def checkpointed(self, state: TrainingState) -> None:
        if self.status_file:
            self.status_file.write(self.status(state), force=True)

    def after_epoch(self, state: TrainingState, evaluation: Evaluation, evaluated_runs: list[int], stepped: bool) -> None:
        if evaluation.rows:
            accuracies = {i: evaluation.rows[pos]["test_acc"] for pos, i in enumerate(evaluated_runs)}
            self.last_test_acc.update(accuracies)
            if self.show_bar:
                shown = " ".join(f"{100 * acc:.0f}" for acc in accuracies.values())
                self.bar.set_postfix_str(f"active {len(accuracies)}/{len(self.runs)} test acc % [{shown}]",
                                         refresh=False)
        if stepped:
            self.bar.update(1)  # the bar counts updates: epoch e is reached after e of them
        if self.status_file:
            self.status_file.write(self.status(state))

    def interrupted(self, state: TrainingState, err: "TrainingInterrupted") -> None:
        self.bar.close()
        if self.status_file:
            self.status_file.write(self.status(state, "interrupted", resumes_from=err.resumes_from), force=True)

    def finished(self, state: TrainingState) -> None:
        # A batch that stopped early ends its bar there, at 100 %, not short of max_epochs.
        last_epoch = max(o.epochs_trained for o in state.done.values())
        self.bar.total = self.bar.n = last_epoch
        self.bar.refresh()
        self.bar.close()
        if self.status_file:
            self.status_file.write(self.status(state, "finished", epoch=last_epoch), force=True)


class _ResumeCheckpoints:
    """The batch's resume checkpoint (``path``; None: none is kept): due every ``every`` epochs,
    written atomically with the observers' states, read back by ``load``."""

    def __init__(self, path: str | Path | None, every: int, runs: list[ModelRun], observers: list[Observer]):
        self.path, self.every, self.runs, self.observers = path, every, runs, observers
        self.epoch: int | None = None  # the last checkpoint's epoch: where the same call would start again

    def load(self, device) -> TrainingState | None:
        state = _load_checkpoint(self.path, self.runs, self.observers, device) if self.path else None
        if self.path:
            self.epoch = state.resumed_at if state else 0
        return state

    def due(self, state: TrainingState) -> bool:
        return (self.path is not None and state.epoch > 0 and state.epoch % self.every == 0
                and state.resumed_at != state.epoch)

    def save(self, state: TrainingState) -> None:
        state.wall_s = state.elapsed()
        _save_checkpoint(self.path, state, self.runs, self.observers)
        self.epoch = state.epoch

    def stop_here(self, state: TrainingState) -> "TrainingInterrupted":
        """Ctrl-C at the start of an epoch, where the state is whole: checkpoint it (unless this
        epoch is checkpointed already) and say where the same call resumes."""
        if self.path is not None and self.epoch != state.epoch:
            self.save(state)
        return TrainingInterrupted(state.epoch, self.epoch)


# --- the loop --------------------------------------------------------------------------------


def validate_runs(runs: list[ModelRun], cfg: ModelConfig) -> None:
    """Clear errors before any compute: empty batch, bad epochs, mismatched shapes or data."""
    if not runs:
        raise ValueError("runs must name at least one model (got an empty list)")
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"run names must be distinct, got {names}")
    first = runs[0]
    for r in runs:
        if not isinstance(r.max_epochs, int) or r.max_epochs < 1:
            raise ValueError(f"run {r.name}: max_epochs must be a positive integer, got {r.max_epochs!r}")
        try:
            check_param_shapes(r.init, cfg)
        except ValueError as err:
            raise ValueError(f"run {r.name}: {err}") from None
        if r.split.p != cfg.p:
            raise ValueError(f"run {r.name}: data has p={r.split.p} but the model config has p={cfg.p}")
        if (r.split.train_x.shape, r.split.test_x.shape) != (first.split.train_x.shape, first.split.test_x.shape):
            raise ValueError(
                f"run {r.name}: a batch needs equal train/test sizes; {r.name} has "
                f"{len(r.split.train_x)}/{len(r.split.test_x)}, {first.name} has "
                f"{len(first.split.train_x)}/{len(first.split.test_x)}"
            )
        extra = {name: (x.shape, y.shape) for name, (x, y) in r.split.extra_tests.items()}
        if extra != {name: (x.shape, y.shape) for name, (x, y) in first.split.extra_tests.items()}:
            raise ValueError(f"run {r.name}: a batch needs the same extra test sets (names and sizes); {r.name} has "
                             f"{sorted(r.split.extra_tests)}, {first.name} has {sorted(first.split.extra_tests)}")
        for event in (*r.stop_events, *r.snapshot_events.values()):
            if event.epoch is not None and event.epoch > r.max_epochs:
                raise ValueError(f"run {r.name}: event at epoch {event.epoch} is after max_epochs {r.max_epochs}")
        unknown = [name for name in r.frozen if name not in PARAM_NAMES]
        if unknown or len(set(r.frozen)) != len(r.frozen):
            raise ValueError(f"run {r.name}: frozen must name distinct parameters among {', '.join(PARAM_NAMES)}; "
                             f"got {list(r.frozen)}")
        if r.sustained_snapshot is not None and not any(e.metric for e in r.stop_events):
            raise ValueError(f"run {r.name}: sustained_snapshot {r.sustained_snapshot!r} needs a stop event on a "
                             f"metric (Event.reached), got stop events {[e.describe() for e in r.stop_events]}")


def train(
    runs: list[ModelRun],
    cfg: ModelConfig,
    hyper: Hyper = Hyper(),
    eval_every: int = 10,
    device: torch.device | str | None = None,
    resume_path: str | Path | None = None,
    checkpoint_every: int = 1000,
    progress: bool = True,
    models_per_chunk: int | None = None,
    keep_checkpoint: bool = False,
    observers: tuple[Observer, ...] = (),
) -> list[RunOutcome]:
    """Train every run of the batch to its stop event; return one outcome per run, in order.

    ``models_per_chunk`` runs the forward/backward over the batch in groups of that many
    models. The numbers are the same either way; None picks what measured fastest: one model
    at a time on a CPU (its activations stay in cache), the whole batch on a GPU.
    A model whose loss becomes NaN/inf stops with ``stop_reason = "error: ..."``; the
    others keep training. The caller decides what a failed run means.
    The resume checkpoint is deleted when the batch ends, unless ``keep_checkpoint``: then it
    holds the finished batch (resuming returns the outcomes at once) until the caller, having
    stored the outcomes, deletes it. Ctrl-C raises ``TrainingInterrupted``.
    ``observers`` (e.g. probes) are called at every evaluation; their rows for each run go
    into its outcome's ``records`` under the observer's name.
    """
    validate_runs(runs, cfg)
    if models_per_chunk is not None and (not isinstance(models_per_chunk, int) or models_per_chunk < 1):
        raise ValueError(f"models_per_chunk must be a positive integer or None (automatic), got {models_per_chunk!r}")
    if not isinstance(eval_every, int) or eval_every < 1:
        raise ValueError(f"eval_every must be a positive integer, got {eval_every!r}")
    names = [o.name for o in observers]
    if len(set(names)) != len(names):
        raise ValueError(f"observers must have distinct names, got {names}")
    device = torch.device(device) if device is not None else default_device()
    if models_per_chunk is None:  # measured in benchmarks/train_speed.py
        models_per_chunk = len(runs) if device.type == "cuda" else 1
    data = {key: torch.stack([getattr(r.split, key) for r in runs]).to(device)
            for key in ("train_x", "train_y", "test_x", "test_y")}
    # Watched test sets (``Split.extra_tests``), evaluated with the test set: name -> (x, y) of the batch.
    extra_tests = {name: tuple(torch.stack([r.split.extra_tests[name][i] for r in runs]).to(device) for i in (0, 1))
                   for name in runs[0].split.extra_tests}

    checkpoints = _ResumeCheckpoints(resume_path, checkpoint_every, runs, list(observers))
    state = checkpoints.load(device) or TrainingState.fresh(runs, device)
    state.started = time.perf_counter() - state.wall_s
    report = _Progress(state, runs, progress, checkpoints)
    try:
        with sigint_deferred(enabled=resume_path is not None) as interrupt:
            while state.active:
                if interrupt["at"] is not None:  # Ctrl-C: stop here, where the state is whole
                    raise checkpoints.stop_here(state)
                if checkpoints.due(state):
                    checkpoints.save(state)
                    report.checkpointed(state)
                train_loss, train_acc, grads = _loss_and_grads(state.params, data, state.active, cfg, models_per_chunk)
                evaluation = _evaluate_and_record(state, runs, data, cfg, train_loss, train_acc, eval_every,
                                                  models_per_chunk, extra_tests)
                if evaluation.rows:  # observers see the weights just evaluated, before anyone leaves
                    for observer in observers:
                        observer.evaluated(state, evaluation)
                evaluated_runs = list(state.active)
                grads = _leave(state, runs, evaluation, grads, observers)
                if state.active:
                    _adamw_step(state, grads, hyper, step=state.epoch, frozen=_frozen_positions(state, runs))
                state.epoch += 1
                report.after_epoch(state, evaluation, evaluated_runs, stepped=bool(state.active))
            if keep_checkpoint and resume_path is not None and checkpoints.epoch != state.epoch:
                checkpoints.save(state)  # the finished batch: safe until the caller has stored it
    except KeyboardInterrupt as err:
        if not isinstance(err, TrainingInterrupted):  # a second Ctrl-C, or no resume path
            err = TrainingInterrupted(state.epoch, checkpoints.epoch)
        report.interrupted(state, err)
        raise err from None
    report.finished(state)
    if resume_path and not keep_checkpoint:
        Path(resume_path).unlink(missing_ok=True)  # finished: the outcomes are the record now
    return [state.done[i] for i in range(len(runs))]


def _evaluate_and_record(state: TrainingState, runs: list[ModelRun], data: dict, cfg: ModelConfig,
                         train_loss: torch.Tensor, train_acc: torch.Tensor, eval_every: int,
                         models_per_chunk: int, extra_tests: dict | None = None) -> Evaluation:
    """The epoch's verdicts on the weights before its update: a non-finite train loss stops its
    model at any epoch; when an evaluation is due, the test set (and each watched test set, as
    ``test_loss_<name>``, ``test_acc_<name>``) is evaluated, curves extended, snapshots taken, and
    stop events and caps checked."""
    epoch, active = state.epoch, state.active
    evaluation = Evaluation(epoch=epoch, rows={}, leaving={})
    for pos, finite in enumerate(torch.isfinite(train_loss).tolist()):
        if not finite:
            evaluation.leaving[pos] = f"error: training loss is not finite at epoch {epoch} (run {runs[active[pos]].name})"
    if not _evaluate_now(epoch, eval_every, [runs[i] for i in active]):
        return evaluation
    test_loss, test_acc = _evaluate(state.params, data, active, cfg, models_per_chunk)
    columns, values = list(METRICS), [train_loss, train_acc, test_loss, test_acc]
    for name, (x, y) in (extra_tests or {}).items():
        columns += [f"test_loss_{name}", f"test_acc_{name}"]
        values += _evaluate(state.params, {"test_x": x, "test_y": y}, active, cfg, models_per_chunk)
    rows = torch.stack(values, dim=1).tolist()
    for pos, run_index in enumerate(active):
        row = dict(zip(columns, rows[pos]))
        evaluation.rows[pos] = row
        run, curve = runs[run_index], state.curves[run_index]
        curve["epoch"].append(epoch)
        for k in columns:
            curve.setdefault(k, []).append(row[k])
        for name, event in run.snapshot_events.items():
            if name not in state.snapshots[run_index] and state.streaks.fires(run_index, name, event, epoch, row):
                state.snapshots[run_index][name] = {"epoch": epoch, **row, "params": state.weights_of(pos)}
        for n, event in enumerate(run.stop_events):
            fired = state.streaks.fires(run_index, f"stop{n}", event, epoch, row)
            if run.sustained_snapshot is not None and event.metric is not None:
                _follow_streak_start(state, run_index, n, pos, row)
            if fired and pos not in evaluation.leaving:
                evaluation.leaving[pos] = event.describe()
                if run.sustained_snapshot is not None and (run_index, n) in state.streak_starts:
                    state.snapshots[run_index][run.sustained_snapshot] = state.streak_starts[(run_index, n)]
        if epoch >= run.max_epochs and pos not in evaluation.leaving:
            evaluation.leaving[pos] = "max_epochs"
    return evaluation


def _follow_streak_start(state: TrainingState, run_index: int, n: int, pos: int, row: dict) -> None:
    """Keep the weights of the evaluation that began stop event n's current streak (a streak
    that breaks drops them): the ``sustained_snapshot`` once the event fires."""
    since = state.streaks.since.get((run_index, f"stop{n}"))
    if since is None:
        state.streak_starts.pop((run_index, n), None)
    elif since == state.epoch:
        state.streak_starts[(run_index, n)] = {"epoch": state.epoch, **row, "params": state.weights_of(pos)}


def _leave(state: TrainingState, runs: list[ModelRun], evaluation: Evaluation, grads: dict,
           observers: tuple[Observer, ...]) -> dict:
    """Models in ``evaluation.leaving`` leave the batch with the weights just evaluated (their
    outcomes recorded); the others' state and gradients are kept. Returns the gradients left."""
    if not evaluation.leaving:
        return grads
    for pos, reason in evaluation.leaving.items():
        run_index = state.active[pos]
        for key in [k for k in state.streak_starts if k[0] == run_index]:
            del state.streak_starts[key]
        state.done[run_index] = RunOutcome(
            name=runs[run_index].name,
            params=state.weights_of(pos),
            curve=state.curves[run_index],
            epochs_trained=evaluation.epoch,
            stop_reason=reason,
            snapshots=state.snapshots[run_index],
            wall_s=state.elapsed(),
            records={o.name: o.records(run_index) for o in observers},
        )
    keep = [pos for pos in range(len(state.active)) if pos not in evaluation.leaving]
    index = torch.tensor(keep, dtype=torch.long, device=next(iter(grads.values())).device)
    state.params = {k: v[index] for k, v in state.params.items()}
    state.exp_avg = {k: v[index] for k, v in state.exp_avg.items()}
    state.exp_avg_sq = {k: v[index] for k, v in state.exp_avg_sq.items()}
    state.active = [state.active[pos] for pos in keep]
    return {k: v[index] for k, v in grads.items()}


def _chunks(n: int, size: int | None) -> list[slice]:
    size = size or n
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _loss_and_grads(params: dict, data: dict, active: list[int], cfg, models_per_chunk):
    """Train loss and accuracy of every active model (weights before this update) and the
    gradient of each model's loss, computed a chunk of models at a time."""
    losses, accuracies = [], []
    grads = {k: torch.empty_like(v) for k, v in params.items()}
    for part in _chunks(len(active), models_per_chunk):
        leaves = {k: v[part].detach().requires_grad_() for k, v in params.items()}
        rows = active[part]
        loss, accuracy = batched.loss_and_accuracy(
            batched.logits_at_eq(leaves, data["train_x"][rows], cfg), data["train_y"][rows]
        )
        loss.sum().backward()  # models are independent: each gets the gradient of its own loss
        for k, leaf in leaves.items():
            grads[k][part] = leaf.grad
        losses.append(loss.detach())
        accuracies.append(accuracy)
    return torch.cat(losses), torch.cat(accuracies), grads


@torch.no_grad()
def _evaluate(params: dict, data: dict, active: list[int], cfg, models_per_chunk):
    """Test loss and accuracy of every active model, a chunk of models at a time."""
    results = [
        batched.loss_and_accuracy(
            batched.logits_at_eq({k: v[part] for k, v in params.items()}, data["test_x"][active[part]], cfg),
            data["test_y"][active[part]],
        )
        for part in _chunks(len(active), models_per_chunk)
    ]
    return torch.cat([r[0] for r in results]), torch.cat([r[1] for r in results])


def _evaluate_now(epoch: int, eval_every: int, runs: list[ModelRun]) -> bool:
    if epoch % eval_every == 0:
        return True
    return any(
        epoch == r.max_epochs or any(e.epoch == epoch for e in (*r.stop_events, *r.snapshot_events.values()))
        for r in runs
    )


def _frozen_positions(state: TrainingState, runs: list[ModelRun]) -> dict[str, torch.Tensor]:
    """For each parameter some active model freezes, the positions (in ``active``) of those models."""
    positions: dict[str, list[int]] = {}
    for pos, run_index in enumerate(state.active):
        for name in runs[run_index].frozen:
            positions.setdefault(name, []).append(pos)
    device = next(iter(state.params.values())).device
    return {name: torch.tensor(pos, dtype=torch.long, device=device) for name, pos in positions.items()}


def _adamw_step(state: TrainingState, grads: dict, hyper: Hyper, step: int,
                frozen: dict[str, torch.Tensor] | None = None) -> None:
    """One AdamW update of every model still training, written as torch's single-tensor AdamW.

    Every model in a batch started together, so all have taken ``step`` updates before this one.
    ``frozen``: parameter name -> positions of the models that freeze it (``_frozen_positions``).
    """
    # The update runs over the whole batch as ever (so a model that freezes nothing gets the very
    # same numbers, whoever shares its batch), then each frozen tensor, with its AdamW moments
    # (zero), is put back as it was: neither the update nor the weight decay reaches it.
    kept = {name: (pos, state.params[name][pos].clone(), state.exp_avg[name][pos].clone(),
                   state.exp_avg_sq[name][pos].clone()) for name, pos in (frozen or {}).items()}
    lr = hyper.lr_at(step)
    t = step + 1
    bias_correction1 = 1 - hyper.beta1**t
    bias_correction2_sqrt = (1 - hyper.beta2**t) ** 0.5
    for name, param in state.params.items():
        grad, exp_avg, exp_avg_sq = grads[name], state.exp_avg[name], state.exp_avg_sq[name]
        param.mul_(1 - lr * hyper.weight_decay)
        exp_avg.lerp_(grad, 1 - hyper.beta1)
        exp_avg_sq.mul_(hyper.beta2).addcmul_(grad, grad, value=1 - hyper.beta2)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(hyper.eps)
        param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
    for name, (pos, param, exp_avg, exp_avg_sq) in kept.items():
        state.params[name][pos] = param
        state.exp_avg[name][pos] = exp_avg
        state.exp_avg_sq[name][pos] = exp_avg_sq


# --- resume checkpoints -----------------------------------------------------------------


def _save_checkpoint(path, state: TrainingState, runs: list[ModelRun], observers: list[Observer]) -> None:
    blob = {
        "names": [r.name for r in runs],
        "epoch": state.epoch,
        "active": state.active,
        "params": {k: v.cpu() for k, v in state.params.items()},
        "exp_avg": {k: v.cpu() for k, v in state.exp_avg.items()},
        "exp_avg_sq": {k: v.cpu() for k, v in state.exp_avg_sq.items()},
        "curves": state.curves,
        "snapshots": state.snapshots,
        "streaks": state.streaks.since,
        "streak_starts": state.streak_starts,
        "done": {i: vars(o) for i, o in state.done.items()},
        "wall_s": state.wall_s,
        "observers": {o.name: o.state_dict() for o in observers},
    }
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def _load_checkpoint(path, runs: list[ModelRun], observers: list[Observer], device) -> TrainingState | None:
    path = Path(path)
    if not path.exists():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)  # our own file, written above
        missing = [k for k in ("names", "epoch", "active", "params", "done") if k not in blob]
        if missing:
            raise KeyError(f"no {', '.join(missing)} in it")
    except Exception as err:
        raise StoreError(
            f"resume checkpoint {path} cannot be read ({type(err).__name__}: {_first_line(err)}): it is "
            f"truncated or corrupt. Delete {path} and run the same command again; this batch then "
            "trains from epoch 0 (runs already in the store are not affected)."
        ) from None
    names = [r.name for r in runs]
    if blob["names"] != names:
        raise ValueError(f"resume checkpoint {path} belongs to runs {blob['names']}, not {names}")
    saved_observers = blob.get("observers", {})
    missing = [o.name for o in observers if o.name not in saved_observers]
    if missing:
        raise ValueError(f"resume checkpoint {path} holds no state of the observers {missing} (it was written "
                         f"by a batch without them); delete it to train this batch from epoch 0")
    for observer in observers:
        observer.load_state_dict(saved_observers[observer.name])
    streaks = _Streaks()
    streaks.since = blob["streaks"]
    return TrainingState(
        epoch=blob["epoch"],
        resumed_at=blob["epoch"],
        active=blob["active"],
        params={k: v.to(device) for k, v in blob["params"].items()},
        exp_avg={k: v.to(device) for k, v in blob["exp_avg"].items()},
        exp_avg_sq={k: v.to(device) for k, v in blob["exp_avg_sq"].items()},
        curves=blob["curves"],
        snapshots=blob["snapshots"],
        streaks=streaks,
        streak_starts=blob.get("streak_starts", {}),
        done={i: RunOutcome(**o) for i, o in blob["done"].items()},
        wall_s=blob["wall_s"],
    )


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else "no message"
