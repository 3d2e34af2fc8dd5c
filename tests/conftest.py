"""Test-suite set-up shared by every test file.

One thread per process: torch's intra-op threads oversubscribe the cores when the suite's
processes (pytest, papermill kernels, training workers) share a small machine; one test went
from 0.9 s to 97 s. The environment variables reach every subprocess the tests start.
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import torch  # noqa: E402  (after the environment: torch reads it when it starts its pools)

torch.set_num_threads(1)


import signal  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def sigint_handler_left_as_found():
    """Every test leaves Ctrl-C's handler as it found it. Training turns the first Ctrl-C into a
    checkpoint only where the handler is Python's default (``train.sigint_deferred``), so a handler
    left behind would make a later test's Ctrl-C pass unnoticed, far from its cause."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before:
        signal.signal(signal.SIGINT, before)
        pytest.fail(f"this test left the SIGINT handler changed ({after!r}, was {before!r})")
