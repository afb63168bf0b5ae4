"""Classical survival baselines behind the same API as :class:`~oncoplan.models.survival.DeepSurvival`.

Each wraps a scikit-survival estimator: ``fit(X, y)``, ``predict(X)`` (risk, higher = worse),
``predict_survival_function(X, return_array=True)`` on ``unique_times_`` (the training event times) and
``member_survival(X, times)`` (one "member"), so benchmarks, the stacked ensemble and the CLI treat all models
alike. They are scikit-learn estimators (clone / Pipeline / cross_val_score work); they are not saved in
oncoplan bundles (no pickles), so use them for comparison, not deployment.

* :class:`CoxPHBaseline`: ``CoxPHSurvivalAnalysis`` (Breslow/Efron ties; a tiny ridge ``alpha`` keeps one-hot
  blocks identifiable).
* :class:`CoxnetBaseline`: ``CoxnetSurvivalAnalysis`` (elastic net) with the penalty chosen by inner CV on
  the partial likelihood, for high-dimensional inputs.
* :class:`RSFBaseline`: ``RandomSurvivalForest`` (200 trees by default).
* :class:`GBSABaseline`: ``GradientBoostingSurvivalAnalysis`` (Cox loss).

Example:
    >>> from sksurv.datasets import load_whas500
    >>> from sksurv.column import encode_categorical
    >>> X, y = load_whas500()
    >>> X = encode_categorical(X).to_numpy(dtype=float)
    >>> model = CoxPHBaseline().fit(X, y)
    >>> model.predict_survival_function(X[:2], return_array=True).shape == (2, len(model.unique_times_))
    True
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_array, check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.ensemble import GradientBoostingSurvivalAnalysis, RandomSurvivalForest
from sksurv.functions import StepFunction
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.adapters import step_function_at
from oncoplan.models.losses.cox import cox_partial_likelihood
from oncoplan.models.targets import survival_target

logger = logging.getLogger(__name__)


def _curves_on(fns: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Evaluate scikit-survival StepFunctions at ``times`` (held outside their domain)."""
    out = np.empty((len(fns), len(times)))
    for i, fn in enumerate(fns):
        out[i] = step_function_at(np.asarray(fn.x), np.asarray(fn.y), np.asarray(times, float), before=1.0)
    return out


