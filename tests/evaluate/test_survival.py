"""Survival metrics against scikit-survival / lifelines on GBSG2, and Antolini's C against a brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines.utils import concordance_index as lifelines_c
from sksurv import metrics as skm
from sksurv.util import Surv

from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.bootstrap import bootstrap_many, resample_counts, resample_indices
from oncoplan.evaluate.survival import (
    antolini_c,
    brier_score,
    cumulative_auc,
    evaluation_times,
    harrell_c,
    integrated_brier_score,
    survival_at,
    uno_c,
)
from oncoplan.evaluate.survival_bootstrap import (
    antolini_c_resampled,
    harrell_c_resampled,
    integrated_brier_score_resampled,
    survival_report,
    uno_c_resampled,
)


def _brute_antolini(event, time, curves) -> float:
    """O(n^2) loops over pairs, curves read with sksurv's own StepFunction.__call__ (independent reading)."""
    conc = comp = 0
    n = len(time)
    for i in range(n):
        if not event[i]:
            continue
        ti = float(time[i])
        lo = curves[i].x[0]
        s_i = 1.0 if ti < lo else float(curves[i](min(ti, curves[i].x[-1])))
        for j in range(n):
            if time[j] > ti or (time[j] == ti and not event[j]):
                comp += 1
                s_j = 1.0 if ti < lo else float(curves[j](min(ti, curves[j].x[-1])))
                conc += s_j > s_i
    return conc / comp


def test_harrell_equals_sksurv_and_lifelines(gbsg2) -> None:
    ours = harrell_c(gbsg2.event, gbsg2.time, gbsg2.risk)
    ref = skm.concordance_index_censored(gbsg2.event, gbsg2.time, gbsg2.risk)[0]
    assert ours == pytest.approx(ref, abs=1e-12)
    assert ours == pytest.approx(lifelines_c(gbsg2.time, -gbsg2.risk, gbsg2.event), abs=1e-6)


def test_uno_equals_sksurv(gbsg2) -> None:
    tau = float(np.quantile(gbsg2.time, 0.8))
    ours = uno_c(gbsg2.train_event, gbsg2.train_time, gbsg2.event, gbsg2.time, gbsg2.risk, tau=tau)
    ref = skm.concordance_index_ipcw(
        Surv.from_arrays(gbsg2.train_event, gbsg2.train_time),
        Surv.from_arrays(gbsg2.event, gbsg2.time),
        gbsg2.risk,
        tau=tau,
    )[0]
    assert ours == pytest.approx(ref, abs=1e-12)


def test_antolini_matches_brute_force_on_real_data(gbsg2) -> None:
    fast_curves = antolini_c(gbsg2.event, gbsg2.time, gbsg2.curves)
    fast_array = antolini_c(gbsg2.event, gbsg2.time, gbsg2.surv, gbsg2.grid)
    brute = _brute_antolini(gbsg2.event, gbsg2.time, gbsg2.curves)
    assert fast_curves == pytest.approx(brute, abs=1e-12)
    assert fast_array == pytest.approx(brute, abs=1e-12)


def test_antolini_matches_brute_force_with_crossing_curves(gbsg2) -> None:
    """Non-proportional curves (Weibull shapes vary by patient), so Antolini differs from Harrell."""
    from sksurv.functions import StepFunction

    rng = np.random.default_rng(1)
    n = len(gbsg2.time)
    shape = rng.uniform(0.5, 2.0, n)
    scale = np.exp(rng.normal(7.3, 0.4, n))
    grid = np.linspace(1, gbsg2.time.max(), 120)
    surv = np.exp(-((grid[None, :] / scale[:, None]) ** shape[:, None]))
    curves = [StepFunction(grid, surv[i]) for i in range(n)]
    fast = antolini_c(gbsg2.event, gbsg2.time, surv, grid)
    assert fast == pytest.approx(_brute_antolini(gbsg2.event, gbsg2.time, curves), abs=1e-12)


def test_antolini_equals_harrell_for_proportional_hazards_without_ties() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(size=250)
    t_event = rng.exponential(np.exp(-r))
    cens = rng.exponential(2.0, size=250)
    event, time = t_event <= cens, np.minimum(t_event, cens)
    grid = np.sort(time)
    surv = np.exp(-np.outer(np.exp(r), grid))
    assert antolini_c(event, time, surv, grid) == pytest.approx(harrell_c(event, time, r), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=5, max_value=60),
)
def test_harrell_in_unit_interval_and_antisymmetric(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 20, n).astype(float)  # ties in time allowed
    event = rng.integers(0, 2, n)
    event[0] = 1
    time[0] = 0.5  # at least one comparable pair
    risk = rng.normal(size=n)
    c = harrell_c(event, time, risk)
    assert 0.0 <= c <= 1.0
    assert harrell_c(event, time, -risk) == pytest.approx(1.0 - c, abs=1e-12)


