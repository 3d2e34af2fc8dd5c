"""Probes: measurements of the models while they train, recorded beside the learning curve.

``Probes`` is an observer of the training loop (``grokpaper.core.train.Observer``): at the
epochs of its cadence it measures each model on the weights just evaluated, under no_grad,
and never writes to the training state (training with and without probes gives the same
numbers, bit for bit). ``make_probes`` builds it for a batch; ``grokpaper.core.study.Study``
takes it as ``probes=make_probes`` (given by the command line, a higher layer).

**Cadence** (``probe_epochs``): every ``dense_every`` epochs up to ``dense_until``, then
``per_decade`` log-spaced epochs per decade (each rounded to an evaluation epoch), plus the
first evaluation at which test accuracy reaches each of ``thresholds``, the epochs listed in
``at_epochs``, and the run's last epoch.

**What one probe records** (one row; all from one forward pass over all p^2 inputs, the
reference model's computation at "=", tested equal to ``run_with_cache``):

- ``other_{test,all}_{loss,acc}``: the other task (subtraction for an addition source,
  addition for a transfer or relearning run... the spec's ``other_task``) on the split's test
  pairs and on all pairs; cross-entropy with the log-softmax in float64 over all logits, the
  prediction the argmax over all logits (as the trainer's metrics).
- ``readout_r2_{refit,frozen}_{mid,post}``: a linear probe of the residual stream at "=",
  after attention (``mid``) and after the MLP (``post``), for the 2K targets cos/sin(w_k (a+b))
  (a - b for a subtraction source) at the source's K key frequencies: a closed-form ridge fit on
  the split's train pairs (penalty ``ridge`` times the features' mean variance times n), scored
  as R^2 on its test pairs, averaged over the targets. ``refit``: fitted again at this probe;
  ``frozen``: the fit of the run's first probe (epoch 0), kept.
- ``{full,restricted,excluded}_loss_{add,subtract}_...``: Nanda et al.'s measures
  (``grokpaper.analysis.progress``, exact against the original code) for both templates: the
  loss over the p number logits on all pairs (``full_loss_*_all``) and on the train pairs
  (``full_loss_*_train``), the restricted loss (all pairs) and the excluded loss (train pairs)
  at the source's key frequencies (``*_source``) and at the model's current ones (``*_current``:
  held by >= ``min_neurons`` neurons now; NaN when none is). The final key frequencies of a run
  are its last probe's current ones; with ``neurons_k<k>`` a chapter can redo the neuron shares
  for any set after the run.
- ``gini_W_E``, ``gini_W_L``: Gini of the Fourier norms (``progress.fourier_gini``);
  ``weight_norm``: the L2 norm of all weights together; with ``furuta`` in the spec (the runs
  with task tokens), ``ffs`` and ``fcr``: Furuta et al.'s Fourier frequency sparsity and
  coefficient ratio of W_E's number tokens (``grokpaper.analysis.furuta``, this project's reading).
- ``neurons_dead``, ``neurons_k<k>`` (alive neurons whose best frequency, by the original neuron
  method of ``grokpaper.analysis.fourier``, is k), ``share_source_freqs`` and
  ``share_current_freqs`` (the share of alive neurons whose best frequency is a source key
  frequency / one of the model's current key frequencies), ``current_freqs`` (as "k k k").
  The shares come from ``fourier.neuron_fourier_shares_from_sums`` in float32 (the original
  method's shares to about 1e-6, without its 2-D transform, which costs several training
  epochs: only a neuron within that of a tie between two frequencies can change its best one).
- ``attn_h<h>_{a,b,eq}_{mean,sd}``: head h's attention from "=" to a, b and "=", mean and
  standard deviation over all p^2 inputs.
- ``from_init:<param>`` and ``update:<param>``: per weight matrix, the Frobenius distance from
  the run's initial weights and from the weights of the previous probe.

**Task tokens** (a run whose spec has ``tokens``, ``grokpaper.core.tasks``): each task is read at
its own "=" token: the other task's accuracy and the linear probe at theirs, the neuron picture and
attention at the run's own task's, each template's progress measures at its task's token (NaN for a
template whose task the run has no token for). Without ``tokens`` every task is read at "=", as before.

The probe's state (each run's rows, last probed weights, thresholds crossed, frozen fits) rides
in the batch's resume checkpoints, so an interrupted run loses no probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from grokpaper.analysis.fourier import neuron_fourier_analysis, neuron_fourier_shares_from_sums
from grokpaper.analysis.furuta import furuta_measures
from grokpaper.analysis.progress import (
    TEMPLATE_TASKS,
    check_template_task,
    cross_entropy_f64,
    fourier_gini,
    restricted_and_excluded_logits,
)
from grokpaper.config import TASKS
from grokpaper.core.data import all_pairs, labels
from grokpaper.core.model import PARAM_NAMES, ModelConfig
from grokpaper.core.study import ProbeRequest
from grokpaper.core.train import Evaluation, Observer, TrainingState

POSITIONS = ("a", "b", "eq")
SPEC_KEYS = ("revision", "dense_until", "dense_every", "per_decade", "thresholds", "ridge", "min_neurons",
             "source_task", "other_task", "at_epochs")


# --- cadence ---------------------------------------------------------------------------------


def probe_epochs(max_epochs: int, eval_every: int, dense_until: int, dense_every: int, per_decade: int,
                 at_epochs=()) -> list[int]:
    """The epochs at which a run is probed on its cadence, up to ``max_epochs``: every
    ``dense_every`` epochs to ``dense_until``, then ``per_decade`` points per decade
    (dense_until * 10^(j / per_decade), each rounded to the nearest multiple of ``eval_every``),
    and ``at_epochs``. Threshold crossings and the last epoch come on top (``Probes``)."""
    for name, value in (("max_epochs", max_epochs), ("eval_every", eval_every), ("dense_until", dense_until),
                        ("dense_every", dense_every), ("per_decade", per_decade)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if dense_every % eval_every:
        raise ValueError(f"dense_every must be a multiple of eval_every = {eval_every} (probes measure "
                         f"evaluated weights), got {dense_every}")
    epochs = set(range(0, min(dense_until, max_epochs) + 1, dense_every))
    j = 1
    while (epoch := eval_every * round(dense_until * 10 ** (j / per_decade) / eval_every)) <= max_epochs:
        epochs.add(epoch)
        j += 1
    epochs.update(e for e in at_epochs if 0 <= e <= max_epochs)
    return sorted(epochs)


# --- one forward pass over all inputs ----------------------------------------------------------


@torch.no_grad()
def all_pairs_forward(params: dict[str, torch.Tensor], cfg: ModelConfig, task_token: int = 0) -> dict[str, torch.Tensor]:
    """The reference model at "=" (token p + ``task_token``) for all p^2 inputs [a, b, =] (row-major (a, b)): attention
    pattern (p^2, heads, 3: on a, b, "="), residual stream after attention (``resid_mid``) and
    after the MLP (``resid_post``), MLP activations (``mlp_post``) and logits.

    The "=" query sees token a at position 0 and b at position 1 only, so attention scores and
    each head's output per key are p-row tables, gathered per input: the MLP and the unembedding
    are the only products over all p^2 inputs (``inspection.equals_position_forward`` does all
    of it per input, about 7x slower at p = 113).
    """
    p, heads, d_head = cfg.p, cfg.n_heads, cfg.d_head
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]
    resid = [W_E[:, :p].T + W_pos[0], W_E[:, :p].T + W_pos[1], (W_E[:, p + task_token] + W_pos[2])[None]]  # a, b, "="
    query = torch.einsum("hkd,d->hk", params["blocks.0.attn.W_Q"], resid[2][0])
    W_O = params["blocks.0.attn.W_O"].reshape(cfg.d_model, heads, d_head)
    scores, head_out = [], []
    for r in resid:  # per key position: a (p rows), b (p rows), "=" (1 row)
        keys = torch.einsum("hkd,td->thk", params["blocks.0.attn.W_K"], r)
        values = torch.einsum("hkd,td->thk", params["blocks.0.attn.W_V"], r)
        scores.append(torch.einsum("thk,hk->th", keys, query) / math.sqrt(d_head))
        head_out.append(torch.einsum("thk,dhk->thd", values, W_O))  # each head's value, through W_O
    pattern = torch.softmax(torch.stack([scores[0][:, None].expand(p, p, heads), scores[1][None].expand(p, p, heads),
                                         scores[2].expand(p, p, heads)], dim=-1), dim=-1)  # (a, b, head, key)
    # Weighted head outputs summed over heads, as batched products: over a for the key a, over b
    # for the key b (on the transposed pattern), one product for the key "=".
    attn_out = (torch.bmm(pattern[..., 0], head_out[0])
                + torch.bmm(pattern[..., 1].transpose(0, 1), head_out[1]).transpose(0, 1)
                + pattern[..., 2] @ head_out[2][0])  # (a, b, d_model)
    pattern = pattern.reshape(p * p, heads, 3)
    resid_mid = resid[2] + attn_out.reshape(p * p, -1)
    mlp_post = torch.relu(resid_mid @ params["blocks.0.mlp.W_in"].T + params["blocks.0.mlp.b_in"])
    resid_post = resid_mid + mlp_post @ params["blocks.0.mlp.W_out"].T + params["blocks.0.mlp.b_out"]
    return {"attn_pattern": pattern, "resid_mid": resid_mid, "mlp_post": mlp_post, "resid_post": resid_post,
            "logits": resid_post @ params["unembed.W_U"]}


# --- the linear probe --------------------------------------------------------------------------


@dataclass
class RidgeFit:
    """A fitted linear probe: predictions are (features - feature_mean) @ coef + target_mean."""

    coef: torch.Tensor
    feature_mean: torch.Tensor
    target_mean: torch.Tensor

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """The probe's predicted targets for (n, d) features."""
        return (features.double() - self.feature_mean) @ self.coef + self.target_mean