class _SksurvBaseline(SurvivalAnalysisMixin, BaseEstimator):
    """Shared plumbing: standardisation, checks, survival curves on the training event times."""

    def _make(self, n: int, d: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray) -> _SksurvBaseline:
        """Fit on numeric ``X`` and a structured survival array ``y``."""
        X = check_array(X, dtype=np.float64)
        event, time = survival_target(X, y)
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        self.estimator_ = self._make(*X.shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            self.estimator_.fit(self._z(X), y)
        self.unique_times_ = np.unique(np.asarray(time)[np.asarray(event, bool)])
        self.event_times_ = self.unique_times_
        return self

    def _z(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ModelError(
                f"X has {X.shape[1]} features but the model was trained on {self.n_features_in_}"
            )
        return self._z(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Risk scores (higher = worse prognosis)."""
        return np.asarray(self.estimator_.predict(self._check_X(X)), dtype=float)

    def member_survival(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Survival (1, n, len(times)) on ``times`` (default ``unique_times_``)."""
        times = self.unique_times_ if times is None else np.asarray(times, dtype=float)
        fns = self.estimator_.predict_survival_function(self._check_X(X))
        return _curves_on(fns, times)[None]

    def predict_survival_function(self, X: np.ndarray, return_array: bool = False):
        """Survival S(t | x) on ``unique_times_`` (array) or as StepFunctions."""
        surv = self.member_survival(X)[0]
        if return_array:
            return surv
        return np.array([StepFunction(self.unique_times_, s) for s in surv])

    def predict_cumulative_hazard_function(self, X: np.ndarray, return_array: bool = False):
        """Cumulative hazard -log S(t | x) on ``unique_times_``."""
        chf = -np.log(np.clip(self.predict_survival_function(X, return_array=True), 1e-12, 1.0))
        if return_array:
            return chf
        return np.array([StepFunction(self.unique_times_, c) for c in chf])


class CoxPHBaseline(_SksurvBaseline):
    """scikit-survival ``CoxPHSurvivalAnalysis`` on standardised inputs.

    Args:
        alpha: ridge penalty (tiny by default, only to keep collinear one-hot blocks identifiable).
        ties: 'breslow' or 'efron'.

    Example:
        >>> CoxPHBaseline(ties="efron").ties
        'efron'
    """

    def __init__(self, alpha: float = 1e-4, ties: str = "breslow", n_iter: int = 100) -> None:
        self.alpha = alpha
        self.ties = ties
        self.n_iter = n_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> CoxPHBaseline:
        """Fit; if Newton's method diverges (separation, collinear columns) retry with a 100x larger ridge.

        The ridge actually used is ``alpha_`` (it is logged when it differs from ``alpha``).
        """
        self.alpha_ = float(self.alpha)
        while True:
            try:
                return super().fit(X, y)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                diverged = "NaN" in str(exc) or "singular" in str(exc).lower()
                if not diverged or self.alpha_ >= 100:
                    raise ModelError(
                        f"Cox model did not converge: {exc}", hint="remove collinear columns"
                    ) from None
                self.alpha_ = max(self.alpha_ * 100, 1e-2)
                logger.warning("CoxPH diverged (%s); retrying with ridge alpha=%g", exc, self.alpha_)

    def _make(self, n: int, d: int):
        alpha = getattr(self, "alpha_", self.alpha)
        return CoxPHSurvivalAnalysis(alpha=alpha, ties=self.ties, n_iter=self.n_iter)


class CoxnetBaseline(_SksurvBaseline):
    """scikit-survival ``CoxnetSurvivalAnalysis`` with the penalty chosen by inner CV (partial likelihood).

    Args:
        l1_ratio: elastic-net mixing (1 = lasso).
        n_alphas: length of the penalty path.
        cv: inner folds used to choose the penalty (stratified on event).
        random_state: seed of the inner folds.

    Example:
        >>> CoxnetBaseline(l1_ratio=0.5).l1_ratio
        0.5
    """

    def __init__(self, l1_ratio: float = 0.5, n_alphas: int = 30, cv: int = 3, random_state: int = 0) -> None:
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.cv = cv
        self.random_state = random_state

    def _path(self) -> CoxnetSurvivalAnalysis:
        return CoxnetSurvivalAnalysis(
            l1_ratio=self.l1_ratio, n_alphas=self.n_alphas, alpha_min_ratio=0.01, max_iter=20000
        )

    def _choose_alpha(self, X: np.ndarray, y: np.ndarray) -> float:
        event = y[y.dtype.names[0]].astype(int)
        alphas = self._path().fit(X, y).alphas_
        loss = np.zeros(len(alphas))
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        import torch

        for tr, va in folds.split(X, event):
            path = self._path().set_params(alphas=alphas).fit(X[tr], y[tr])
            risk = X[va] @ path.coef_  # (n_val, n_alphas)
            t = torch.as_tensor(np.ascontiguousarray(y[va][y.dtype.names[1]], dtype=np.float64))
            e = torch.as_tensor(np.ascontiguousarray(event[va], dtype=np.float64))
            for k in range(len(alphas)):
                loss[k] += float(cox_partial_likelihood(torch.as_tensor(risk[:, k]), t, e, reduction="sum"))
        return float(alphas[int(np.argmin(loss))])

    def fit(self, X: np.ndarray, y: np.ndarray) -> CoxnetBaseline:
        """Choose the penalty by inner CV, then refit at it on all rows."""
        if not 0 < self.l1_ratio <= 1:
            raise ConfigError(f"l1_ratio must be in (0, 1], got {self.l1_ratio}")
        X_checked = check_array(X, dtype=np.float64)
        mean, scale = X_checked.mean(axis=0), X_checked.std(axis=0)
        z = (X_checked - mean) / np.where(scale > 1e-12, scale, 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.alpha_ = self._choose_alpha(z, y)
        return super().fit(X, y)

    def _make(self, n: int, d: int):
        return CoxnetSurvivalAnalysis(
            l1_ratio=self.l1_ratio, alphas=[self.alpha_], fit_baseline_model=True, max_iter=20000
        )


class RSFBaseline(_SksurvBaseline):
    """scikit-survival ``RandomSurvivalForest``.

    Example:
        >>> RSFBaseline(n_estimators=50).n_estimators
        50
    """

    def __init__(
        self, n_estimators: int = 200, min_samples_leaf: int = 3, n_jobs: int = -1, random_state: int = 0
    ) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _make(self, n: int, d: int):
        return RandomSurvivalForest(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )


class GBSABaseline(_SksurvBaseline):
    """scikit-survival ``GradientBoostingSurvivalAnalysis`` (Cox loss, shallow trees, subsampling).

    Example:
        >>> GBSABaseline(n_estimators=50).learning_rate
        0.1
    """

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.1,
        max_depth: int = 3,
        subsample: float = 0.8,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.random_state = random_state

    def _make(self, n: int, d: int):
        return GradientBoostingSurvivalAnalysis(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            subsample=self.subsample,
            random_state=self.random_state,
        )


#: explicit registry of baselines by name
BASELINES: dict[str, type[_SksurvBaseline]] = {
    "coxph": CoxPHBaseline,
    "coxnet": CoxnetBaseline,
    "rsf": RSFBaseline,
    "gbsa": GBSABaseline,
}


def make_baseline(name: str, **params: object) -> _SksurvBaseline:
    """Instantiate the baseline registered under ``name``.

    Example:
        >>> type(make_baseline("rsf", n_estimators=10)).__name__
        'RSFBaseline'
    """
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}", hint=f"one of {', '.join(sorted(BASELINES))}")
    return BASELINES[name](**params)
