"""Stacked survival ensemble: deep model + CoxPH / RSF / gradient boosting, weighted on out-of-fold curves.

Each base learner produces out-of-fold survival curves on a common time grid (inner K-fold, stratified on
event). The stacking weights are non-negative and sum to one; they minimise the IPCW integrated Brier score of
the mixed curve (Graf et al. 1999; censoring by Kaplan-Meier from scikit-survival), which is quadratic in the
weights and solved with scipy's SLSQP. The learners are then refitted on all rows and their survival curves
mixed with those weights. Written by hand: scikit-survival has no survival stacking.

This is reported next to, never instead of, the deep-only :class:`~oncoplan.models.survival.DeepSurvival`.

Example:
    >>> from sksurv.datasets import load_whas500
    >>> from sksurv.column import encode_categorical
    >>> X, y = load_whas500()
    >>> X = encode_categorical(X).to_numpy(dtype=float)
    >>> model = StackedSurvival(learners=("coxph", "rsf"), quick=True).fit(X, y)  # doctest: +SKIP
    >>> model.weights_.sum()  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_array, check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.functions import StepFunction
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import Surv

from oncoplan.errors import ConfigError
from oncoplan.models.adapters import step_function_at
from oncoplan.models.baselines import make_baseline
from oncoplan.models.survival import DeepSurvival
from oncoplan.models.targets import survival_target

logger = logging.getLogger(__name__)


def brier_design(event: np.ndarray, time: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IPCW Brier targets and weights on ``grid``: ``(target (n, k), weight (n, k))``.

    At time ``t`` a patient with an event by ``t`` has target 0 and weight ``1 / G(T_i)``; one still at risk
    after ``t`` has target 1 and weight ``1 / G(t)``; one censored by ``t`` has weight 0 (Graf et al.).

    Example:
        >>> target, weight = brier_design(np.array([True, False]), np.array([1.0, 2.0]), np.array([1.5]))
        >>> target.ravel().tolist(), (weight > 0).ravel().tolist()
        ([0.0, 1.0], [True, True])
    """
    y = Surv.from_arrays(event, time)
    cens = CensoringDistributionEstimator().fit(y)
    g_t = np.clip(cens.predict_proba(np.clip(grid, None, time.max())), 1e-3, None)
    g_i = np.clip(cens.predict_proba(time), 1e-3, None)
    died = (time[:, None] <= grid[None, :]) & event[:, None]
    alive = time[:, None] > grid[None, :]
    target = alive.astype(float)
    weight = np.where(died, 1.0 / g_i[:, None], 0.0) + np.where(alive, 1.0 / g_t[None, :], 0.0)
    return target, weight


