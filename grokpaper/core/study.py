"""The study's conditions, on top of the trainer and the run store.

* **Source runs** (one per seed): addition from the seed's random init until test accuracy
  has been 100 % for ``grokked_hold_epochs`` epochs (the *grokked* source; cap
  ``grokked_max_epochs``). The same trajectory yields the *memorized* source, its first
  evaluated state with 100 % train accuracy, and the *fixed-epochs* variant, its state at
  ``memorized_fixed_epochs`` (the original study's 2,000): same seed, same start.
* **Transfer runs** (seed x condition): subtraction on the seed's split, from the grokked
  source, the memorized source, or random init, with a fresh optimizer and warm-up. The
  random condition starts from the very weights the seed's source started from, so the
  only difference between conditions is what the addition training did to them.
* **Probe runs**: a source or transfer run again, with probes measuring the models along the
  way (``grokpaper.analysis.probes``, given to ``Study(..., probes=...)`` by a higher layer) and
  snapshots at the first top-threshold accuracy ("first_top") and at the start of the streak
  that stopped it ("sustained"). Same trajectory as the run without probes (probes never touch
  training), but a transfer stops once test accuracy held the top threshold (0.999)
  ``probe_hold_epochs`` epochs (sources keep their own rule). An *extended* transfer probe run
  has the cap ``extended_max_epochs`` and a snapshot "cap" at ``transfer_max_epochs``: up to
  there it is the capped run, epoch for epoch.
* **Relearning runs** (seed x condition): the transfer run's final weights trained back on the
  source task, on the seed's split, with a fresh optimizer, to the top threshold held
  ``probe_hold_epochs`` epochs (cap ``relearn_max_epochs``), probes on.
* **Control runs** (seed x control, ``CONTROLS``): what carries the transfer. Each is a transfer
  to the new task from weights built out of the seed's grokked source and its random init
  (``grokpaper.core.controls``): *norm-matched* (the random init, each matrix rescaled to the
  grokked source's norm; the zero biases stay zero), *permuted* (the grokked source with a
  seeded permutation of the number tokens on W_E and W_U, stored in the config), *embeddings-only*
  (the source's W_E and W_U, the rest random init), *all-but-embeddings* (the source with W_E and
  W_U at the random init) and *frozen-embeddings* (the source, with W_E and W_pos frozen). Same
  protocol as the transfers (the seed's split, a fresh optimizer and warm-up, cap
  ``transfer_max_epochs``), probes on, stopping once test accuracy held the top threshold
  ``probe_hold_epochs`` epochs, with snapshots at the first top-threshold accuracy ("first_top")
  and at the start of the streak that stopped it ("sustained").

Everything is cached in the run store: asking again returns stored runs without training;
a killed batch resumes from its last checkpoint. ``open_run`` and ``open_study`` (and
``Study(..., train=False)``) only read: a run that is not stored raises ``RunNotStored``,
which names the command that trains it.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from grokpaper.config import ParamsError, StudyParams, chapter_params
from grokpaper.core import controls as build
from grokpaper.core import tasks
from grokpaper.core.data import make_split
from grokpaper.core.model import ModelConfig, init_params
from grokpaper.core.store import (
    CURVE_COLUMNS,
    RunNotStored,
    RunStore,
    StoredRun,
    canonical_json,
    config_key,
    display_path,
)
from grokpaper.core.train import Event, Hyper, ModelRun, Observer, default_device, sigint_deferred, train

# "memorized-fixed" is the original study's memorized condition: the source's state after
# ``memorized_fixed_epochs`` epochs (2,000 in the paper profile), not its first 100 %-train state.
CONDITIONS = ("grokked", "memorized", "memorized-fixed", "random")
SOURCE_SNAPSHOT = {"grokked": "final", "memorized": "memorized", "memorized-fixed": "fixed"}
# Bump when grokpaper.analysis.probes changes what a probe measures: probe runs get new store keys.
PROBES_REVISION = 1
# What carries the transfer: controls and transplants, each built from the seed's grokked source
# and random init (``grokpaper.core.controls``), trained on the transfer task like a transfer.
CONTROLS = ("norm-matched", "permuted", "embeddings-only", "all-but-embeddings", "frozen-embeddings")
# The runs with task tokens (issue 22, ``grokpaper.core.tasks``), by experiment:
#  sequential        the transfer task with its own token, "=" copied into it; addition keeps its token
#  new-token-random  the same from the grokked source, the new token's column drawn at random
#  replay            sequential, with replay_share of every full batch addition examples (their token)
#  replay-no-token   the document's design: replay with one "=" for both tasks (ill-posed; one seed, short)
#  multitask         addition and the transfer task together from the seed's random init ("scratch")
#  similarity        the grokked source and random init to each of similarity_targets (the transfer
#                    task's pair is the sequential experiment's, not trained twice)
TASK_EXPERIMENTS = ("sequential", "new-token-random", "replay", "replay-no-token", "multitask", "similarity")
TASK_CONDITIONS = ("grokked", "memorized-fixed", "random")
SIMILARITY_CONDITIONS = ("grokked", "random")
SCRATCH = "scratch"  # the multi-task runs' condition: from the seed's random init
NEW_TOKEN_SEED_BASE = 1_000_000  # a random new-token column is drawn from seed NEW_TOKEN_SEED_BASE + the run's seed


@dataclass
class ProbeRequest:
    """What the probes of one run of a batch need: the run (its split, its initial weights), its
    config's probe spec and task, and the weights of its seed's grokked source, whose key
    frequencies are the probes' reference."""

    run_index: int
    run: ModelRun
    task: str
    spec: dict
    source: dict[str, torch.Tensor]


