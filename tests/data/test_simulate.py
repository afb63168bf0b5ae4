"""Semi-synthetic survival ground truth: determinism, exact truth, known mechanisms, metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from oncoplan.data.simulate.survival import (
    load_covariates,
    policy_regret,
    rmst_pehe,
    simulate_survival,
    true_rmst_weibull,
)
from oncoplan.errors import ConfigError, DataSourceError
from oncoplan.evaluate.policy import km_rmst
from oncoplan.recommend.rmst import rmst_from_curves


@pytest.fixture(scope="module")
def cov():
    return load_covariates("gbsg2")


@pytest.mark.parametrize("source,n", [("gbsg2", 686), ("survset:rott2", 2982)])
def test_covariates_are_standardised_and_treatment_free(source, n):
    c = load_covariates(source)
    assert c.X.shape[0] == n and c.marker.shape == (n,)
    np.testing.assert_allclose(c.X.mean(), 0.0, atol=1e-10)
    np.testing.assert_allclose(c.X.std(ddof=0), 1.0, atol=1e-10)
    assert not any(k in col for col in c.X.columns for k in ("horTh", "hormon", "chemo"))
    assert 0.3 < c.marker.mean() < 0.9


def test_unknown_source():
    with pytest.raises(DataSourceError):
        load_covariates("survset:nope")


def test_seeded_and_deterministic(cov):
    a = simulate_survival(cov.X, marker=cov.marker, seed=5)
    b = simulate_survival(cov.X, marker=cov.marker, seed=5)
    c = simulate_survival(cov.X, marker=cov.marker, seed=6)
    for field in ("time", "event", "treatment_code", "propensity", "true_rmst"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.time, c.time)
    big = simulate_survival(cov.X, marker=cov.marker, seed=5, n_patients=1000)
    np.testing.assert_array_equal(big.params["beta"], a.params["beta"])  # design depends on seed only
    assert len(big.time) == 1000


def test_true_rmst_is_exact(cov):
    sim = simulate_survival(cov.X, marker=cov.marker, seed=0)
    for i in (0, 17, 300):
        for k in range(3):
            eta = sim.log_hazard[i, k]
            f = lambda t, eta=eta: np.exp(-((t / 3300.0) ** 1.3) * np.exp(eta))  # noqa: E731
            expected = integrate.quad(f, 0, sim.tau, epsabs=1e-10, epsrel=1e-12)[0]
            assert sim.true_rmst[i, k] == pytest.approx(expected, rel=1e-9)
    # the step-function integral of the true curves on the grid converges to it (left Riemann sum)
    step = rmst_from_curves(sim.true_survival, sim.times, sim.tau)
    assert np.all(step >= sim.true_rmst) and np.max(step - sim.true_rmst) < 10.0
    assert true_rmst_weibull(np.array(0.0), 1.0, 1.0, 3.0) == pytest.approx(1 - np.exp(-3.0))


def test_outcomes_follow_the_true_curves(cov):
    """In a randomised simulation the KM RMST per arm matches the mean true RMST of that arm's patients."""
    sim = simulate_survival(cov.X, marker=cov.marker, confounding=0.0, n_patients=9000, seed=1)
    np.testing.assert_allclose(sim.propensity, 1 / 3)
    for k, arm in enumerate(sim.arms):
        m = sim.treatment == arm
        assert abs(m.mean() - 1 / 3) < 0.02
        assert km_rmst(sim.time[m], sim.event[m], sim.tau) == pytest.approx(
            sim.true_rmst[m, k].mean(), abs=20.0
        )
    assert 0.2 < sim.event.mean() < 0.7


def test_confounding_links_prognosis_and_treatment(cov):
    prognosis = lambda s: s.X.to_numpy() @ s.params["beta"]  # noqa: E731
    rand = simulate_survival(cov.X, marker=cov.marker, confounding=0.0, n_patients=6000, seed=2)
    conf = simulate_survival(cov.X, marker=cov.marker, confounding=1.5, n_patients=6000, seed=2)

    def gap(s):
        r = prognosis(s)
        return abs(r[s.treatment == "B"].mean() - r[s.treatment == "C"].mean())

    assert gap(rand) < 0.05 and gap(conf) > 0.3
    counts = np.bincount(conf.treatment_code, minlength=3) / len(conf.time)
    np.testing.assert_allclose(counts, conf.propensity.mean(axis=0), atol=0.02)


def test_marker_effect_exists_only_in_marker_subgroup(cov):
    with_effect = simulate_survival(cov.X, marker=cov.marker, marker_effect=-0.8, seed=3)
    without = simulate_survival(cov.X, marker=cov.marker, marker_effect=0.0, seed=3)
    diff = with_effect.log_hazard - without.log_hazard
    np.testing.assert_allclose(diff[cov.marker, 2], -0.8)
    np.testing.assert_allclose(diff[~cov.marker, 2], 0.0)
    np.testing.assert_allclose(diff[:, :2], 0.0)
    gain_c = with_effect.true_rmst[:, 2] - with_effect.true_rmst[:, 0]
    assert gain_c[cov.marker].mean() > 100.0 > gain_c[~cov.marker].mean()
    assert set(with_effect.oracle_arm.tolist()) >= {"B", "C"}  # the best arm differs between patients