def test_survival_at_matches_stepfunction_call(gbsg2) -> None:
    times = np.linspace(gbsg2.grid[0], gbsg2.grid[-1], 37)
    ours = survival_at(gbsg2.curves[:20], None, times)
    ref = np.vstack([f(times) for f in gbsg2.curves[:20]])
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    np.testing.assert_allclose(survival_at(gbsg2.surv[:20], gbsg2.grid, times), ref, atol=1e-12)
    before_and_after = survival_at(gbsg2.surv[:3], gbsg2.grid, [0.0, gbsg2.grid[-1] + 100])
    np.testing.assert_allclose(before_and_after[:, 0], 1.0)
    np.testing.assert_allclose(before_and_after[:, 1], gbsg2.surv[:3, -1])


def test_brier_ibs_auc_equal_sksurv(gbsg2) -> None:
    times = evaluation_times(gbsg2.train_time, gbsg2.time, gbsg2.event, n=15)
    s_at = survival_at(gbsg2.curves, None, times)
    y_tr = Surv.from_arrays(gbsg2.train_event, gbsg2.train_time)
    y_te = Surv.from_arrays(gbsg2.event, gbsg2.time)
    ours = brier_score(gbsg2.train_event, gbsg2.train_time, gbsg2.event, gbsg2.time, gbsg2.curves, times)
    np.testing.assert_allclose(ours, skm.brier_score(y_tr, y_te, s_at, times)[1], atol=1e-12)
    from_grid = brier_score(
        gbsg2.train_event,
        gbsg2.train_time,
        gbsg2.event,
        gbsg2.time,
        gbsg2.surv,
        times,
        curve_times=gbsg2.grid,
    )
    np.testing.assert_allclose(from_grid, ours, atol=1e-12)
    ibs = integrated_brier_score(gbsg2.train_event, gbsg2.train_time, gbsg2.event, gbsg2.time, s_at, times)
    assert ibs == pytest.approx(skm.integrated_brier_score(y_tr, y_te, s_at, times), abs=1e-12)
    aucs, mean_auc = cumulative_auc(
        gbsg2.train_event, gbsg2.train_time, gbsg2.event, gbsg2.time, gbsg2.risk, times
    )
    ref_aucs, ref_mean = skm.cumulative_dynamic_auc(y_tr, y_te, gbsg2.risk, times)
    np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
    assert mean_auc == pytest.approx(ref_mean, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_evaluation_times_never_make_sksurv_raise(gbsg2, seed: int) -> None:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(gbsg2.time), size=60, replace=False)
    ev, t, s = gbsg2.event[idx], gbsg2.time[idx], gbsg2.surv[idx]
    times = evaluation_times(gbsg2.train_time, t, ev, n=10)
    assert np.all(times >= t.min()) and np.all(times < t.max())
    integrated_brier_score(gbsg2.train_event, gbsg2.train_time, ev, t, s, times, curve_times=gbsg2.grid)
    cumulative_auc(gbsg2.train_event, gbsg2.train_time, ev, t, gbsg2.risk[idx], times)


def test_survival_report_values_and_intervals(gbsg2) -> None:
    rep = survival_report(
        gbsg2.train_event,
        gbsg2.train_time,
        gbsg2.event,
        gbsg2.time,
        risk_score=gbsg2.risk,
        survival_prob=gbsg2.curves,
        n_boot=25,
        seed=0,
    )
    assert set(rep) == {"harrell_c", "uno_c", "antolini_c", "integrated_brier_score", "mean_cumulative_auc"}
    assert rep["harrell_c"].value == pytest.approx(harrell_c(gbsg2.event, gbsg2.time, gbsg2.risk))
    assert rep["antolini_c"].value == pytest.approx(antolini_c(gbsg2.event, gbsg2.time, gbsg2.curves))
    for res in rep.values():
        assert res.ci_low <= res.value <= res.ci_high, res
        assert res.n_failed < 5


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(CohortError, match="negative"):
        harrell_c([1, 0], [-1.0, 2.0], [0.1, 0.2])
    with pytest.raises(CohortError, match="0/1"):
        harrell_c([2, 0], [1.0, 2.0], [0.1, 0.2])
    with pytest.raises(CohortError, match="rows"):
        harrell_c([1, 0], [1.0, 2.0], [0.1])
    with pytest.raises(ConfigError, match="columns"):
        survival_at(np.ones((2, 3)), np.array([1.0, 2.0]), [1.0])


