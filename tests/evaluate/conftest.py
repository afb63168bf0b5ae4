"""Shared fixtures for tests/evaluate: real cohorts (GBSG2 bundled with scikit-survival, colon from SurvSet)
with a Cox proportional-hazards model fitted on a training half and scored on a test half."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sksurv.datasets import load_gbsg2
from sksurv.linear_model import CoxPHSurvivalAnalysis


@dataclass
class SurvivalSplit:
    train_event: np.ndarray
    train_time: np.ndarray
    event: np.ndarray
    time: np.ndarray
    risk: np.ndarray
    curves: list  # sksurv StepFunctions for the test patients
    surv: np.ndarray  # (n_test, len(grid)) survival on grid
    grid: np.ndarray


def _gbsg2_features() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    x, y = load_gbsg2()
    x = x.copy()
    x["tgrade"] = x["tgrade"].astype(str).map(len).astype(float)
    x["horTh"] = (x["horTh"].astype(str) == "yes").astype(float)
    x["menostat"] = (x["menostat"].astype(str) == "Post").astype(float)
    x = x.astype(float)
    x = (x - x.mean()) / x.std()
    return x, y["cens"].astype(bool), y["time"].astype(float)


@pytest.fixture(scope="session")
def gbsg2() -> SurvivalSplit:
    x, event, time = _gbsg2_features()
    order = np.random.default_rng(0).permutation(len(time))
    tr, te = order[: len(order) // 2], order[len(order) // 2 :]
    y_train = np.array(list(zip(event[tr], time[tr], strict=True)), dtype=[("event", bool), ("time", float)])
    model = CoxPHSurvivalAnalysis().fit(x.iloc[tr], y_train)
    risk = model.predict(x.iloc[te])
    curves = list(model.predict_survival_function(x.iloc[te]))
    grid = np.asarray(curves[0].x, dtype=float)
    surv = np.vstack([f(grid) for f in curves])
    return SurvivalSplit(event[tr], time[tr], event[te], time[te], risk, curves, surv, grid)


@pytest.fixture(scope="session")
def colon() -> pd.DataFrame:
    survset = pytest.importorskip("SurvSet.data")
    df, _ = survset.SurvLoader().load_dataset("colon").values()
    return df
