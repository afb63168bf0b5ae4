"""Semi-synthetic survival data with known per-arm truth, for validating recommendations.

Real covariates (GBSG2 from scikit-survival or SurvSet's rott2, numeric + one-hot, standardised) are kept;
treatment and outcomes are simulated from known mechanisms, so every patient's true survival curve and
true RMST under every arm, and the true propensities, are available:

* treatment: ``p(arm k | x) = softmax_k(confounding * x @ w_k)`` with ``w_0 = 0``; each ``w_k`` leans on the
  prognostic direction, so ``confounding > 0`` sends sicker patients preferentially to some arms.
* survival: Weibull proportional hazards, ``S_k(t | x) = exp(-(t / scale)^shape * exp(eta_k(x)))`` with
  ``eta_k(x) = x @ beta + alpha_k + x @ gamma_k + marker_effect * marker * 1{k = last arm}`` - a prognostic
  part, a main effect per arm, heterogeneous effects and an effect of the last arm that exists only in the
  marker-positive subgroup (progesterone receptor >= 10 fmol/l by default).
* ``effect_delay`` > 0 (days) makes the arm-specific part of the log hazard (main effects, heterogeneous
  and marker effects) start only at that time - a delayed treatment effect, as with immunotherapy: every
  arm shares the prognostic hazard before it, so the hazards are not proportional between arms and the
  covariate effects change over time within an arm. ``effect_delay = 0`` is the proportional-hazards model.
* censoring: independent, exponential with mean ``censoring_mean``, administrative end at ``max_followup``.

True RMST is exact: ``int_0^tau exp(-a t^k) dt = a^(-1/k) Gamma(1 + 1/k) P(1/k, a tau^k)`` with ``P`` the
regularised lower incomplete gamma function (``scipy.special.gammainc``); with a delay, the same integral
over the two pieces before and after it.

Example:
    >>> cov = load_covariates("gbsg2")
    >>> sim = simulate_survival(cov.X, marker=cov.marker, confounding=1.0, seed=0)
    >>> sim.true_rmst.shape, sim.true_survival.shape[:2]
    ((686, 3), (686, 3))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from oncoplan.errors import ConfigError, DataSourceError

logger = logging.getLogger(__name__)

_SURVSET_DROP = {"rott2": ["fac_hormon", "fac_chemo", "num_year", "fac_recent"]}
_SKEWED = ("estrec", "pnodes", "progrec", "num_nodes", "num_progesterone", "num_estrogen")


@dataclass(frozen=True)
class CovariateSet:
    """Standardised covariates of a real cohort plus a binary marker defined on the raw values."""

    X: pd.DataFrame
    marker: np.ndarray
    marker_name: str
    source: str


def _standardise(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.copy()
    for col in df.columns:
        if col in _SKEWED:
            df[col] = np.log1p(df[col].astype(float))
    df = pd.get_dummies(df, drop_first=True, dtype=float)
    std = df.std(ddof=0).replace(0.0, 1.0)
    return ((df - df.mean()) / std).astype(float)


def load_covariates(source: str = "gbsg2") -> CovariateSet:
    """Covariates for simulation: ``"gbsg2"`` (scikit-survival, 686 patients) or ``"survset:rott2"`` (2982).

    Treatment-like and calendar columns (GBSG2 ``horTh``; rott2 hormon, chemo, year) are dropped because
    the simulation assigns treatment itself. Skewed lab values and node counts are log1p-transformed, then
    all columns (one-hot included) standardised. Marker: progesterone receptor >= 10 on the raw scale.

    Example:
        >>> load_covariates("gbsg2").X.shape
        (686, 8)
    """
    if source == "gbsg2":
        from sksurv.datasets import load_gbsg2

        raw, _ = load_gbsg2()
        raw = raw.drop(columns=["horTh"])
        marker_col = "progrec"
    elif source.startswith("survset:"):
        name = source.split(":", 1)[1]
        if name not in _SURVSET_DROP:
            raise DataSourceError(
                f"no covariate recipe for SurvSet dataset {name!r}", hint="use survset:rott2"
            )
        from SurvSet.data import SurvLoader

        df = SurvLoader().load_dataset(name)["df"]
        raw = df.drop(columns=["pid", "event", "time", *_SURVSET_DROP[name]])
        for col in raw.columns:
            if col.startswith("fac_"):
                raw[col] = raw[col].astype(str)
        marker_col = "num_progesterone"
    else:
        raise DataSourceError(f"unknown covariate source {source!r}", hint="use 'gbsg2' or 'survset:rott2'")
    marker = raw[marker_col].to_numpy(dtype=float) >= 10.0
    return CovariateSet(_standardise(raw), marker, f"{marker_col}>=10", source)


@dataclass(frozen=True)
class SemiSyntheticSurvival:
    """A simulated cohort with its ground truth (all arrays in patient order; time unit: days)."""

    X: pd.DataFrame
    marker: np.ndarray
    arms: tuple[str, ...]
    treatment: np.ndarray
    treatment_code: np.ndarray
    time: np.ndarray
    event: np.ndarray
    propensity: np.ndarray
    times: np.ndarray
    true_survival: np.ndarray
    tau: float
    true_rmst: np.ndarray
    log_hazard: np.ndarray
    params: dict[str, Any] = field(repr=False)
    seed: int | None = None

    @property
    def y(self) -> np.ndarray:
        """Structured survival target (scikit-survival convention: fields 'event', 'time')."""
        from sksurv.util import Surv

        return Surv.from_arrays(self.event, self.time)

    @property
    def oracle_arm(self) -> np.ndarray:
        """Arm with the highest true RMST(tau) per patient."""
        return np.asarray(self.arms, dtype=object)[self.true_rmst.argmax(axis=1)]

    def true_policy_value(self, recommended_arm: Sequence[str] | np.ndarray) -> float:
        """Mean true RMST(tau) in this sample if every patient got ``recommended_arm``."""
        codes = _codes(recommended_arm, self.arms)
        return float(self.true_rmst[np.arange(len(codes)), codes].mean())


def _unit_score(X: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Scale ``direction`` so that ``X @ direction`` has standard deviation 1."""
    sd = float(np.std(X @ direction))
    return direction / sd if sd > 0 else direction


