"""Meta-learner baselines for counterfactual survival: T-learner and S-learner over scikit-survival models.

* :class:`TLearnerSurvival`: one survival model per arm, fitted on that arm's patients.
* :class:`SLearnerSurvival`: one model on ``[x, arm dummies]`` (plus ``arm x covariate`` interactions for
  the Cox model, otherwise a linear Cox S-learner has no heterogeneous effect), predicted with the arm set
  to each candidate in turn.

Base models: ``"cox"`` (``CoxPHSurvivalAnalysis`` with a small ridge penalty) or ``"rsf"``
(``RandomSurvivalForest``). Predictions share the :class:`~oncoplan.models.effects.TreatmentEffectNet`
shape ``(n_members=1, n_patients, n_arms, n_times)`` so policies and metrics treat all models alike.

Example:
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 2)); a = np.repeat(["A", "B"], 60)
    >>> y = Surv.from_arrays(rng.random(120) < 0.8, rng.exponential(5, 120))
    >>> TLearnerSurvival("cox").fit(X, y, a).predict_counterfactual(X[:3]).shape[:3]
    (1, 3, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted
from sksurv.ensemble import RandomSurvivalForest
from sksurv.linear_model import CoxPHSurvivalAnalysis

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.adapters import step_function_at
from oncoplan.models.arms import encode_arms
from oncoplan.models.targets import survival_target
from oncoplan.recommend.rmst import EnsembleRMST, rmst_ensemble

BASES = ("cox", "rsf")


def make_base(base: str, random_state: int = 0, n_estimators: int = 200, cox_alpha: float = 1e-2):
    """A fresh scikit-survival model: ``"cox"`` (ridge Cox) or ``"rsf"`` (random survival forest).

    Example:
        >>> type(make_base("rsf")).__name__
        'RandomSurvivalForest'
    """
    if base == "cox":
        return CoxPHSurvivalAnalysis(alpha=cox_alpha, ties="efron")
    if base == "rsf":
        return RandomSurvivalForest(
            n_estimators=n_estimators,
            min_samples_leaf=15,
            max_features="sqrt",
            n_jobs=1,
            random_state=random_state,
        )
    raise ConfigError(f"base must be one of {BASES}, got {base!r}")


def _curves(model, X: np.ndarray, times: np.ndarray) -> np.ndarray:
    own = np.asarray(model.unique_times_, dtype=float)
    surv = model.predict_survival_function(X, return_array=True)
    return np.stack([step_function_at(own, s, times) for s in surv])


class _MetaLearner(BaseEstimator):
    def _setup(
        self, X: np.ndarray, y: np.ndarray, treatment, arms
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = check_array(X, dtype=np.float64)
        event, time = survival_target(X, y)
        self.arms_, codes = encode_arms(treatment, arms)
        missing = [a for k, a in enumerate(self.arms_) if not (codes == k).any()]
        if missing:
            raise ModelError(f"arm(s) {missing} have no training patients")
        self.n_features_in_ = X.shape[1]
        self.times_ = np.unique(time[event])
        return X, codes, y

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "arms_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ModelError(
                f"X has {X.shape[1]} features but the model was trained on {self.n_features_in_}"
            )
        return X

    def predict_rmst(self, X: np.ndarray, tau: float) -> EnsembleRMST:
        """RMST(tau) per patient and arm (a single member: no interval)."""
        return rmst_ensemble(self.predict_counterfactual(X), self.times_, tau, arm_names=self.arms_)


class TLearnerSurvival(_MetaLearner):
    """One scikit-survival model per arm (see the module docstring).

    Args:
        base: ``"cox"`` or ``"rsf"``.
        random_state, n_estimators, cox_alpha: settings of the base models.
    """

    def __init__(
        self, base: str = "cox", random_state: int = 0, n_estimators: int = 200, cox_alpha: float = 1e-2
    ):
        self.base = base
        self.random_state = random_state
        self.n_estimators = n_estimators
        self.cox_alpha = cox_alpha

    def fit(self, X: np.ndarray, y: np.ndarray, treatment: Sequence, arms: Sequence[str] | None = None):
        """Fit one base model per arm."""
        X, codes, y = self._setup(X, y, treatment, arms)
        self.models_ = []
        for k in range(len(self.arms_)):
            rows = codes == k
            model = make_base(self.base, self.random_state + k, self.n_estimators, self.cox_alpha)
            self.models_.append(model.fit(X[rows], y[rows]))
        return self

    def predict_counterfactual(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Survival ``(1, n, n_arms, len(times))`` under every arm."""
        X = self._check_X(X)
        grid = self.times_ if times is None else np.asarray(times, dtype=float)
        return np.stack([_curves(m, X, grid) for m in self.models_], axis=1)[None]


class SLearnerSurvival(_MetaLearner):
    """One scikit-survival model with the arm as an input (see the module docstring).

    Args:
        base: ``"cox"`` or ``"rsf"``.
        interactions: add ``arm x covariate`` products (default: True for Cox, False for RSF).
        random_state, n_estimators, cox_alpha: settings of the base model.
    """

    def __init__(
        self,
        base: str = "cox",
        interactions: bool | None = None,
        random_state: int = 0,
        n_estimators: int = 200,
        cox_alpha: float = 1e-2,
    ):
        self.base = base
        self.interactions = interactions
        self.random_state = random_state
        self.n_estimators = n_estimators
        self.cox_alpha = cox_alpha

    def _design(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        dummies = np.stack([(codes == k).astype(float) for k in range(1, len(self.arms_))], axis=1)
        parts = [X, dummies]
        use = self.base == "cox" if self.interactions is None else self.interactions
        if use:
            parts += [X * dummies[:, [k]] for k in range(dummies.shape[1])]
        return np.concatenate(parts, axis=1)

    def fit(self, X: np.ndarray, y: np.ndarray, treatment: Sequence, arms: Sequence[str] | None = None):
        """Fit the base model on covariates, arm dummies (and interactions)."""
        X, codes, y = self._setup(X, y, treatment, arms)
        self.model_ = make_base(self.base, self.random_state, self.n_estimators, self.cox_alpha)
        self.model_.fit(self._design(X, codes), y)
        return self

    def predict_counterfactual(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Survival ``(1, n, n_arms, len(times))`` with the arm set to each candidate."""
        X = self._check_X(X)
        grid = self.times_ if times is None else np.asarray(times, dtype=float)
        per_arm = [
            _curves(self.model_, self._design(X, np.full(len(X), k)), grid) for k in range(len(self.arms_))
        ]
        return np.stack(per_arm, axis=1)[None]
