"""Where the reference data live (../shared/reference beside the repo; README, "The reference
data"), and skip markers for the tests that need them."""

from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
CHECKPOINT = REFERENCE / "nanda_wd0.1_addition.pth"
# What the original analysis code computed on the checkpoint (per neuron, and a summary).
ORIGINAL_VALUES = (REFERENCE / "nanda_wd0.1_addition.neurons.csv", REFERENCE / "nanda_wd0.1_addition.summary.json")
needs_reference = pytest.mark.skipif(
    not CHECKPOINT.exists(), reason=f"reference checkpoint not found at {CHECKPOINT} (../shared/reference/ beside the "
                                    "repo; README, 'The reference data', says where it comes from)"
)
needs_original_values = pytest.mark.skipif(
    not all(path.exists() for path in (CHECKPOINT, *ORIGINAL_VALUES)),
    reason=f"reference checkpoint or the original code's values on it not found in {REFERENCE} "
           "(README, 'The reference data')"
)