def true_rmst_weibull(log_hazard: np.ndarray, scale: float, shape: float, tau: float) -> np.ndarray:
    """Exact RMST(tau) of ``S(t) = exp(-(t/scale)^shape * exp(log_hazard))``.

    Example:
        >>> round(float(true_rmst_weibull(np.array(0.0), scale=1.0, shape=1.0, tau=50.0)), 6)  # 1 - e^-50
        1.0
    """
    a = np.exp(log_hazard) / scale**shape
    inv = 1.0 / shape
    return a ** (-inv) * special.gamma(1.0 + inv) * special.gammainc(inv, a * tau**shape)


def _weibull_integral(a: np.ndarray, shape: float, lo: float, hi: float) -> np.ndarray:
    """``int_lo^hi exp(-a t^shape) dt`` (exact, regularised lower incomplete gamma)."""
    inv = 1.0 / shape
    return (
        a ** (-inv)
        * special.gamma(1.0 + inv)
        * (special.gammainc(inv, a * hi**shape) - special.gammainc(inv, a * lo**shape))
    )


def _delayed_rmst(
    prognostic: np.ndarray, log_hazard: np.ndarray, scale: float, shape: float, delay: float, tau: float
) -> np.ndarray:
    """Exact RMST(tau) when the arm effects start at ``delay`` (see :func:`simulate_survival`)."""
    before = np.broadcast_to(np.exp(prognostic)[:, None] / scale**shape, log_hazard.shape)
    first = _weibull_integral(before, shape, 0.0, min(tau, delay))
    if tau <= delay:
        return first
    after = np.exp(log_hazard) / scale**shape
    offset = np.exp(-(before - after) * delay**shape)  # S(t) = offset * exp(-after t^k) for t >= delay
    return first + offset * _weibull_integral(after, shape, delay, tau)


