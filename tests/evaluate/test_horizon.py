"""Horizon labels: IPC weights reproduce scikit-survival's Brier score and cumulative/dynamic AUC exactly."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from sklearn.metrics import roc_auc_score
from sksurv import metrics as skm
from sksurv.util import Surv

from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.horizon import horizon_labels
from oncoplan.evaluate.survival import survival_at


def test_exclude_drops_patients_censored_before_horizon() -> None:
    lab = horizon_labels([1, 0, 1, 0, 0], [2.0, 3.0, 8.0, 9.0, 5.0], horizon=5.0)
    np.testing.assert_array_equal(lab.y, [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(lab.mask, [True, False, True, True, False])  # censored at h: unknown
    np.testing.assert_array_equal(lab.event_free, [0, 0, 1, 1, 0])
    assert lab.n_unknown == 2


@pytest.mark.parametrize("years", [2, 4])
def test_ipcw_weighted_brier_equals_sksurv(gbsg2, years: int) -> None:
    h = years * 365.0
    lab = horizon_labels(
        gbsg2.event,
        gbsg2.time,
        h,
        censoring="ipcw",
        train_event=gbsg2.train_event,
        train_time=gbsg2.train_time,
    )
    s_h = survival_at(gbsg2.curves, None, [h])[:, 0]
    ours = np.sum(lab.weight * (lab.event_free - s_h) ** 2) / len(s_h)
    ref = skm.brier_score(
        Surv.from_arrays(gbsg2.train_event, gbsg2.train_time),
        Surv.from_arrays(gbsg2.event, gbsg2.time),
        s_h,
        [h],
    )[1][0]
    assert ours == pytest.approx(ref, abs=1e-12)


def test_ipcw_weighted_auc_equals_cumulative_dynamic_auc(gbsg2) -> None:
    h = 3 * 365.0
    lab = horizon_labels(
        gbsg2.event,
        gbsg2.time,
        h,
        censoring="ipcw",
        train_event=gbsg2.train_event,
        train_time=gbsg2.train_time,
    )
    y, risk, w = lab.select(gbsg2.risk)
    ref = skm.cumulative_dynamic_auc(
        Surv.from_arrays(gbsg2.train_event, gbsg2.train_time),
        Surv.from_arrays(gbsg2.event, gbsg2.time),
        gbsg2.risk,
        [h],
    )[0][0]
    assert roc_auc_score(y, risk, sample_weight=w) == pytest.approx(ref, abs=1e-6)


def test_ipcw_weights_equal_lifelines_censoring_km_without_ties() -> None:
    rng = np.random.default_rng(0)
    t_event, cens = rng.exponential(5.0, 300), rng.exponential(8.0, 300)
    event, time = t_event <= cens, np.minimum(t_event, cens)
    h = 4.0
    lab = horizon_labels(event, time, h, censoring="ipcw")
    km = KaplanMeierFitter().fit(time, ~event)
    g = km.survival_function_at_times(time).to_numpy()
    expected = np.where(event & (time <= h), 1 / g, 0.0)
    expected[time > h] = 1 / km.survival_function_at_times(h).to_numpy()[0]
    np.testing.assert_allclose(lab.weight, expected, rtol=1e-10)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        horizon_labels([1, 0], [1.0, 2.0], 1.5, censoring="drop")
    with pytest.raises(ConfigError):
        horizon_labels([1, 0], [1.0, 2.0], -1.0)
    with pytest.raises(CohortError, match="censored before"):
        horizon_labels([0, 0], [1.0, 2.0], 5.0)