def stacking_weights(curves: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Simplex weights minimising the weighted squared error of ``sum_m w_m curves[m]`` against ``target``.

    Example:
        >>> curves = np.stack([np.full((4, 2), 0.9), np.full((4, 2), 0.1)])
        >>> stacking_weights(curves, np.full((4, 2), 0.9), np.ones((4, 2))).round(3).tolist()
        [1.0, 0.0]
    """
    m = curves.shape[0]
    flat = curves.reshape(m, -1)
    w = weight.reshape(-1)
    tgt = target.reshape(-1)
    gram = (flat * w) @ flat.T
    lin = (flat * w) @ tgt

    def objective(a: np.ndarray) -> tuple[float, np.ndarray]:
        return float(a @ gram @ a - 2 * a @ lin), 2 * (gram @ a - lin)

    start = np.full(m, 1.0 / m)
    res = minimize(
        objective,
        start,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1.0}],
    )
    a = np.clip(res.x if res.success else start, 0.0, None)
    return a / a.sum()


class StackedSurvival(SurvivalAnalysisMixin, BaseEstimator):
    """Deep model + classical learners mixed with stacking weights fitted on out-of-fold survival curves.

    Args:
        learners: names among 'deep' (:class:`DeepSurvival` defaults) and the baselines 'coxph', 'coxnet',
            'rsf', 'gbsa'.
        cv: inner folds for the out-of-fold curves.
        n_grid: time points (quantiles of the training event times) the weights are fitted on.
        random_state: seed of the folds and of every learner.
        quick: small learners (for tests and smoke runs).
    """

    def __init__(
        self,
        learners: Sequence[str] = ("deep", "coxph", "rsf", "gbsa"),
        cv: int = 3,
        n_grid: int = 30,
        random_state: int = 0,
        quick: bool = False,
    ) -> None:
        self.learners = learners
        self.cv = cv
        self.n_grid = n_grid
        self.random_state = random_state
        self.quick = quick

    def _learner(self, name: str, n: int, d: int):
        seed = self.random_state
        if name == "deep":
            small = {"max_epochs": 30, "n_ensemble": 2} if self.quick else {}
            return DeepSurvival(random_state=seed, **small)
        if name == "coxph" and d > 100 and d > n // 2:
            return make_baseline("coxnet", random_state=seed)
        if name == "rsf":
            # leaves of 3 on > 5,000 rows need > 10 GB for 200 trees; larger leaves keep memory bounded
            leaf = 3 if n <= 5000 else 15
            trees = 50 if self.quick else 200
            return make_baseline("rsf", n_estimators=trees, min_samples_leaf=leaf, random_state=seed)
        if name == "gbsa":
            return make_baseline("gbsa", n_estimators=50 if self.quick else 200, random_state=seed)
        if name in ("coxph", "coxnet"):
            return make_baseline(name) if name == "coxph" else make_baseline(name, random_state=seed)
        raise ConfigError(f"unknown stacking learner {name!r}", hint="deep, coxph, coxnet, rsf or gbsa")

    @staticmethod
    def _curves(model, X: np.ndarray, grid: np.ndarray) -> np.ndarray:
        return model.member_survival(X, grid).mean(axis=0)

    def fit(self, X: np.ndarray, y: np.ndarray) -> StackedSurvival:
        """Out-of-fold curves -> stacking weights -> refit every learner on all rows."""
        X = check_array(X, dtype=np.float64)
        event, time = survival_target(X, y)
        names = list(self.learners)
        if not names:
            raise ConfigError("StackedSurvival needs at least one learner")
        quantiles = np.linspace(0.05, 0.95, self.n_grid)
        self.grid_ = np.unique(np.quantile(time[event], quantiles))
        oof = np.zeros((len(names), len(time), len(self.grid_)))
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        for tr, va in folds.split(X, event.astype(int)):
            for m, name in enumerate(names):
                model = self._learner(name, len(tr), X.shape[1]).fit(X[tr], y[tr])
                oof[m, va] = self._curves(model, X[va], self.grid_)
        target, weight = brier_design(event, time, self.grid_)
        self.weights_ = stacking_weights(oof, target, weight)
        logger.info("stacking weights %s", dict(zip(names, np.round(self.weights_, 3), strict=True)))
        self.models_ = [
            clone(self._learner(name, *X.shape)).fit(X, y) if w > 0 else None
            for name, w in zip(names, self.weights_, strict=True)
        ]
        self.unique_times_ = np.unique(time[event])
        self.event_times_ = self.unique_times_
        self.n_features_in_ = X.shape[1]
        return self

    def member_survival(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Survival of each used learner (n_used, n, len(times)) on ``times`` (default ``unique_times_``)."""
        check_is_fitted(self, "models_")
        X = check_array(X, dtype=np.float64)
        times = self.unique_times_ if times is None else np.asarray(times, dtype=float)
        return np.stack([self._curves(m, X, times) for m in self.models_ if m is not None])

    def predict_survival_function(self, X: np.ndarray, return_array: bool = False):
        """Stacked survival S(t | x) on ``unique_times_``."""
        used = self.weights_[self.weights_ > 0]
        surv = np.tensordot(used, self.member_survival(X), axes=1)
        if return_array:
            return surv
        return np.array([StepFunction(self.unique_times_, s) for s in surv])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Risk score: minus the area under the stacked survival curve over the training event times."""
        surv = self.predict_survival_function(X, return_array=True)
        return -np.trapezoid(surv, self.unique_times_, axis=1)


__all__ = ["StackedSurvival", "brier_design", "stacking_weights", "step_function_at"]
