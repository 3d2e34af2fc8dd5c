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
from grokpaper.core.model import ModelConfig, check_param_shapes
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
        for event in (*r.stop_events, *r.snapshot_events.values()):
            if event.epoch is not None and event.epoch > r.max_epochs:
                raise ValueError(f"run {r.name}: event at epoch {event.epoch} is after max_epochs {r.max_epochs}")


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
    """
    validate_runs(runs, cfg)
    if models_per_chunk is not None and (not isinstance(models_per_chunk, int) or models_per_chunk < 1):
        raise ValueError(f"models_per_chunk must be a positive integer or None (automatic), got {models_per_chunk!r}")
    if not isinstance(eval_every, int) or eval_every < 1:
        raise ValueError(f"eval_every must be a positive integer, got {eval_every!r}")
    device = torch.device(device) if device is not None else default_device()
    if models_per_chunk is None:  # measured in benchmarks/train_speed.py
        models_per_chunk = len(runs) if device.type == "cuda" else 1

    def on_device(key):
        return torch.stack([getattr(r.split, key) for r in runs]).to(device)

    data = {key: on_device(key) for key in ("train_x", "train_y", "test_x", "test_y")}
    state = _load_checkpoint(resume_path, runs, device) if resume_path else None
    if state is None:
        params = batched.stack([r.init for r in runs])
        state = {
            "epoch": 0,
            "active": list(range(len(runs))),  # indices into runs of the models still training
            "params": {k: v.to(device) for k, v in params.items()},
            "exp_avg": {k: torch.zeros_like(v, device=device) for k, v in params.items()},
            "exp_avg_sq": {k: torch.zeros_like(v, device=device) for k, v in params.items()},
            "curves": [{k: [] for k in ("epoch", *METRICS)} for _ in runs],
            "snapshots": [{} for _ in runs],
            "streaks": _Streaks(),
            "done": {},  # run index -> RunOutcome
            "wall_s": 0.0,
        }
    started = time.perf_counter() - state["wall_s"]
    # Where the same call would start again: the last checkpoint (none yet: epoch 0).
    checkpoint_epoch = state.get("resumed_at", 0) if resume_path else None
    max_epochs = max(r.max_epochs for r in runs)
    bar = tqdm(total=max_epochs, initial=state["epoch"], disable=not progress,
               desc="training", unit="epoch", dynamic_ncols=True)
    status_file = StatusFile.from_env()
    last_test_acc = {}  # run index -> test accuracy at its last evaluation

    def status(state_name: str = "training", **extra) -> dict:
        return {"state": state_name, "epoch": state["epoch"], "max_epochs": max_epochs,
                "active": len(state["active"]), "runs": len(runs),
                "test_acc": [last_test_acc[i] for i in state["active"] if i in last_test_acc],
                "checkpoint_epoch": checkpoint_epoch, **extra}

    def checkpoint():
        nonlocal checkpoint_epoch
        state["wall_s"] = time.perf_counter() - started
        _save_checkpoint(resume_path, state, runs)
        checkpoint_epoch = state["epoch"]

    try:
        with sigint_deferred(enabled=resume_path is not None) as interrupt:
            while state["active"]:
                epoch = state["epoch"]
                if interrupt["at"] is not None:  # Ctrl-C: stop here, where the state is whole
                    if checkpoint_epoch != epoch:
                        checkpoint()
                    raise TrainingInterrupted(epoch, checkpoint_epoch)
                if resume_path and epoch > 0 and epoch % checkpoint_every == 0 and not state.get("resumed_at") == epoch:
                    checkpoint()
                    if status_file:
                        status_file.write(status(), force=True)
                evaluated, stepped = _train_epoch(state, runs, data, cfg, hyper, eval_every, models_per_chunk, started)
                if evaluated:
                    last_test_acc.update(evaluated)
                    if progress:
                        accs = " ".join(f"{100 * acc:.0f}" for acc in evaluated.values())
                        bar.set_postfix_str(f"active {len(evaluated)}/{len(runs)} test acc % [{accs}]", refresh=False)
                if stepped:
                    bar.update(1)  # the bar counts updates: epoch e is reached after e of them
                if status_file:
                    status_file.write(status())
            if resume_path and keep_checkpoint and checkpoint_epoch != state["epoch"]:
                checkpoint()  # the finished batch: safe until the caller has stored it
    except KeyboardInterrupt as err:
        bar.close()
        if not isinstance(err, TrainingInterrupted):  # a second Ctrl-C, or no resume path
            err = TrainingInterrupted(state["epoch"], checkpoint_epoch)
        if status_file:
            status_file.write(status("interrupted", resumes_from=err.resumes_from), force=True)
        raise err from None
    # A batch that stopped early ends its bar there, at 100 %, not short of max_epochs.
    last_epoch = max(o.epochs_trained for o in state["done"].values())
    bar.total = bar.n = last_epoch
    bar.refresh()
    bar.close()
    if status_file:
        status_file.write(status("finished", epoch=last_epoch), force=True)
    if resume_path and not keep_checkpoint:
        Path(resume_path).unlink(missing_ok=True)  # finished: the outcomes are the record now
    return [state["done"][i] for i in range(len(runs))]


def _train_epoch(state: dict, runs: list[ModelRun], data: dict, cfg: ModelConfig, hyper: Hyper,
                 eval_every: int, models_per_chunk: int, started: float) -> tuple[dict[int, float], bool]:
    """One epoch of every model still training: train loss and gradients, evaluation when due
    (curves, snapshots, stop events), models leaving the batch, then one AdamW update of the
    rest. Returns the test accuracy of each evaluated run (by index; empty if none was
    evaluated) and whether an update was made."""
    epoch, active = state["epoch"], state["active"]
    train_loss, train_acc, grads = _loss_and_grads(state["params"], data, active, cfg, models_per_chunk)

    leaving: dict[int, str] = {}  # position in active -> stop reason
    evaluated: dict[int, float] = {}
    finite = torch.isfinite(train_loss).tolist()
    for pos, run_index in enumerate(active):
        if not finite[pos]:
            leaving[pos] = f"error: training loss is not finite at epoch {epoch} (run {runs[run_index].name})"
    if _evaluate_now(epoch, eval_every, [runs[i] for i in active]):
        test_loss, test_acc = _evaluate(state["params"], data, active, cfg, models_per_chunk)
        rows = torch.stack([train_loss, train_acc, test_loss, test_acc], dim=1).tolist()
        for pos, run_index in enumerate(active):
            row = dict(zip(METRICS, rows[pos]))
            run, curve = runs[run_index], state["curves"][run_index]
            evaluated[run_index] = row["test_acc"]
            curve["epoch"].append(epoch)
            for k in METRICS:
                curve[k].append(row[k])
            for name, event in run.snapshot_events.items():
                if name not in state["snapshots"][run_index] and state["streaks"].fires(run_index, name, event, epoch, row):
                    snapshot_params = {k: v[pos].detach().cpu().clone() for k, v in state["params"].items()}
                    state["snapshots"][run_index][name] = {"epoch": epoch, **row, "params": snapshot_params}
            for n, event in enumerate(run.stop_events):
                if state["streaks"].fires(run_index, f"stop{n}", event, epoch, row) and pos not in leaving:
                    leaving[pos] = event.describe()
            if epoch >= run.max_epochs and pos not in leaving:
                leaving[pos] = "max_epochs"

    keep = [pos for pos in range(len(active)) if pos not in leaving]
    for pos, reason in leaving.items():
        run_index = active[pos]
        outcome = RunOutcome(
            name=runs[run_index].name,
            params={k: v[pos].detach().cpu().clone() for k, v in state["params"].items()},
            curve=state["curves"][run_index],
            epochs_trained=epoch,
            stop_reason=reason,
            snapshots=state["snapshots"][run_index],
            wall_s=time.perf_counter() - started,
        )
        state["done"][run_index] = outcome
    if len(keep) < len(active):  # models leave the batch with the weights just evaluated
        index = torch.tensor(keep, dtype=torch.long, device=train_loss.device)
        for group in ("params", "exp_avg", "exp_avg_sq"):
            state[group] = {k: v[index] for k, v in state[group].items()}
        grads = {k: v[index] for k, v in grads.items()}
        state["active"] = [active[pos] for pos in keep]
    if keep:
        _adamw_step(state, grads, hyper, step=epoch)
    state["epoch"] = epoch + 1
    return evaluated, bool(keep)


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


def _adamw_step(state: dict, grads: dict, hyper: Hyper, step: int) -> None:
    """One AdamW update of every model still training, written as torch's single-tensor AdamW.

    Every model in a batch started together, so all have taken ``step`` updates before this one.
    """
    lr = hyper.lr_at(step)
    t = step + 1
    bias_correction1 = 1 - hyper.beta1**t
    bias_correction2_sqrt = (1 - hyper.beta2**t) ** 0.5
    for name, param in state["params"].items():
        grad, exp_avg, exp_avg_sq = grads[name], state["exp_avg"][name], state["exp_avg_sq"][name]
        param.mul_(1 - lr * hyper.weight_decay)
        exp_avg.lerp_(grad, 1 - hyper.beta1)
        exp_avg_sq.mul_(hyper.beta2).addcmul_(grad, grad, value=1 - hyper.beta2)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(hyper.eps)
        param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)


# --- resume checkpoints -----------------------------------------------------------------


def _save_checkpoint(path, state: dict, runs: list[ModelRun]) -> None:
    blob = {
        "names": [r.name for r in runs],
        "epoch": state["epoch"],
        "active": state["active"],
        "params": {k: v.cpu() for k, v in state["params"].items()},
        "exp_avg": {k: v.cpu() for k, v in state["exp_avg"].items()},
        "exp_avg_sq": {k: v.cpu() for k, v in state["exp_avg_sq"].items()},
        "curves": state["curves"],
        "snapshots": state["snapshots"],
        "streaks": state["streaks"].since,
        "done": {i: vars(o) for i, o in state["done"].items()},
        "wall_s": state["wall_s"],
    }
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def _load_checkpoint(path, runs: list[ModelRun], device) -> dict | None:
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
    streaks = _Streaks()
    streaks.since = blob["streaks"]
    return {
        "epoch": blob["epoch"],
        "resumed_at": blob["epoch"],
        "active": blob["active"],
        "params": {k: v.to(device) for k, v in blob["params"].items()},
        "exp_avg": {k: v.to(device) for k, v in blob["exp_avg"].items()},
        "exp_avg_sq": {k: v.to(device) for k, v in blob["exp_avg_sq"].items()},
        "curves": blob["curves"],
        "snapshots": blob["snapshots"],
        "streaks": streaks,
        "done": {i: RunOutcome(**o) for i, o in blob["done"].items()},
        "wall_s": blob["wall_s"],
    }


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else "no message"
