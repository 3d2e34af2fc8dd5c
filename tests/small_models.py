"""Small models for tests: one tiny configuration and random weights for it, shared by the test files."""

import torch

from grokpaper.core.model import ModelConfig, init_params

# p = 11 keeps Fourier and circuit analyses over all p^2 inputs fast; the shapes are the study's
# with every width cut down.
SMALL = ModelConfig(p=11, d_model=16, n_heads=2, d_head=8, d_mlp=24)


def random_params(cfg: ModelConfig = SMALL, seed: int = 0) -> dict[str, torch.Tensor]:
    """Freshly initialised weights of ``cfg`` from ``seed`` (the study's initialisation)."""
    return init_params(cfg, torch.Generator().manual_seed(seed))