def test_rmst_pehe():
    true = np.array([[100.0, 120.0, 90.0], [200.0, 150.0, 210.0]])
    assert rmst_pehe(true, true) == 0.0
    assert rmst_pehe(true, true + 37.0) == 0.0  # a shift common to all arms does not change differences
    est = true.copy()
    est[:, 1] += np.array([3.0, -4.0])
    np.testing.assert_allclose(rmst_pehe(true, est, per_arm=True), [np.sqrt(12.5), 0.0])
    assert rmst_pehe(true, est) == pytest.approx(np.sqrt(25 / 4))
    assert rmst_pehe(true, est, reference_arm=1) == pytest.approx(np.sqrt(25 / 2))
    with pytest.raises(ConfigError):
        rmst_pehe(true, est[:, :2])


def test_policy_regret(cov):
    sim = simulate_survival(cov.X, marker=cov.marker, seed=4)
    assert policy_regret(sim.true_rmst, sim.oracle_arm, sim.arms) == 0.0
    assert policy_regret(sim.true_rmst, sim.true_rmst.argmax(axis=1)) == 0.0
    worst = sim.true_rmst.argmin(axis=1)
    expected = np.mean(sim.true_rmst.max(axis=1) - sim.true_rmst.min(axis=1))
    assert policy_regret(sim.true_rmst, worst) == pytest.approx(expected)
    assert policy_regret(sim.true_rmst, np.full(len(worst), "A", object), sim.arms) > 0
    assert sim.true_policy_value(sim.oracle_arm) - sim.true_policy_value(worst) == pytest.approx(expected)
    with pytest.raises(ConfigError, match="unknown arm"):
        policy_regret(sim.true_rmst, np.full(len(worst), "Z", object), sim.arms)


def test_structured_target_and_validation(cov):
    sim = simulate_survival(cov.X, marker=cov.marker, seed=0)
    assert sim.y.dtype.names == ("event", "time") and np.array_equal(sim.y["time"], sim.time)
    assert np.all(sim.time <= 3650.0)
    with pytest.raises(ConfigError):
        simulate_survival(cov.X, arms=("A",))
    with pytest.raises(ConfigError):
        simulate_survival(cov.X, tau=5000.0)
    with pytest.raises(ConfigError):
        simulate_survival(cov.X, marker=cov.marker[:10])


def test_delayed_effects_exact_truth_and_sampling(cov):
    """effect_delay: arms share the curve before the delay; exact RMST against scipy quadrature of the
    piecewise hazard; Kaplan-Meier of a large randomised draw follows the truth; delay 0 is the PH model."""
    ph = simulate_survival(cov.X, marker=cov.marker, seed=3)
    zero = simulate_survival(cov.X, marker=cov.marker, seed=3, effect_delay=0.0)
    np.testing.assert_array_equal(ph.time, zero.time)
    sim = simulate_survival(cov.X, marker=cov.marker, seed=3, effect_delay=365.0)
    before = sim.times < 365.0
    np.testing.assert_allclose(sim.true_survival[:, 0, before], sim.true_survival[:, 2, before], rtol=1e-12)
    prognostic = sim.X.to_numpy() @ sim.params["beta"]
    for i in (0, 11, 250):
        for k in range(3):
            p, eta = prognostic[i], sim.log_hazard[i, k]

            def surv(t, p=p, eta=eta):
                a = (t / 3300.0) ** 1.3
                a0 = (365.0 / 3300.0) ** 1.3
                return (
                    np.exp(-a * np.exp(p)) if t < 365.0 else np.exp(-a0 * np.exp(p) - (a - a0) * np.exp(eta))
                )

            expected = integrate.quad(surv, 0, sim.tau, points=[365.0], epsabs=1e-10, epsrel=1e-12)[0]
            assert sim.true_rmst[i, k] == pytest.approx(expected, rel=1e-9)
    step = rmst_from_curves(sim.true_survival, sim.times, sim.tau)
    assert np.all(step >= sim.true_rmst - 1e-9) and np.max(step - sim.true_rmst) < 10.0
    big = simulate_survival(
        cov.X, marker=cov.marker, confounding=0.0, n_patients=9000, seed=1, effect_delay=365.0
    )
    for k, arm in enumerate(big.arms):
        m = big.treatment == arm
        assert km_rmst(big.time[m], big.event[m], big.tau) == pytest.approx(
            big.true_rmst[m, k].mean(), abs=20.0
        )
    with pytest.raises(ConfigError, match="effect_delay"):
        simulate_survival(cov.X, seed=0, effect_delay=5000.0)