# Builds the probes of a batch (``grokpaper.analysis.probes.make_probes``): one observer for all its runs.
ProbeFactory = Callable[[list[ProbeRequest], ModelConfig], Observer]


@dataclass(frozen=True)
class StudySettings(StudyParams):
    """A profile's study parameters (``grokpaper.config.StudyParams``: the fields, their checks and
    messages are defined there, once) with what the study does with them: the model, the
    optimizer's settings, the device and every run's config."""

    def __post_init__(self):
        super().__post_init__()
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ParamsError("StudySettings: device = 'cuda' but no CUDA GPU is available here (use 'auto' or 'cpu')")

    @property
    def model(self) -> ModelConfig:
        return ModelConfig(p=self.p)

    @property
    def hyper(self) -> Hyper:
        return Hyper(lr=self.lr, weight_decay=self.weight_decay)

    @property
    def torch_device(self) -> torch.device:
        return default_device() if self.device == "auto" else torch.device(self.device)

    def _base(self, task: str, seed: int) -> dict:
        return {
            "task": task, "p": self.p, "seed": seed, "frac_train": self.frac_train,
            "eval_every": self.eval_every, "model": asdict(self.model), "hyper": asdict(self.hyper),
        }

    def source_config(self, seed: int) -> dict:
        """Run config of the seed's source run (grokked, with memorized and fixed snapshots)."""
        return {
            **self._base(self.source_task, seed),
            "kind": "source",
            "init": {"random": seed},
            "max_epochs": self.grokked_max_epochs,
            "stop": [asdict(Event.reached("test_acc", 1.0, self.grokked_hold_epochs))],
            "snapshots": {
                "memorized": asdict(Event.reached("train_acc", 1.0, 0)),
                "fixed": asdict(Event.at_epoch(min(self.memorized_fixed_epochs, self.grokked_max_epochs))),
            },
        }

    def transfer_config(self, seed: int, condition: str) -> dict:
        """Run config of one transfer run: the seed's source weights (or random init) on the new task."""
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}; got {condition!r}")
        if condition == "random":
            init = {"random": seed}
        else:
            init = {"from_run": config_key(self.source_config(seed)), "weights": SOURCE_SNAPSHOT[condition]}
        stop = [] if self.transfer_hold_epochs is None else [asdict(Event.reached("test_acc", 1.0, self.transfer_hold_epochs))]
        return {
            **self._base(self.transfer_task, seed),
            "kind": "transfer",
            "condition": condition,
            "init": init,
            "max_epochs": self.transfer_max_epochs,
            "stop": stop,
            "snapshots": {},
        }

    # -- probe runs --------------------------------------------------------------------------

    @property
    def top_threshold(self) -> float:
        """The highest accuracy threshold: probe, relearning and extended runs stop once it held."""
        return max(self.thresholds)

    def probe_spec(self, other_task: str, extra_epochs: tuple[int, ...] = (), tokens: dict | None = None) -> dict:
        """The probes of a run (part of its config, so of its store key): cadence, the linear
        probe's ridge, key-frequency rule, the other task measured, and extra probe epochs; a run
        with task tokens also gives each task's token (``tokens``) and asks for Furuta et al.'s
        measures over training (``furuta``: the task chapters read them beside Nanda et al.'s)."""
        return {**({"tokens": tokens, "furuta": True} if tokens else {}),
            "revision": PROBES_REVISION, "dense_until": self.probe_dense_until, "dense_every": self.probe_dense_every,
            "per_decade": self.probe_per_decade, "thresholds": list(self.thresholds), "ridge": self.probe_ridge,
            "min_neurons": self.probe_min_neurons, "source_task": self.source_task, "other_task": other_task,
            "at_epochs": list(extra_epochs),
        }

    def _probed(self, config: dict, other_task: str, extra_epochs: tuple[int, ...] = (),
                tokens: dict | None = None) -> dict:
        """``config`` with probes on and the probe runs' snapshots: the first evaluation at the top
        threshold, and the start of the streak that stopped the run."""
        first = asdict(Event.reached("test_acc", self.top_threshold, 0))
        return {**config, "probes": self.probe_spec(other_task, extra_epochs, tokens),
                "snapshots": {**config["snapshots"], "first_top": first}, "sustained_snapshot": "sustained"}

    def _held_top(self) -> list[dict]:
        return [asdict(Event.reached("test_acc", self.top_threshold, self.probe_hold_epochs))]

    def probe_source_config(self, seed: int) -> dict:
        """The seed's source run with probes (its own stop rule: the same trajectory and stop)."""
        return self._probed(self.source_config(seed), self.transfer_task)

    def probe_transfer_config(self, seed: int, condition: str, extended: bool = False) -> dict:
        """A transfer run with probes, stopping at the top threshold held ``probe_hold_epochs``;
        ``extended``: capped at ``extended_max_epochs``, with a snapshot "cap" at the protocol's cap."""
        config = {**self.transfer_config(seed, condition), "stop": self._held_top()}
        if not extended:
            return self._probed(config, self.source_task)
        cap = self.transfer_max_epochs
        config = {**config, "max_epochs": self.extended_max_epochs, "extended": True,
                  "snapshots": {"cap": asdict(Event.at_epoch(cap))}}
        return self._probed(config, self.source_task, extra_epochs=(cap,))

    def control_config(self, seed: int, control: str) -> dict:
        """A control run (``CONTROLS``): the transfer task from weights built out of the seed's
        grokked source and random init, probes on, stopping at the top threshold held
        ``probe_hold_epochs`` (cap ``transfer_max_epochs``). The init spec says how the weights
        are built (``Study._init``); the permutation and the frozen parameters are in the config."""
        if control not in CONTROLS:
            raise ValueError(f"control must be one of {', '.join(CONTROLS)}; got {control!r}")
        source = {"from_run": config_key(self.source_config(seed)), "weights": "final"}
        random = {"random": seed}
        init = {
            "norm-matched": {**random, "norms_from": source},
            "permuted": {**source, "permutation": build.token_permutation(self.p, seed)},
            "embeddings-only": {**random, "take": {**source, "params": list(build.EMBEDDINGS)}},
            "all-but-embeddings": {**source, "take": {**random, "params": list(build.EMBEDDINGS)}},
            "frozen-embeddings": source,
        }[control]
        config = {**self._base(self.transfer_task, seed), "kind": "control", "condition": control, "init": init,
                  "max_epochs": self.transfer_max_epochs, "stop": self._held_top(), "snapshots": {}}
        if control == "frozen-embeddings":
            config["frozen"] = list(build.FROZEN_EMBEDDINGS)
        return self._probed(config, self.source_task)

    # -- runs with task tokens (issue 22) ------------------------------------------------------

    def task_designs(self) -> list[tuple[str, str, str]]:
        """Every (experiment, condition, target) of the runs with task tokens (``TASK_EXPERIMENTS``);
        each is run for every seed, but replay-no-token for the first seed only."""
        target = self.transfer_task
        designs = [("sequential", c, target) for c in TASK_CONDITIONS]
        designs += [("new-token-random", "grokked", target), ("replay-no-token", "grokked", target)]
        designs += [("replay", c, target) for c in TASK_CONDITIONS]
        designs += [("multitask", SCRATCH, target)]
        designs += [("similarity", c, t) for t in self.similarity_targets if t != target for c in SIMILARITY_CONDITIONS]
        return designs

    def task_seeds(self, experiment: str) -> tuple[int, ...]:
        """The seeds an experiment runs: all, but the ill-posed demonstration runs on the first."""
        return self.seeds[:1] if experiment == "replay-no-token" else self.seeds

    def task_data(self, experiment: str, target: str) -> tasks.DataSpec:
        """What a run with task tokens trains on, is tested on and watches (``grokpaper.core.tasks``).
        The source task keeps token 0 (the source's "="); the target gets token 1 (none in replay-no-token)."""
        Entry, source = tasks.TaskEntry, self.source_task
        if experiment == "replay-no-token":
            return tasks.DataSpec(train=(Entry(target, 0), Entry(source, 0, self.replay_share)),
                                  test=(Entry(target, 0),), watch=(Entry(source, 0),))
        if experiment == "multitask":
            both = (Entry(target, 1), Entry(source, 0))
            return tasks.DataSpec(train=both, test=both, watch=both)
        replay = (Entry(source, 0, self.replay_share),) if experiment == "replay" else ()
        return tasks.DataSpec(train=(Entry(target, 1), *replay), test=(Entry(target, 1),), watch=(Entry(source, 0),))

    def task_config(self, seed: int, experiment: str, condition: str, target: str | None = None) -> dict:
        """A run with task tokens: ``experiment`` (``TASK_EXPERIMENTS``) from ``condition`` (a source
        snapshot, 'random' init, or 'scratch' for multitask) to ``target`` (default: the transfer task)."""
        target = target or self.transfer_task
        if (experiment, condition, target) not in self.task_designs():
            raise ValueError(f"no task-token run {experiment} / {condition} / {target} in this profile; runs: "
                             + ", ".join("/".join(d) for d in self.task_designs()))
        data = self.task_data(experiment, target)
        model = replace(self.model, n_task_tokens=data.n_task_tokens)
        if condition in ("random", SCRATCH):
            init = {"random": seed}
        else:
            init = {"from_run": config_key(self.source_config(seed)), "weights": SOURCE_SNAPSHOT[condition]}
        if model.n_task_tokens > 1:  # the 114-token weights, with a column for the new task's token
            init["new_token"] = "random" if experiment == "new-token-random" else "copy"
        if init.get("new_token") == "random":
            # A stream of its own: the seed itself would redraw the first entries of the seed's random init.
            init["new_token_seed"] = NEW_TOKEN_SEED_BASE + seed
        if experiment == "replay-no-token":
            cap, stop = self.ill_posed_epochs, []
        else:
            cap = self.random_table_max_epochs if target == "random" else self.task_max_epochs
            stop = self._held_top()
        config = {**self._base(target, seed), "model": asdict(model), "kind": "task", "experiment": experiment,
                  "condition": condition, "init": init, "data": data.as_config(), "max_epochs": cap, "stop": stop,
                  "snapshots": {}}
        if experiment == "replay-no-token":
            return config  # no probes: it shows a loss floor, nothing inside
        token_of = {e.task: e.token for e in (*data.train, *data.watch)}
        return self._probed(config, self.source_task, tokens=token_of)

    def relearn_config(self, seed: int, condition: str) -> dict:
        """The transfer run's final weights trained back on the source task: the seed's split,
        a fresh optimizer, to the top threshold held ``probe_hold_epochs`` (cap ``relearn_max_epochs``)."""
        init = {"from_run": config_key(self.transfer_config(seed, condition)), "weights": "final"}
        config = {**self._base(self.source_task, seed), "kind": "relearn", "condition": condition, "init": init,
                  "max_epochs": self.relearn_max_epochs, "stop": self._held_top(), "snapshots": {}}
        return self._probed(config, self.transfer_task)


