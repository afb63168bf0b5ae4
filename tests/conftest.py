"""Shared fixtures: real cohorts from pip packages, the optional shared data folder, seeded generators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def colon():
    from oncoplan.data import load_cohort

    return load_cohort("survset:colon")


@pytest.fixture(scope="session")
def gbsg2():
    from oncoplan.data import load_cohort

    return load_cohort("survset:GBSG2")


def shared_data_available(*parts: str) -> bool:
    return SHARED_DATA.joinpath(*parts).exists()


requires_shared = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data not present")