def _resamples(gbsg2, n_boot: int = 12):
    rng = np.random.default_rng(7)
    n = len(gbsg2.time)
    idx = [resample_indices(n, rng, gbsg2.event) for _ in range(n_boot)]
    # add awkward resamples: heavy duplication of a few patients, and a tied-time block
    few = np.r_[np.flatnonzero(gbsg2.event)[:6], np.flatnonzero(~gbsg2.event)[:4]]
    idx.append(np.repeat(few, n // 10))
    return idx, resample_counts(idx, n)


def test_resampled_concordances_equal_sksurv_on_each_resample(gbsg2) -> None:
    """Vectorised bootstrap forms equal scikit-survival / the loop version on the resampled rows."""
    idx, counts = _resamples(gbsg2)
    e, t, r = gbsg2.event, gbsg2.time, gbsg2.risk
    tau = float(np.quantile(t[e], 0.8))
    y_tr = Surv.from_arrays(gbsg2.train_event, gbsg2.train_time)
    harrell = harrell_c_resampled(counts, e, t, r)
    uno = uno_c_resampled(counts, gbsg2.train_event, gbsg2.train_time, e, t, r, tau=tau)
    anto = antolini_c_resampled(counts, e, t, gbsg2.surv, gbsg2.grid)
    for b, rows in enumerate(idx):
        ref = skm.concordance_index_censored(e[rows], t[rows], r[rows])[0]
        assert harrell[b] == pytest.approx(ref, abs=1e-10)
        ref_uno = skm.concordance_index_ipcw(y_tr, Surv.from_arrays(e[rows], t[rows]), r[rows], tau)[0]
        assert uno[b] == pytest.approx(ref_uno, abs=1e-10)
        assert anto[b] == pytest.approx(antolini_c(e[rows], t[rows], gbsg2.surv[rows], gbsg2.grid), abs=1e-10)


def test_resampled_ibs_equals_sksurv_on_each_resample(gbsg2) -> None:
    idx, counts = _resamples(gbsg2)
    e, t = gbsg2.event, gbsg2.time
    times = evaluation_times(gbsg2.train_time, t, e, n=8)
    s_at = survival_at(gbsg2.surv, gbsg2.grid, times)
    ibs = integrated_brier_score_resampled(counts, gbsg2.train_event, gbsg2.train_time, e, t, s_at, times)
    y_tr = Surv.from_arrays(gbsg2.train_event, gbsg2.train_time)
    for b, rows in enumerate(idx):
        try:
            ref = skm.integrated_brier_score(y_tr, Surv.from_arrays(e[rows], t[rows]), s_at[rows], times)
        except ValueError:  # times outside this resample's follow-up: refused by sksurv, NaN here
            assert np.isnan(ibs[b])
            continue
        assert ibs[b] == pytest.approx(ref, abs=1e-10)


def test_survival_report_replicates_equal_the_loop_bootstrap(gbsg2) -> None:
    """The vectorised report gives the very replicates of a plain per-resample bootstrap (same seed)."""
    rep = survival_report(
        gbsg2.train_event,
        gbsg2.train_time,
        gbsg2.event,
        gbsg2.time,
        risk_score=gbsg2.risk,
        survival_prob=gbsg2.surv,
        curve_times=gbsg2.grid,
        n_boot=15,
        seed=3,
    )
    e, t, r = gbsg2.event, gbsg2.time, gbsg2.risk
    loop = bootstrap_many(
        {
            "harrell_c": lambda ee, tt, rr, ss: harrell_c(ee, tt, rr),
            "antolini_c": lambda ee, tt, rr, ss: antolini_c(ee, tt, ss, gbsg2.grid),
        },
        e.astype(float),
        t,
        r,
        gbsg2.surv,
        n_boot=15,
        seed=3,
        stratify=e,
    )
    for name in ("harrell_c", "antolini_c"):
        np.testing.assert_allclose(rep[name].replicates, loop[name].replicates, atol=1e-10)
        assert (rep[name].ci_low, rep[name].ci_high) == pytest.approx(
            (loop[name].ci_low, loop[name].ci_high), abs=1e-10
        )