def simulate_survival(
    X: pd.DataFrame | np.ndarray,
    *,
    marker: np.ndarray | None = None,
    arms: Sequence[str] = ("A", "B", "C"),
    confounding: float = 1.0,
    n_patients: int | None = None,
    tau: float = 1825.0,
    scale: float = 3300.0,
    shape: float = 1.3,
    prognostic_strength: float = 0.6,
    arm_effects: Sequence[float] | None = None,
    effect_heterogeneity: float = 0.2,
    marker_effect: float = -0.8,
    effect_delay: float = 0.0,
    censoring_mean: float = 5000.0,
    max_followup: float = 3650.0,
    n_grid: int = 366,
    seed: int | None = 0,
) -> SemiSyntheticSurvival:
    """Simulate K-arm treatment, survival and censoring on real covariates (see the module docstring).

    Args:
        X: standardised covariates (e.g. ``load_covariates().X``).
        marker: boolean marker per row of ``X`` (default: ``X[:, 0] > 0``).
        arms: arm names (K >= 2); arm 0 is the reference, the last arm carries the marker-only effect.
        confounding: multiplier of the treatment-assignment scores (0 = randomised trial, 1/K each).
        n_patients: draw this many rows of ``X`` with replacement (default: every row once, in order).
        tau: RMST horizon (days).
        scale, shape: Weibull baseline (days); the default gives a median near 7 years for arm 0.
        prognostic_strength: standard deviation of ``x @ beta``.
        arm_effects: log hazard ratio of each arm vs arm 0 (default ``0, -0.25, 0, ...``).
        effect_heterogeneity: standard deviation of ``x @ gamma_k`` for k >= 1.
        marker_effect: log hazard ratio of the last arm in marker-positive patients only.
        effect_delay: days before which no arm-specific effect acts (0: proportional hazards).
        censoring_mean, max_followup: exponential censoring mean and administrative end (days).
        n_grid: number of grid points for the true survival curves (0 to ``max_followup``, plus ``tau``).
        seed: the same seed gives identical data; coefficients depend only on the seed, not on n_patients.

    Example:
        >>> sim = simulate_survival(np.random.default_rng(0).normal(size=(50, 3)), seed=1)
        >>> sim.treatment.shape, bool(np.allclose(sim.propensity.sum(axis=1), 1))
        ((50,), True)
    """
    names = tuple(arms)
    K = len(names)
    if K < 2 or len(set(names)) != K:
        raise ConfigError(f"arms must be at least two distinct names, got {names}")
    if not (0 < tau <= max_followup) or censoring_mean <= 0 or scale <= 0 or shape <= 0:
        raise ConfigError("need 0 < tau <= max_followup and positive censoring_mean, scale and shape")
    if not 0 <= effect_delay < tau:
        raise ConfigError(f"effect_delay must be in [0, tau), got {effect_delay:g}")
    effects = np.array(
        arm_effects if arm_effects is not None else [0.0, -0.25] + [0.0] * (K - 2), dtype=float
    )
    if effects.shape != (K,):
        raise ConfigError(f"arm_effects needs {K} values, got {len(effects)}")
    X_df = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float)).add_prefix("x")
    base = X_df.to_numpy(dtype=float)
    mk = base[:, 0] > 0 if marker is None else np.asarray(marker, dtype=bool)
    if mk.shape != (len(base),):
        raise ConfigError(f"marker must have one entry per row of X ({len(base)}), got {mk.shape}")
    design_rng, sample_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))

    p = base.shape[1]
    beta = prognostic_strength * _unit_score(base, design_rng.normal(size=p))
    beta_unit = _unit_score(base, beta)
    gamma = np.zeros((K, p))
    w = np.zeros((K, p))
    for k in range(1, K):
        gamma[k] = effect_heterogeneity * _unit_score(base, design_rng.normal(size=p))
        sign = 1.0 if k % 2 else -1.0  # odd arms go to sicker patients, even arms to healthier ones
        w[k] = _unit_score(base, sign * beta_unit + 0.5 * _unit_score(base, design_rng.normal(size=p)))

    rows = np.arange(len(base)) if n_patients is None else sample_rng.integers(0, len(base), size=n_patients)
    Xs, ms = base[rows], mk[rows]
    n = len(rows)
    scores = confounding * Xs @ w.T
    prop = special.softmax(scores, axis=1)
    log_hazard = (Xs @ beta)[:, None] + effects[None, :] + Xs @ gamma.T
    log_hazard[:, K - 1] += marker_effect * ms

    u = sample_rng.random(n)
    code = (u[:, None] > np.cumsum(prop, axis=1)).sum(axis=1).clip(max=K - 1)
    eta_received = log_hazard[np.arange(n), code]
    prognostic = Xs @ beta
    # inverse of the cumulative hazard at a unit exponential draw; A(t) = (t / scale)^shape
    draw = sample_rng.exponential(size=n)
    a_delay = (effect_delay / scale) ** shape
    early = draw < a_delay * np.exp(prognostic)
    a_event = np.where(
        early,
        draw * np.exp(-prognostic),
        a_delay + (draw - a_delay * np.exp(prognostic)) * np.exp(-eta_received),
    )
    t_event = scale * a_event ** (1.0 / shape)
    t_cens = np.minimum(sample_rng.exponential(censoring_mean, size=n), max_followup)
    time = np.minimum(t_event, t_cens)
    event = t_event <= t_cens

    grid = np.union1d(np.linspace(0.0, max_followup, n_grid), [tau])
    a_grid = (grid / scale) ** shape
    cum_hazard = a_grid[None, None, :] * np.exp(log_hazard)[:, :, None]
    if effect_delay > 0:
        before = a_grid[None, None, :] * np.exp(prognostic)[:, None, None]
        shift = a_delay * (np.exp(prognostic)[:, None, None] - np.exp(log_hazard)[:, :, None])
        cum_hazard = np.where(grid[None, None, :] < effect_delay, before, shift + cum_hazard)
        rmst = _delayed_rmst(prognostic, log_hazard, scale, shape, effect_delay, tau)
    else:
        rmst = true_rmst_weibull(log_hazard, scale, shape, tau)
    surv = np.exp(-cum_hazard)
    logger.info(
        "simulated %d patients, %d arms, event rate %.2f, confounding %.2f", n, K, event.mean(), confounding
    )
    params = {
        "beta": beta,
        "gamma": gamma,
        "assignment_weights": w,
        "arm_effects": effects,
        "marker_effect": marker_effect,
        "effect_delay": effect_delay,
        "scale": scale,
        "shape": shape,
        "confounding": confounding,
        "censoring_mean": censoring_mean,
        "max_followup": max_followup,
        "rows": rows,
    }
    return SemiSyntheticSurvival(
        X=X_df.iloc[rows].reset_index(drop=True),
        marker=ms,
        arms=names,
        treatment=np.asarray(names, dtype=object)[code],
        treatment_code=code,
        time=time,
        event=event,
        propensity=prop,
        times=grid,
        true_survival=surv,
        tau=float(tau),
        true_rmst=rmst,
        log_hazard=log_hazard,
        params=params,
        seed=seed,
    )