def ridge_fit(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> RidgeFit:
    """Closed-form ridge regression of (n, t) targets on (n, d) features, in float64, with an
    intercept: penalty ``ridge`` times the trace of the centred features' Gram matrix over d
    (their mean variance times n), so the same ``ridge`` means the same at any weight scale."""
    if not ridge > 0:
        raise ValueError(f"ridge must be > 0, got {ridge!r}")
    x, y = features.double(), targets.double()
    feature_mean, target_mean = x.mean(0), y.mean(0)
    xc = x - feature_mean
    gram = xc.T @ xc
    penalty = ridge * max(float(gram.trace()) / gram.shape[0], 1e-300)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    coef = torch.linalg.solve(gram + penalty * eye, xc.T @ (y - target_mean))
    return RidgeFit(coef, feature_mean, target_mean)


def r2_score(predicted: torch.Tensor, targets: torch.Tensor) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot of each target column (around its own
    mean), averaged over the columns."""
    y = targets.double()
    residual = (y - predicted.double()).square().sum(0)
    total = (y - y.mean(0)).square().sum(0)
    return float((1 - residual / total).mean())


def template_targets(pairs: np.ndarray, p: int, task: str, freqs) -> torch.Tensor:
    """cos and sin of w_k t(a, b) for each frequency k (t = a + b for add, a - b for subtract),
    w_k = 2 pi k / p: the (n, 2K) targets of the linear probe."""
    check_template_task(task)
    a, b = (torch.as_tensor(col, dtype=torch.float64) for col in np.asarray(pairs).T)
    t = a + TEMPLATE_TASKS[task] * b
    columns = []
    for k in freqs:
        columns += [torch.cos(2 * torch.pi * k * t / p), torch.sin(2 * torch.pi * k * t / p)]
    return torch.stack(columns, dim=1)


# --- one probe ---------------------------------------------------------------------------------


@dataclass
class ProbeContext:
    """What stays fixed while one run is probed: its data, reference frequencies and settings."""

    cfg: ModelConfig
    spec: dict
    train_idx: torch.Tensor  # row-major indices (a p + b) of the split's train pairs
    test_idx: torch.Tensor
    labels: dict[str, torch.Tensor]  # task -> targets of all p^2 pairs (row-major)
    # task -> its "=" token (a run with task tokens; ``spec["tokens"]``): the probes read each task
    # at its own token; without tokens every task is read at token 0.
    tokens: dict[str, int]
    task: str  # the run's own task: its neurons and attention are read at its token
    source_freqs: list[int]  # key frequencies of the seed's grokked source
    readout_targets: torch.Tensor  # (p^2, 2K): cos/sin(w_k t) of the source task, source's frequencies
    init: dict[str, torch.Tensor]
    schedule: list[int]  # the cadence's epochs (``probe_epochs``)
    max_epochs: int

    @classmethod
    def for_request(cls, request: ProbeRequest, cfg: ModelConfig) -> "ProbeContext":
        """The context of one run of a batch, from the study's request (validated first)."""
        spec = check_spec(request.spec)
        p = cfg.p
        check_template_task(spec["source_task"])  # the linear probe's targets are its template
        index = {name: torch.as_tensor(np.asarray(pairs)[:, 0] * p + np.asarray(pairs)[:, 1])
                 for name, pairs in (("train", request.run.split.train_pairs), ("test", request.run.split.test_pairs))}
        pairs = all_pairs(p)
        # The source is a one-token model (a run with task tokens added one): analysed with its own config.
        source_cfg = replace(cfg, n_task_tokens=request.source["embed.W_E"].shape[1] - p)
        source_freqs = neuron_fourier_analysis(request.source, source_cfg,
                                               spec["source_task"]).frequencies(spec["min_neurons"])
        # Log-spaced epochs are rounded to multiples of dense_every, which are evaluation epochs.
        schedule = probe_epochs(request.run.max_epochs, spec["dense_every"], spec["dense_until"],
                                spec["dense_every"], spec["per_decade"], spec["at_epochs"])
        return cls(
            cfg=cfg, spec=spec, train_idx=index["train"], test_idx=index["test"],
            labels={task: torch.from_numpy(labels(task, pairs, p))
                    for task in dict.fromkeys((*TEMPLATE_TASKS, spec["other_task"], request.task))},
            tokens=dict(spec.get("tokens", {})), task=request.task,
            source_freqs=source_freqs,
            readout_targets=template_targets(pairs, p, spec["source_task"], source_freqs) if source_freqs else None,
            init={k: v.detach().cpu().clone() for k, v in request.run.init.items()},
            schedule=schedule, max_epochs=request.run.max_epochs,
        )


def check_spec(spec: dict) -> dict:
    """A run config's probe spec, checked: every key present, values of the right kind."""
    if not isinstance(spec, dict):
        raise ValueError(f"probe spec must be a mapping with keys {', '.join(SPEC_KEYS)}, got {spec!r}")
    missing = [k for k in SPEC_KEYS if k not in spec]
    if missing:
        raise ValueError(f"probe spec is missing {', '.join(missing)} (keys: {', '.join(SPEC_KEYS)})")
    if not spec["ridge"] > 0:
        raise ValueError(f"probe spec ridge must be > 0, got {spec['ridge']!r}")
    if spec["other_task"] not in TASKS:
        raise ValueError(f"probe spec other_task must be one of {', '.join(TASKS)}, got {spec['other_task']!r}")
    tokens = spec.get("tokens", {})
    if not isinstance(tokens, dict) or any(t not in TASKS or not isinstance(n, int) or n < 0 for t, n in tokens.items()):
        raise ValueError(f"probe spec tokens must map tasks ({', '.join(TASKS)}) to tokens >= 0, got {tokens!r}")
    if not isinstance(spec["min_neurons"], int) or spec["min_neurons"] < 1:
        raise ValueError(f"probe spec min_neurons must be a positive integer, got {spec['min_neurons']!r}")
    return spec


@torch.no_grad()
def measure(params: dict[str, torch.Tensor], context: ProbeContext, previous: dict[str, torch.Tensor],
            frozen: dict[str, RidgeFit] | None) -> tuple[dict, dict[str, RidgeFit]]:
    """One probe of one model: the row of measures (module docstring) and this probe's linear-probe
    fits (the run's first ones are kept frozen). ``previous``: the weights of the previous probe."""
    cfg, spec, p = context.cfg, context.spec, context.cfg.p
    # One forward per "=" token read: the run's own task's, the other task's, the source task's.
    forwards: dict[int, dict[str, torch.Tensor]] = {}

    def at(task: str) -> dict[str, torch.Tensor]:
        token = context.tokens.get(task, 0)
        if token not in forwards:
            forwards[token] = all_pairs_forward(params, cfg, token)
        return forwards[token]

    forward = at(context.task)
    row: dict = {}

    # The other task, with the trainer's loss and accuracy (all logits), at its own token.
    logits = at(spec["other_task"])["logits"]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    other = context.labels[spec["other_task"]].to(logits.device)
    correct = logits.argmax(-1) == other
    nll = -logprobs.gather(-1, other[:, None]).squeeze(-1)
    for where, idx in (("test", context.test_idx.to(logits.device)), ("all", None)):
        row[f"other_{where}_loss"] = float(nll.mean() if idx is None else nll[idx].mean())
        row[f"other_{where}_acc"] = float(correct.double().mean() if idx is None else correct[idx].double().mean())

    # Addition (the source task) inside the model: linear probes of the residual stream.
    fits = {}
    for where in ("mid", "post"):
        for kind in ("refit", "frozen"):
            row[f"readout_r2_{kind}_{where}"] = math.nan
        if context.readout_targets is None:
            continue
        features = at(spec["source_task"])[f"resid_{where}"].double()
        targets = context.readout_targets.to(features.device)
        train, test = context.train_idx.to(features.device), context.test_idx.to(features.device)
        fits[where] = ridge_fit(features[train], targets[train], spec["ridge"])
        row[f"readout_r2_refit_{where}"] = r2_score(fits[where].predict(features[test]), targets[test])
        kept = (frozen or fits)[where]
        row[f"readout_r2_frozen_{where}"] = r2_score(kept.predict(features[test]), targets[test])

    # The neuron method's frequencies (from p-long sums: the same shares, ten times cheaper;
    # float32 halves that again, and moves a share by about 1e-6).
    shares, dead = neuron_fourier_shares_from_sums(forward["mlp_post"], p, dtype=torch.float32)
    best = torch.nan_to_num(shares, nan=-torch.inf).argmax(0) + 1
    alive = ~dead
    counts = torch.bincount(best[alive], minlength=p // 2 + 1)[1:].tolist()  # k = 1..p//2
    current = [k for k, n in enumerate(counts, start=1) if n >= spec["min_neurons"]]
    row["neurons_dead"] = int(dead.sum())
    n_alive = max(int(alive.sum()), 1)
    row["share_source_freqs"] = sum(counts[k - 1] for k in context.source_freqs) / n_alive
    row["share_current_freqs"] = sum(counts[k - 1] for k in current) / n_alive
    row["current_freqs"] = " ".join(map(str, current))
    row.update({f"neurons_k{k}": n for k, n in enumerate(counts, start=1)})

    # Nanda et al.'s progress measures for both templates, at the source's and the current key frequencies,
    # each from the logits at its task's token (a run with task tokens that lacks one of them: NaN).
    train = context.train_idx.to(forward["logits"].device)
    for template in TEMPLATE_TASKS:
        if context.tokens and template not in context.tokens:
            for name in (f"full_loss_{template}_all", f"full_loss_{template}_train",
                         *(f"{kind}_loss_{template}_{which}" for kind in ("restricted", "excluded")
                           for which in ("source", "current"))):
                row[name] = math.nan
            continue
        number_logits = at(template)["logits"][:, :p].double()
        targets = context.labels[template].to(number_logits.device)
        row[f"full_loss_{template}_all"] = cross_entropy_f64(number_logits, targets)
        row[f"full_loss_{template}_train"] = cross_entropy_f64(number_logits[train], targets[train])
        for name, freqs in (("source", context.source_freqs), ("current", current)):
            restricted_loss = excluded_loss = math.nan
            if freqs:
                restricted, excluded = restricted_and_excluded_logits(number_logits, p, template, freqs)
                restricted_loss = cross_entropy_f64(restricted, targets)
                excluded_loss = cross_entropy_f64(excluded[train], targets[train])
            row[f"restricted_loss_{template}_{name}"] = restricted_loss
            row[f"excluded_loss_{template}_{name}"] = excluded_loss
    row.update(fourier_gini(params, p))
    if context.spec.get("furuta"):
        row.update(furuta_measures(params, p, n_task_tokens=cfg.n_task_tokens))
    row["weight_norm"] = math.sqrt(sum(float(params[k].double().square().sum()) for k in PARAM_NAMES))

    # Attention from "=", per head.
    pattern = forward["attn_pattern"].double()
    mean, sd = pattern.mean(0), pattern.std(0, unbiased=False)
    for h in range(cfg.n_heads):
        for j, position in enumerate(POSITIONS):
            row[f"attn_h{h}_{position}_mean"] = float(mean[h, j])
            row[f"attn_h{h}_{position}_sd"] = float(sd[h, j])

    # How far each matrix moved: since the start, and since the previous probe.
    for name in PARAM_NAMES:
        w = params[name].detach().double()
        row[f"from_init:{name}"] = float((w - context.init[name].to(w.device).double()).norm())
        row[f"update:{name}"] = float((w - previous[name].to(w.device).double()).norm())
    return row, fits


# --- the observer ------------------------------------------------------------------------------


class Probes(Observer):
    """The probes of a batch: each run with a probe spec is measured at its cadence (module
    docstring), at each threshold first crossed and at its last epoch; rows per run."""

    name = "probes"

    def __init__(self, contexts: dict[int, ProbeContext]):
        self.contexts = contexts  # run index -> its context (runs without probes are absent)
        self.rows: dict[int, list[dict]] = {i: [] for i in contexts}
        self.previous: dict[int, dict[str, torch.Tensor]] = {}  # weights at the run's last probe
        self.crossed: dict[int, list[float]] = {i: [] for i in contexts}  # thresholds reached so far
        self.frozen: dict[int, dict[str, RidgeFit]] = {}  # linear-probe fits of the run's first probe

    def evaluated(self, state: TrainingState, evaluation: Evaluation) -> None:
        """Probe each evaluated run that is due, on the weights just evaluated."""
        for pos, row in evaluation.rows.items():
            run_index = state.active[pos]
            context = self.contexts.get(run_index)
            if context is None or evaluation.leaving.get(pos, "").startswith("error"):
                continue
            triggers = self._triggers(run_index, context, evaluation.epoch, row, pos in evaluation.leaving)
            if not triggers:
                continue
            params = {k: v[pos].detach().clone() for k, v in state.params.items()}
            previous = self.previous.get(run_index, context.init)
            measured, fits = measure(params, context, previous, self.frozen.get(run_index))
            self.frozen.setdefault(run_index, fits)
            self.previous[run_index] = {k: v.cpu() for k, v in params.items()}
            self.rows[run_index].append({"epoch": evaluation.epoch, "trigger": "+".join(triggers),
                                         "test_acc": row["test_acc"], **measured})

    def _triggers(self, run_index: int, context: ProbeContext, epoch: int, row: dict, leaving: bool) -> list[str]:
        """Why this run is probed now (empty: it is not): its cadence, thresholds first reached, its end."""
        triggers = ["cadence"] if epoch in context.schedule else []
        for threshold in context.spec["thresholds"]:
            if threshold not in self.crossed[run_index] and row["test_acc"] >= threshold - 1e-12:
                self.crossed[run_index].append(threshold)
                triggers.append(f"threshold {threshold:g}")
        if leaving or epoch >= context.max_epochs:
            triggers.append("final")
        return triggers

    def records(self, run_index: int) -> list[dict]:
        """The run's probe rows, one per probe epoch."""
        return self.rows.get(run_index, [])

    def state_dict(self) -> dict:
        """Rows, last probed weights, thresholds crossed and frozen fits of every run (CPU tensors)."""
        return {"rows": self.rows, "crossed": self.crossed,
                "previous": {i: {k: v.cpu() for k, v in w.items()} for i, w in self.previous.items()},
                "frozen": {i: {where: {k: v.cpu() for k, v in vars(fit).items()} for where, fit in fits.items()}
                           for i, fits in self.frozen.items()}}

    def load_state_dict(self, saved: dict) -> None:
        """Go on from a resume checkpoint's state."""
        if set(saved.get("rows", {})) != set(self.contexts):
            raise ValueError(f"the resume checkpoint's probes are of runs {sorted(saved.get('rows', {}))}, "
                             f"this batch probes runs {sorted(self.contexts)}")
        self.rows, self.crossed, self.previous = saved["rows"], saved["crossed"], saved["previous"]
        self.frozen = {i: {where: RidgeFit(**fit) for where, fit in fits.items()} for i, fits in saved["frozen"].items()}


def make_probes(requests: list[ProbeRequest], cfg: ModelConfig) -> Probes:
    """The probes of a batch, for ``Study(..., probes=make_probes)``: one context per run that
    has a probe spec (its source's key frequencies computed here, once)."""
    return Probes({request.run_index: ProbeContext.for_request(request, cfg) for request in requests})
