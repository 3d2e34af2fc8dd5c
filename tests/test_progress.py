"""Progress measures (Nanda et al. 2023): restricted / excluded loss and Fourier Gini."""


import numpy as np
import pytest
import torch

from grokpaper.analysis.progress import (
    gini,
    progress_curve,
    progress_measures,
    restricted_and_excluded_logits,
    template_directions,
)
from grokpaper.core.data import split_indices
from grokpaper.core.model import load_checkpoint
from reference_data import CHECKPOINT, needs_reference
from small_models import SMALL, random_params

# --- the projection on planted logits -------------------------------------------------------------


@pytest.mark.parametrize("task,sign", [("add", 1), ("subtract", -1)])
def test_template_logits_are_kept_whole_by_restriction_and_removed_by_exclusion(task, sign):
    p, k = 13, 4
    a, b = np.divmod(np.arange(p * p), p)
    c = np.arange(p)
    w = 2 * np.pi * k / p
    template = np.cos(w * ((a + sign * b)[:, None] - c[None, :]))  # the grokked algorithm's logits
    other = np.cos(2 * np.pi * 2 / p * a)[:, None] * np.ones(p)  # a frequency-2 term in a only
    logits = torch.as_tensor(5.0 * template + other + 1.0)
    restricted, excluded = restricted_and_excluded_logits(logits, p, task, [k])
    # Restricted: the template plus the bias correction (the input-mean of what was dropped).
    torch.testing.assert_close(restricted, torch.as_tensor(5.0 * template + 1.0))
    torch.testing.assert_close(excluded, torch.as_tensor(other + 1.0))


@pytest.mark.parametrize("p", [11, 12])
def test_template_directions_are_orthonormal(p):
    u = template_directions(p, "subtract", list(range(1, p // 2 + 1)))
    assert u.shape[0] == p - 1  # odd p: 2 per frequency; even p: no sine at p/2
    torch.testing.assert_close(u @ u.T, torch.eye(u.shape[0], dtype=torch.float64), atol=1e-10, rtol=0)


def test_gini():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.eye(10)[3]) == pytest.approx(0.9)
    assert gini(np.zeros(4)) == 0.0
    assert gini([1, 3]) == pytest.approx(0.25)  # |1 - 3| summed over ordered pairs / (2 n^2 mean)


# --- on models -------------------------------------------------------------------------------------


@needs_reference
def test_reference_restricted_loss_low_excluded_loss_high():
    params, cfg = load_checkpoint(CHECKPOINT)
    blob = torch.load(CHECKPOINT, map_location="cpu", weights_only=False)
    train, _ = split_indices(cfg.p**2, seed=1, frac_train=0.3)  # the checkpoint's own split
    m = progress_measures(params, cfg, "add", train_indices=train)
    assert m.key_freqs == [3, 6, 23, 37, 39, 41, 46, 54]
    # Sanity: our loss on its train split is the loss the original run stored.
    assert m.full_loss_on_excluded_inputs == pytest.approx(float(blob["train_loss"].detach()), rel=1e-3)
    assert m.n_excluded_inputs == 3830 and m.n_restricted_inputs == cfg.p**2
    assert m.restricted_accuracy == 1.0
    assert m.restricted_loss < 1e-4 and m.restricted_loss < 10 * m.full_loss
    assert m.excluded_loss > 1.0 > 1e4 * m.full_loss_on_excluded_inputs  # removing key freqs destroys it
    assert m.excluded_accuracy < 0.1
    assert 0.3 < m.gini_W_E < 1 and 0.3 < m.gini_W_L < 1  # sparse in the Fourier basis


def test_random_model_measures_and_curve():
    cfg = SMALL
    train, _ = split_indices(cfg.p**2, seed=0, frac_train=0.3)
    m = progress_measures(random_params(cfg), cfg, "subtract", key_freqs=[1, 4], train_indices=train)
    assert np.isfinite([m.full_loss, m.restricted_loss, m.excluded_loss, m.gini_W_E, m.gini_W_L]).all()
    assert m.gini_W_E < 0.5  # random weights: no Fourier sparsity
    curve = progress_curve([(0, random_params(cfg, 0)), (10, random_params(cfg, 1))], cfg, "add", [2],
                           restricted_on="all", excluded_on="all")
    assert list(curve["epoch"]) == [0, 10]
    assert {"restricted_loss", "excluded_loss", "gini_W_E"} <= set(curve.columns)


def test_bad_input_is_rejected_before_compute():
    params = random_params(SMALL)
    with pytest.raises(ValueError, match="task must be one of"):
        progress_measures(params, SMALL, "addition", key_freqs=[1])
    with pytest.raises(ValueError, match="Fourier template.*got 'multiply'"):
        progress_measures(params, SMALL, "multiply", key_freqs=[1])
    with pytest.raises(ValueError, match="Fourier template"):
        template_directions(SMALL.p, "random", [1])
    with pytest.raises(ValueError, match=r"key_freqs must be distinct frequencies in 1\.\.5"):
        progress_measures(params, SMALL, "add", key_freqs=[6], excluded_on="all")
    with pytest.raises(ValueError, match="needs train_indices"):
        progress_measures(params, SMALL, "add", key_freqs=[1])  # excluded_on defaults to 'train'
    with pytest.raises(ValueError, match="excluded_on must be"):
        progress_measures(params, SMALL, "add", key_freqs=[1], excluded_on="validation")
    with pytest.raises(ValueError, match=r"p=13 does not match"):
        progress_measures(params, SMALL, "add", key_freqs=[1], p=13)
    params["unembed.W_U"][0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"unembed\.W_U has 1 NaN or infinite"):
        progress_measures(params, SMALL, "add", key_freqs=[1], excluded_on="all")