def _codes(arms_given: Sequence[Any] | np.ndarray, arms: Sequence[str] | None) -> np.ndarray:
    values = np.asarray(arms_given, dtype=object)
    if all(isinstance(v, (int, np.integer)) for v in values):
        return values.astype(int)
    if arms is None:
        raise ConfigError("arm names given without `arms`", hint="pass arms=... to map names to columns")
    lookup = {a: k for k, a in enumerate(arms)}
    bad = [v for v in values if v not in lookup]
    if bad:
        raise ConfigError(f"unknown arm(s) {sorted(set(map(str, bad)))}", hint=f"arms are {list(arms)}")
    return np.array([lookup[v] for v in values], dtype=int)


def rmst_pehe(
    true_rmst: np.ndarray, est_rmst: np.ndarray, reference_arm: int = 0, *, per_arm: bool = False
) -> float | np.ndarray:
    """Root mean squared error of the individual RMST difference vs ``reference_arm`` (PEHE on RMST).

    ``sqrt(mean_i ((est_ik - est_i,ref) - (true_ik - true_i,ref))^2)`` per arm ``k != ref``; averaged over
    arms (as the root of the pooled mean square) unless ``per_arm``.

    Example:
        >>> rmst_pehe(np.array([[10.0, 12.0]]), np.array([[10.0, 15.0]]))
        3.0
    """
    true, est = np.asarray(true_rmst, dtype=float), np.asarray(est_rmst, dtype=float)
    if true.shape != est.shape or true.ndim != 2:
        raise ConfigError(
            f"true_rmst and est_rmst must both be (n_patients, n_arms); got {true.shape}, {est.shape}"
        )
    others = [k for k in range(true.shape[1]) if k != reference_arm]
    err = (est[:, others] - est[:, [reference_arm]]) - (true[:, others] - true[:, [reference_arm]])
    if per_arm:
        return np.sqrt(np.mean(err**2, axis=0))
    return float(np.sqrt(np.mean(err**2)))


def policy_regret(
    true_rmst: np.ndarray, recommended_arm: Sequence[Any] | np.ndarray, arms: Sequence[str] | None = None
) -> float:
    """Mean true RMST of the oracle policy minus that of the recommended policy (>= 0; 0 for the oracle).

    ``recommended_arm`` holds arm indices, or arm names when ``arms`` is given.

    Example:
        >>> policy_regret(np.array([[10.0, 12.0], [9.0, 5.0]]), np.array([0, 0]))
        1.0
    """
    true = np.asarray(true_rmst, dtype=float)
    codes = _codes(recommended_arm, arms)
    if codes.shape != (true.shape[0],):
        raise ConfigError(f"recommended_arm needs {true.shape[0]} entries, got {codes.shape}")
    return float(true.max(axis=1).mean() - true[np.arange(len(codes)), codes].mean())