@dataclass
class Run:
    """A stored run with the labels the chapters group by."""

    seed: int
    condition: str
    stored: StoredRun

    @property
    def curve(self):
        return self.stored.curve

    @property
    def result(self) -> dict:
        return self.stored.result

    def params(self, which: str = "final"):
        """Weights by original name: the final state or a named snapshot ("memorized", "fixed")."""
        return self.stored.params(which)

    def model(self, which: str = "final"):
        """The reference ``Transformer`` with these weights (hook points, ``run_with_cache``)."""
        return self.stored.model(which)


@dataclass
class TaskRun(Run):
    """A stored run with task tokens, with its experiment and target task (``TASK_EXPERIMENTS``)."""

    experiment: str = ""
    target: str = ""


class Study:
    """Get the study's runs for one set of settings: read them from the store, and train the
    missing ones (``train=True``) or raise ``RunNotStored`` naming them (``train=False``)."""

    def __init__(self, settings: StudySettings, store: RunStore | None = None, progress: bool = True,
                 train: bool = True, profile: str | None = None, overrides: dict | None = None,
                 probes: ProbeFactory | None = None):
        self.settings = settings
        # Probe runs need probes, which are measurements (grokpaper.analysis): a higher layer gives them.
        self.probes = probes
        self.store = store or RunStore()
        self.progress = progress
        self.train_missing = train
        # Only for messages: the profile and overrides the settings came from, so that an error
        # can name the exact command that trains a missing or broken run.
        self.profile = profile
        self.overrides = overrides or {}
        self._sources: dict[int, StoredRun] | None = None

    @classmethod
    def from_params(cls, params: dict, **kwargs) -> "Study":
        return cls(StudySettings.from_params(params), **kwargs)

    def train_command(self, config: dict) -> str:
        """The command line that trains the run of ``config`` into the store."""
        probed = "probe-" if "probes" in config else ""
        if config["kind"] == "source":
            what = f"{probed}sources --seeds {config['seed']}"
        elif config["kind"] == "control":
            what = f"controls --control {config['condition']} --seeds {config['seed']}"
        elif config["kind"] == "task":
            what = (f"tasks --experiment {config['experiment']} --condition {config['condition']} "
                    f"--target {config['task']} --seeds {config['seed']}")
        elif config["kind"] == "relearn":
            what = f"relearn --condition {config['condition']} --seeds {config['seed']}"
        else:
            extend = " --extend" if config.get("extended") else ""
            what = f"{probed}transfer --condition {config['condition']} --seeds {config['seed']}{extend}"
        extra = "".join(f" -p {shlex.quote(f'{k}={v}')}" for k, v in self.overrides.items() if k != "seeds")
        elsewhere = Path(self.store.root).resolve() != Path(RunStore().root).resolve()
        store = f"GROKPAPER_STORE={shlex.quote(str(self.store.root))} " if elsewhere else ""
        return f"{store}python -m grokpaper train {what} --profile {self.profile or '<profile>'}{extra}"

    def sources(self) -> dict[int, StoredRun]:
        """The source run of every seed (trained together in one batch if not stored)."""
        if self._sources is None:
            configs = {seed: self.settings.source_config(seed) for seed in self.settings.seeds}
            self._sources = self._get(configs)
        return self._sources

    def source(self, seed: int, condition: str) -> dict:
        """Weights of the seed's grokked (final) or memorized (snapshot) source model."""
        return self.sources()[seed].params(SOURCE_SNAPSHOT[condition])

    def transfers(self, conditions=CONDITIONS) -> list[Run]:
        """Every transfer run (seed x condition), trained as one batch if not stored."""
        wanted = [(seed, c) for seed in self.settings.seeds for c in conditions]
        configs = {(seed, c): self.settings.transfer_config(seed, c) for seed, c in wanted}
        stored = self._get(configs)
        return [Run(seed=seed, condition=c, stored=stored[(seed, c)]) for seed, c in wanted]

    def probe_sources(self) -> dict[int, StoredRun]:
        """The source run of every seed again, with probes (one batch if not stored)."""
        configs = {seed: self.settings.probe_source_config(seed) for seed in self.settings.seeds}
        return self._get(configs)

    def probe_transfers(self, conditions=CONDITIONS, extended: bool = False) -> list[Run]:
        """Every transfer run (seed x condition) again, with probes, stopping at the top threshold
        held (one batch if not stored); ``extended``: the extended runs instead."""
        wanted = [(seed, c) for seed in self.settings.seeds for c in conditions]
        configs = {(seed, c): self.settings.probe_transfer_config(seed, c, extended) for seed, c in wanted}
        stored = self._get(configs)
        return [Run(seed=seed, condition=c, stored=stored[(seed, c)]) for seed, c in wanted]

    def extended_transfers(self, conditions=CONDITIONS) -> list[Run]:
        """The extended transfer probe runs that are stored (``train probe-transfer --extend``: a run
        censored at the protocol's cap, carried on to ``extended_max_epochs``). Read only: an
        extension is trained by hand for the runs that need one, so a missing one is not an error."""
        out = []
        for seed in self.settings.seeds:
            for c in conditions:
                key = config_key(self.settings.probe_transfer_config(seed, c, extended=True))
                if self.store.has(key):
                    out.append(Run(seed=seed, condition=c, stored=self.store.load(key)))
        return out

    def relearning(self, conditions=CONDITIONS) -> list[Run]:
        """Every transferred model (seed x condition) trained back on the source task, with probes;
        the transfer runs come first (read from the store, or trained if allowed)."""
        self.transfers(conditions)
        wanted = [(seed, c) for seed in self.settings.seeds for c in conditions]
        configs = {(seed, c): self.settings.relearn_config(seed, c) for seed, c in wanted}
        stored = self._get(configs)
        return [Run(seed=seed, condition=c, stored=stored[(seed, c)]) for seed, c in wanted]

    def controls(self, controls=CONTROLS) -> list[Run]:
        """Every control run (seed x control, ``CONTROLS``), with probes (one batch if not stored;
        the seeds' sources come first)."""
        wanted = [(seed, c) for seed in self.settings.seeds for c in controls]
        configs = {(seed, c): self.settings.control_config(seed, c) for seed, c in wanted}
        stored = self._get(configs)
        return [Run(seed=seed, condition=c, stored=stored[(seed, c)]) for seed, c in wanted]

    def task_runs(self, designs=None) -> list["TaskRun"]:
        """The runs with task tokens of ``designs`` ((experiment, condition, target) triples; default:
        all of ``settings.task_designs()``), for each seed of the experiment (``settings.task_seeds``),
        with probes. Runs of one experiment and target have the same data sizes: each such group
        trains as one batch if not stored."""
        s = self.settings
        designs = list(designs or s.task_designs())
        out = []
        for group in dict.fromkeys((e, t) for e, _, t in designs):
            wanted = [(seed, e, c, t) for e, c, t in designs if (e, t) == group for seed in s.task_seeds(e)]
            configs = {w: s.task_config(w[0], w[1], w[2], w[3]) for w in wanted}
            stored = self._get(configs)
            out += [TaskRun(seed=seed, condition=c, stored=stored[(seed, e, c, t)], experiment=e, target=t)
                    for seed, e, c, t in wanted]
        return out

    def rerun_check(self, conditions=CONDITIONS) -> pd.DataFrame:
        """Each stored probe rerun (and extended run) against the run it reruns, over the epochs
        both evaluated: one row per pair with ``rows`` compared, ``differing`` values and the
        ``first_differing_epoch`` (None: equal). Pairs not both stored are left out."""
        s, pairs = self.settings, []
        for seed in s.seeds:
            pairs.append((f"source seed {seed}", s.source_config(seed), s.probe_source_config(seed)))
            for c in conditions:
                original = s.transfer_config(seed, c)
                pairs.append((f"transfer {c} seed {seed}", original, s.probe_transfer_config(seed, c)))
                pairs.append((f"transfer {c} seed {seed} extended", original, s.probe_transfer_config(seed, c, True)))
        rows = []
        for label, original, rerun in pairs:
            keys = config_key(original), config_key(rerun)
            if all(self.store.has(k) for k in keys):
                first, second = (self.store.load(k) for k in keys)
                rows.append({"run": label, "rerun": keys[1], "original": keys[0],
                             "stopped_at": second.result["epochs_trained"], **curve_agreement(second.curve, first.curve)})
        return pd.DataFrame(rows, columns=["run", "rerun", "original", "stopped_at", "rows", "differing",
                                           "first_differing_epoch"])

    # -- machinery ------------------------------------------------------------------------

    def _init(self, config: dict) -> dict:
        """A run's initial weights from its config's init spec: a seed's random init or a stored
        run's weights, then (control runs) the matrices of ``take`` put in, every matrix rescaled
        to the norms of ``norms_from``, the number tokens relabelled by ``permutation``."""
        init = config["init"]
        params = self._weights(init)
        if "new_token" in init:  # a run with task tokens: one more "=" column (``tasks.add_task_token``)
            generator = torch.Generator().manual_seed(init.get("new_token_seed", config["seed"]))
            params = tasks.add_task_token(params, init["new_token"], generator)
        if "take" in init:
            params = build.transplant(params, self._weights(init["take"]), init["take"]["params"])
        if "norms_from" in init:
            params = build.norm_matched(params, self._weights(init["norms_from"]))
        if "permutation" in init:
            params = build.permute_tokens(params, init["permutation"])
        return params

    def _weights(self, spec: dict) -> dict:
        """The weights an init spec names: ``{"random": seed}`` or ``{"from_run": key, "weights": which}``."""
        if "random" in spec:
            return init_params(self.settings.model, torch.Generator().manual_seed(spec["random"]))
        source = next((run for run in self.sources().values() if run.key == spec["from_run"]), None)
        # Not a source: a transfer run, which ``relearning`` asked for (so stored) before this.
        source = source or self.store.load(spec["from_run"])
        return source.params(spec["weights"])

    def starting_weights(self, run: Run) -> dict:
        """The weights a run started from, before anything its config adds (a task token's column):
        its seed's random init or the stored weights it names (a source's snapshot)."""
        return self._weights(run.stored.config["init"])

    def _split(self, config: dict):
        """A run's data: the seed's split of its task, or (a run with task tokens) the tasks of its
        ``data`` section (``grokpaper.core.tasks.task_split``)."""
        s = self.settings
        if "data" in config:
            return tasks.task_split(tasks.DataSpec.from_config(config["data"]), s.p, config["seed"], s.frac_train)
        return make_split(config["task"], s.p, config["seed"], s.frac_train)

    def _probe_observer(self, configs: dict, runs: list[ModelRun], model: ModelConfig) -> Observer | None:
        """The probes of a batch (None when none of its runs has probes), from the factory given."""
        requests = [ProbeRequest(i, run, cfg["task"], cfg["probes"], self.sources()[cfg["seed"]].params())
                    for i, (cfg, run) in enumerate(zip(configs.values(), runs)) if "probes" in cfg]
        if not requests:
            return None
        if self.probes is None:
            raise ValueError("probe runs need probes: Study(..., probes=grokpaper.analysis.probes.make_probes) "
                             "(or `python -m grokpaper train probe-...`, which gives them)")
        return self.probes(requests, model)

    def _get(self, configs: dict) -> dict:
        keys = {label: config_key(cfg) for label, cfg in configs.items()}
        missing = [label for label in configs if not self.store.has(keys[label])]
        if missing and not self.train_missing:
            hours = " (hours each at paper scale)" if self.settings.p >= 100 else ""
            how = [f"{_run_name(configs[label])} (key {keys[label]})" for label in missing]
            commands = [f"`{self.train_command(configs[label])}`" for label in missing]
            if len(missing) == 1:
                raise RunNotStored(f"run {how[0]} is not in the run store at {display_path(self.store.root)}/; "
                                   f"train it with {commands[0]}{hours}")
            every = ""
            if all(_in_controls_set(configs[label]) for label in missing):
                profile = self.profile or "<profile>"
                every = (f" (all of them at once: `python -m grokpaper train all --runs controls --profile {profile}` "
                         f"on CPU workers, or `python -m grokpaper train controls --profile {profile}`, one batch, "
                         "on a GPU)")
            raise RunNotStored(f"{len(missing)} runs are not in the run store at {display_path(self.store.root)}/{every}; "
                               "train them with " + "; ".join(f"{c} for {h}" for h, c in zip(how, commands)) + hours)
        if missing:
            # Another process asking for the same runs (a `train all` worker, a chapter) waits
            # for this one to store them, then finds them stored: a run is trained once.
            with self.store.lock([keys[label] for label in missing]):
                self._train_missing(configs, keys)
        return {label: self.store.load(keys[label], how_to_train=self.train_command(configs[label]))
                for label in configs}

    def _train_missing(self, configs: dict, keys: dict) -> None:
        """Train the runs of ``configs`` that are not stored (looked up again: another process may
        have stored them while this one waited for their lock)."""
        missing = [label for label in configs if not self.store.has(keys[label])]
        if not missing:
            return
        # A batch stopped while its outcomes were being stored has some runs stored and its
        # checkpoint under the whole batch: finish that batch, not a new one from epoch 0.
        whole = self.store.resume_path(list(keys.values()))
        if whole.exists() and not self.store.resume_path([keys[label] for label in missing]).exists():
            missing = list(configs)
        self._train({label: configs[label] for label in missing}, keys)

    def _train(self, configs: dict, keys: dict) -> None:
        s = self.settings
        runs, labels = [], {}
        models = {canonical_json(cfg["model"]) for cfg in configs.values()}
        if len(models) != 1:
            raise ValueError(f"a batch trains one architecture; these runs have {len(models)}: {sorted(models)}")
        model = ModelConfig(**next(iter(configs.values()))["model"])
        for label, cfg in configs.items():
            name = _run_name(cfg)
            labels[name] = label
            runs.append(ModelRun(
                name=name,
                split=self._split(cfg),
                init=self._init(cfg),
                max_epochs=cfg["max_epochs"],
                stop_events=tuple(Event(**e) for e in cfg["stop"]),
                snapshot_events={n: Event(**e) for n, e in cfg["snapshots"].items()},
                sustained_snapshot=cfg.get("sustained_snapshot"),
                frozen=tuple(cfg.get("frozen", ())),
            ))
        probes = self._probe_observer(configs, runs, model)
        device = s.torch_device
        # Outcomes are stored when the whole batch ends (until then they live in its resume
        # checkpoint), so an interrupted batch is asked for again as the same batch. The
        # checkpoint goes only once every outcome is stored: a crash or Ctrl-C in between
        # finds the finished batch there, and storing a batch half-way would leave the rest to
        # be asked for as a new batch, from epoch 0 (hence Ctrl-C waits until storing is done).
        resume_path = self.store.resume_path([keys[label] for label in configs])
        outcomes = train(runs, model, s.hyper, eval_every=s.eval_every, device=device,
                         resume_path=resume_path, checkpoint_every=s.checkpoint_every,
                         progress=self.progress, keep_checkpoint=True, observers=(probes,) if probes else ())
        failures = [o for o in outcomes if o.failed]
        with sigint_deferred() as interrupt:
            for outcome in outcomes:
                label = labels[outcome.name]
                if not outcome.failed and not self.store.has(keys[label]):
                    self.store.save(keys[label], configs[label], outcome, model, extra=_machine(device))
            resume_path.unlink(missing_ok=True)
        if interrupt["at"] is not None:
            raise KeyboardInterrupt
        if failures:
            raise RuntimeError("training failed for " + "; ".join(f"{o.name}: {o.stop_reason}" for o in failures))



