"""Suite-wide fixtures: the float32 / float64 pair and their tolerances (the e3nn style)."""

import pytest
import torch

#: Absolute tolerance of a law checked in each dtype.
FLOAT_TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request) -> torch.dtype:
    """Run a test once in float32 and once in float64."""
    return request.param


@pytest.fixture
def tol(dtype) -> float:
    """``FLOAT_TOLERANCE`` of the test's dtype."""
    return FLOAT_TOLERANCE[dtype]
