"""The reference model: the 1-layer transformer of Nanda et al. (2023), read top to bottom.

Parameter names, shapes, initialisation and the order of random draws follow the original
code, so an original checkpoint loads with ``load_state_dict`` unchanged and
``torch.manual_seed(s)`` followed by ``Transformer(cfg)`` gives the original init for seed s.
Every intermediate activation passes through a named ``HookPoint``
(``blocks.0.attn.hook_attn``, ``blocks.0.mlp.hook_post``, ...), TransformerLens style;
``run_with_cache`` returns them all.

This module is the ground truth. The fast batched path (``grokpaper.core.batched``) is tested
against it and never replaces it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save

from grokpaper.core.files import atomic_path


@dataclass(frozen=True)
class ModelConfig:
    """Architecture. Defaults are the original study's; only p is usually changed."""

    p: int = 113
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    n_ctx: int = 3
    n_task_tokens: int = 1  # how many "=" tokens (one per task in multi-task training)

    @property
    def d_vocab(self) -> int:
        """Numbers 0..p-1, then the "=" token(s): token p is "=" for the first task."""
        return self.p + self.n_task_tokens

    def __post_init__(self):
        for name in ("p", "d_model", "n_heads", "d_head", "d_mlp", "n_ctx", "n_task_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        if self.p < 3:
            raise ValueError(f"ModelConfig.p must be an integer >= 3, got {self.p}")
        if self.n_ctx != 3:
            raise ValueError(f"ModelConfig.n_ctx must be 3 (inputs are [a, b, =]), got {self.n_ctx}")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Original parameter names and shapes, in the order the original code draws them."""
        d, v, h, dh, m = self.d_model, self.d_vocab, self.n_heads, self.d_head, self.d_mlp
        return {
            "embed.W_E": (d, v),
            "pos_embed.W_pos": (self.n_ctx, d),
            "blocks.0.attn.W_K": (h, dh, d),
            "blocks.0.attn.W_Q": (h, dh, d),
            "blocks.0.attn.W_V": (h, dh, d),
            "blocks.0.attn.W_O": (d, h * dh),
            "blocks.0.mlp.W_in": (m, d),
            "blocks.0.mlp.b_in": (m,),
            "blocks.0.mlp.W_out": (d, m),
            "blocks.0.mlp.b_out": (d,),
            "unembed.W_U": (d, v),
        }


PARAM_NAMES = tuple(ModelConfig().param_shapes())


def init_params(cfg: ModelConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Fresh parameters drawn exactly as the original constructors draw them.

    Matrices are randn / sqrt(d_model), except W_U (randn / sqrt(d_vocab)); biases are 0.
    Draws happen in the original module-construction order, so a generator seeded with s
    gives the same weights as ``torch.manual_seed(s); Transformer(cfg)`` in the original code.
    """
    params = {}
    for name, shape in cfg.param_shapes().items():
        if name.endswith(("b_in", "b_out")):
            params[name] = torch.zeros(shape)
            continue
        scale = math.sqrt(cfg.d_vocab if name == "unembed.W_U" else cfg.d_model)
        params[name] = torch.randn(shape, generator=generator) / scale
    return params


class HookPoint(nn.Module):
    """Identity module that names an activation, so hooks and caches can reach it."""

    def forward(self, x):
        return x


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h, dh, d = cfg.n_heads, cfg.d_head, cfg.d_model
        self.d_head = dh
        self.W_K = nn.Parameter(torch.empty(h, dh, d))
        self.W_Q = nn.Parameter(torch.empty(h, dh, d))
        self.W_V = nn.Parameter(torch.empty(h, dh, d))
        self.W_O = nn.Parameter(torch.empty(d, h * dh))
        # Kept as a persistent buffer because original checkpoints store it.
        self.register_buffer("mask", torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx)))
        self.hook_k, self.hook_q, self.hook_v = HookPoint(), HookPoint(), HookPoint()
        self.hook_attn_pre, self.hook_attn, self.hook_z = HookPoint(), HookPoint(), HookPoint()

    def forward(self, x):  # x: (batch, pos, d_model)
        k = self.hook_k(torch.einsum("ihd,bpd->biph", self.W_K, x))
        q = self.hook_q(torch.einsum("ihd,bpd->biph", self.W_Q, x))
        v = self.hook_v(torch.einsum("ihd,bpd->biph", self.W_V, x))
        scores = torch.einsum("biph,biqh->biqp", k, q)  # (batch, head, query, key)
        n = x.shape[-2]
        scores = torch.tril(scores) - 1e10 * (1 - self.mask[:n, :n])  # causal, as the original
        pattern = self.hook_attn(F.softmax(self.hook_attn_pre(scores / math.sqrt(self.d_head)), dim=-1))
        z = self.hook_z(torch.einsum("biph,biqp->biqh", v, pattern))  # (batch, head, query, d_head)
        z_flat = z.permute(0, 2, 1, 3).reshape(x.shape[0], n, -1)  # heads concatenated per position
        return torch.einsum("df,bqf->bqd", self.W_O, z_flat)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.b_in = nn.Parameter(torch.empty(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.b_out = nn.Parameter(torch.empty(cfg.d_model))
        self.hook_pre, self.hook_post = HookPoint(), HookPoint()

    def forward(self, x):
        pre = self.hook_pre(torch.einsum("md,bpd->bpm", self.W_in, x) + self.b_in)
        post = self.hook_post(F.relu(pre))
        return torch.einsum("dm,bpm->bpd", self.W_out, post) + self.b_out


class TransformerBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.hook_resid_pre, self.hook_attn_out = HookPoint(), HookPoint()
        self.hook_resid_mid, self.hook_mlp_out, self.hook_resid_post = HookPoint(), HookPoint(), HookPoint()

    def forward(self, x):
        x = self.hook_resid_mid(x + self.hook_attn_out(self.attn(self.hook_resid_pre(x))))
        return self.hook_resid_post(x + self.hook_mlp_out(self.mlp(x)))


class Embed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab))

    def forward(self, tokens):  # (batch, pos) -> (batch, pos, d_model)
        return self.W_E[:, tokens].permute(1, 2, 0)


