"""EconML's CATE learners on the RMST pseudo-outcome: causal-forest and DR-learner baselines for survival.

EconML (causal forest, DR-learner) ignores censoring. The standard bridge is a censoring-unbiased
pseudo-outcome: the inverse-probability-of-censoring weighted ``Delta * min(T, tau) / G(min(T, tau)-)``,
whose conditional mean given the covariates and the arm is the RMST(tau) under that arm (Tsiatis 2006;
``G`` is the censoring Kaplan-Meier within the received arm, :func:`~oncoplan.evaluate.censoring.
ipcw_rmst_pseudo_outcome`). The learner then estimates the RMST contrasts of every arm against the first
arm. Point estimates only: there are no per-arm curves, so these baselines take part in the RMST-PEHE,
the regret and the IPW policy values, but not in the doubly robust values (which need curves).

Example:
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); a = rng.integers(0, 2, 300)
    >>> y = Surv.from_arrays(rng.random(300) < 0.8, rng.exponential(np.where(a == 1, 8.0, 4.0)))
    >>> model = RMSTPseudoOutcomeLearner("dr_learner", tau=5.0).fit(X, y, np.array(["A", "B"])[a])
    >>> model.predict_rmst_contrast(X[:2]).shape
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

from oncoplan.errors import ConfigError
from oncoplan.evaluate.censoring import ipcw_rmst_pseudo_outcome
from oncoplan.models.arms import encode_arms

LEARNERS = ("causal_forest", "dr_learner")


def _make_learner(name: str, random_state: int):
    if name == "causal_forest":
        from econml.dml import CausalForestDML

        return CausalForestDML(discrete_treatment=True, n_jobs=1, random_state=random_state)
    if name == "dr_learner":
        from econml.dr import DRLearner

        return DRLearner(random_state=random_state)
    raise ConfigError(f"learner must be one of {LEARNERS}, got {name!r}")


class RMSTPseudoOutcomeLearner(BaseEstimator):
    """An EconML CATE learner on the IPCW RMST(tau) pseudo-outcome (see the module docstring).

    Args:
        learner: ``"causal_forest"`` (``CausalForestDML``) or ``"dr_learner"`` (``DRLearner``), default
            settings.
        tau: RMST horizon (time units of ``y``).
        random_state: seed of the learner.
    """

    def __init__(
        self, learner: str = "causal_forest", tau: float | None = None, random_state: int = 0
    ) -> None:
        self.learner = learner
        self.tau = tau
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        treatment: Sequence | np.ndarray,
        arms: Sequence[str] | None = None,
    ) -> RMSTPseudoOutcomeLearner:
        """Fit on covariates ``X``, structured survival target ``y`` and the received arm per patient."""
        if self.tau is None or not self.tau > 0:
            raise ConfigError(f"tau must be a positive RMST horizon, got {self.tau!r}")
        X = check_array(X, dtype=np.float64)
        self.arms_, codes = encode_arms(treatment, arms)
        if np.bincount(codes, minlength=len(self.arms_)).min() < 2:
            raise ConfigError("every arm needs at least two patients")
        time, event = y[y.dtype.names[1]], y[y.dtype.names[0]]
        pseudo = ipcw_rmst_pseudo_outcome(time, event, float(self.tau), strata=codes)
        self.model_ = _make_learner(self.learner, self.random_state).fit(pseudo, codes, X=X)
        return self

    def predict_rmst_contrast(self, X: np.ndarray) -> np.ndarray:
        """RMST(tau) of every arm minus that of the first arm, ``(n, n_arms)`` (first column 0)."""
        check_is_fitted(self, "model_")
        X = check_array(X, dtype=np.float64)
        out = np.zeros((len(X), len(self.arms_)))
        for k in range(1, len(self.arms_)):
            out[:, k] = np.ravel(self.model_.effect(X, T0=0, T1=k))
        return out

    def predict_arm(self, X: np.ndarray) -> np.ndarray:
        """The arm with the largest estimated RMST(tau) per patient (names)."""
        return np.asarray(self.arms_, dtype=object)[self.predict_rmst_contrast(X).argmax(axis=1)]
