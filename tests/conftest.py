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