class PosEmbed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))

    def forward(self, x):
        return x + self.W_pos[: x.shape[-2]]


class Unembed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab))

    def forward(self, x):
        return x @ self.W_U


class Transformer(nn.Module):
    """tokens (batch, 3) -> logits (batch, 3, d_vocab). The prediction is ``logits[:, -1]``."""

    def __init__(self, cfg: ModelConfig, params: dict[str, torch.Tensor] | None = None):
        super().__init__()
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.pos_embed = PosEmbed(cfg)
        self.blocks = nn.ModuleList([TransformerBlock(cfg)])
        self.unembed = Unembed(cfg)
        self.hook_embed = HookPoint()
        with torch.no_grad():
            # Without explicit params, draw from the global RNG like the original constructor.
            source = params if params is not None else init_params(cfg, torch.default_generator)
            self.load_params(source)

    def forward(self, tokens):
        x = self.hook_embed(self.pos_embed(self.embed(tokens)))
        for block in self.blocks:
            x = block(x)
        return self.unembed(x)

    def hook_points(self) -> dict[str, HookPoint]:
        return {name: m for name, m in self.named_modules() if isinstance(m, HookPoint)}

    def run_with_cache(self, tokens) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and every hooked activation, keyed by hook name (e.g. ``blocks.0.mlp.hook_post``)."""
        cache: dict[str, torch.Tensor] = {}
        handles = [
            hp.register_forward_hook(lambda _m, _i, out, name=name: cache.__setitem__(name, out))
            for name, hp in self.hook_points().items()
        ]
        try:
            logits = self(tokens)
        finally:
            for handle in handles:
                handle.remove()
        return logits, cache

    def params(self) -> dict[str, torch.Tensor]:
        """Parameters by original name (the mask buffer excluded)."""
        return dict(self.named_parameters())

    def load_params(self, params: dict[str, torch.Tensor]) -> None:
        """Copy in parameters by original name, checking names and shapes against the config."""
        check_param_shapes(params, self.cfg)
        own = self.params()
        with torch.no_grad():
            for name in PARAM_NAMES:
                own[name].copy_(params[name])


def check_param_shapes(params: dict[str, torch.Tensor], cfg: ModelConfig, batch_dims: int = 0) -> None:
    """One clear error if parameter names or shapes do not match the config."""
    expected = cfg.param_shapes()
    missing = sorted(set(expected) - set(params))
    if missing:
        raise ValueError(f"checkpoint is missing parameters {missing} (config p={cfg.p})")
    for name, shape in expected.items():
        got = tuple(params[name].shape)[batch_dims:]
        if got != shape:
            raise ValueError(
                f"checkpoint parameter {name} has shape {got}, but the config "
                f"(p={cfg.p}, d_vocab={cfg.d_vocab}, d_model={cfg.d_model}) needs {shape}"
            )


# --- checkpoints ------------------------------------------------------------------------


def save_checkpoint(path: str | Path, params: dict[str, torch.Tensor], cfg: ModelConfig, meta: dict | None = None) -> None:
    """Write weights (original names) and the model config to one safetensors file, atomically.
    The same weights, config and meta give the same bytes (the header's metadata in one order)."""
    check_param_shapes(params, cfg)
    tensors = {name: params[name].detach().to("cpu", torch.float32).contiguous() for name in PARAM_NAMES}
    metadata = {"model_config": json.dumps(asdict(cfg)), "meta": json.dumps(meta or {}, sort_keys=True)}
    blob = _metadata_in_order(save(tensors, metadata=metadata), list(metadata))
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(blob)


def _metadata_in_order(blob: bytes, order: list[str]) -> bytes:
    """A safetensors file's bytes with the header's ``__metadata__`` entries in ``order``.

    safetensors writes them from a hash map whose order changes from call to call, so the same
    run saved twice differed in those bytes (and a retrained run could not match the store's
    manifest). The order chosen here, model_config first, is the one 22 of the 35 committed
    weight files have; the other 13 hold the same bytes but for that order. Left as written if
    the header is not in the compact form safetensors writes (then it cannot be rewritten here
    byte for byte)."""
    length = int.from_bytes(blob[:8], "little")
    raw = blob[8:8 + length]
    header = json.loads(raw)
    compact = lambda h: json.dumps(h, separators=(",", ":"), ensure_ascii=False).encode().ljust(length)  # noqa: E731
    if compact(header) != raw or sorted(header.get("__metadata__", {})) != sorted(order):
        return blob
    header["__metadata__"] = {key: header["__metadata__"][key] for key in order}
    return blob[:8] + compact(header) + blob[8 + length:]


def config_of(params: dict[str, torch.Tensor], p: int) -> ModelConfig:
    """The ModelConfig of a set of weights: the widths read off their shapes, and as many task tokens
    as W_E has columns beyond the p numbers."""
    d_model, d_vocab = params["embed.W_E"].shape
    n_heads, d_head, _ = params["blocks.0.attn.W_Q"].shape
    return ModelConfig(p=p, d_model=d_model, n_heads=n_heads, d_head=d_head, d_mlp=params["blocks.0.mlp.W_in"].shape[0],
                       n_task_tokens=d_vocab - p)


def load_checkpoint(path: str | Path, cfg: ModelConfig | None = None) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """Read weights from our safetensors checkpoints or the original ``torch.save`` format.

    The original format is a dict whose ``model`` entry is the state dict. If ``cfg`` is
    given, shapes are checked against it (a p = 97 checkpoint read as p = 113 is an error).
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="pt") as f:
            stored_cfg = ModelConfig(**json.loads(f.metadata()["model_config"]))
            params = {name: f.get_tensor(name) for name in f.keys()}
    else:
        # The original checkpoints pickle optimizer state and a config: weights_only=False is
        # needed, so only load files you trust (the reference data shipped beside the project).
        blob = torch.load(path, map_location="cpu", weights_only=False)
        state = blob["model"] if isinstance(blob, dict) and "model" in blob else blob
        params = {k: v for k, v in state.items() if k in PARAM_NAMES}
        stored_cfg = config_of(state, p=state["embed.W_E"].shape[1] - 1)   # the original's one "=" token
    check_param_shapes(params, cfg or stored_cfg)
    return params, cfg or stored_cfg