def curve_agreement(rerun: pd.DataFrame, original: pd.DataFrame) -> dict:
    """How a rerun's learning curve matches the original run's over the epochs both evaluated (a
    probe rerun stops earlier, an extended one later): ``rows`` compared, ``differing`` values
    (exact comparison: the same trainer on the same CPU kernels gives the same bits) and the
    ``first_differing_epoch`` (None when every value is equal)."""
    both = rerun.merge(original, on="epoch", suffixes=("_rerun", "_original"))
    differs = np.zeros(len(both), dtype=int)
    for column in CURVE_COLUMNS[1:]:
        differs += (both[f"{column}_rerun"].to_numpy() != both[f"{column}_original"].to_numpy())
    first = both["epoch"][differs > 0]
    return {"rows": len(both), "differing": int(differs.sum()),
            "first_differing_epoch": int(first.iloc[0]) if len(first) else None}


def _machine(device: torch.device) -> dict:
    """What a run records of where it trained: the device, torch, its threads and the CPU kernels
    torch chose (AVX2 or AVX-512 round differently: ``ATEN_CPU_CAPABILITY=avx2`` reproduces the
    committed runs on an AVX-512 machine bit for bit)."""
    machine = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if os.environ.get("ATEN_CPU_CAPABILITY"):
        machine["aten_cpu_capability"] = os.environ["ATEN_CPU_CAPABILITY"]
    return machine


def _in_controls_set(config: dict) -> bool:
    """Whether `train all --runs controls` trains this run: a control, or a grokked transfer's probe
    rerun (chapter 12's matched point)."""
    return config["kind"] == "control" or (config["kind"] == "transfer" and "probes" in config
                                           and config.get("condition") == "grokked" and not config.get("extended"))


def _run_name(config: dict) -> str:
    if config["kind"] == "task":
        return f"task-{config['experiment']}-{config['task']}-{config['condition']}-seed{config['seed']}"
    name = f"{config['kind']}-{config.get('condition', config['task'])}-seed{config['seed']}"
    if config.get("extended"):
        return f"{name}-extended"
    return f"{name}-probed" if "probes" in config and config["kind"] not in ("relearn", "control") else name


def open_study(profile: str = "paper", seeds: list[int] | None = None, store: RunStore | str | None = None,
               **overrides) -> Study:
    """A read-only ``Study`` of a profile (``params/<profile>.yaml``, study parameters
    overridden by keyword): its runs come from the store, and one that is not stored raises
    ``RunNotStored`` naming the command that trains it; nothing is ever trained."""
    if seeds is not None:
        overrides["seeds"] = list(seeds)
    params = chapter_params("01-sources", profile, overrides)
    store = store if isinstance(store, RunStore) else RunStore(store)
    return Study.from_params(params, store=store, progress=False, train=False, profile=profile,
                             overrides=overrides)


def open_run(seed: int, condition: str = "source", profile: str = "paper",
             store: RunStore | str | None = None, **overrides) -> Run:
    """One stored run of a profile, read-only: the seed's source run (``condition="source"``;
    its snapshots "memorized" and "fixed" via ``run.params(name)``), its transfer run from
    one of CONDITIONS or its control run of one of CONTROLS. Raises ``RunNotStored`` (with the
    train command) if it is not stored."""
    if condition != "source" and condition not in CONDITIONS + CONTROLS:
        raise ValueError(f"condition must be 'source' or one of {', '.join(CONDITIONS + CONTROLS)}; "
                         f"got {condition!r}")
    study = open_study(profile, seeds=[seed], store=store, **overrides)
    if condition == "source":
        return Run(seed=seed, condition="source", stored=study.sources()[seed])
    if condition in CONTROLS:
        return study.controls((condition,))[0]
    return study.transfers((condition,))[0]
