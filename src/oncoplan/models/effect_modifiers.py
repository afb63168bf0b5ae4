"""Penalised Cox effect modifiers on top of a prognostic score: who benefits from which arm?

The effect network learns the prognosis well, but on small trials its per-patient contrasts hardly vary
(its arm heads share a trunk, early stopping is driven by the prognostic loss, and ensembling averages the
rest away). This stage separates the two jobs, as the "modified covariate" and effect-modifier models of
the clinical literature do (Tian, Alizadeh, Gentles & Tibshirani 2014; Kehl & Ulm 2006):

    log h(t | x, a) = log h0(t) + b * s(x) + g_a + sum_k 1{a = k} d_k' z(x)

with ``s(x)`` an arm-free prognostic score (here: the network's log cumulative hazard at a reference time,
averaged over the arms), ``g_a`` the arm main effects and ``d_k`` the arm x covariate interactions on the
standardised covariates ``z``. ``b`` and ``g`` are unpenalised; the interactions get an elastic-net penalty
(scikit-survival's :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`, with ``penalty_factor`` 0 on the
score and the arm terms) whose strength is chosen by cross-validated partial likelihood (Verweij & van
Houwelingen 1993): when no interaction improves the held-out likelihood the penalty removes them all and
the arms' contrasts are the same in log hazard for everyone. Uncertainty: ``n_members`` refits on
bootstrap resamples at the chosen penalty (the spread of the coefficients).

Written by hand on top of scikit-survival's Coxnet: the cross-validated partial likelihood (scikit-survival
scores Coxnet paths by concordance only, which is blind to interactions that do not change the ranking; the
likelihood itself is the project's Cox loss). Each member keeps plain arrays (coefficients and its Breslow
baseline on a grid), so a fitted stage is saved as JSON without pickles.

Example:
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> n = 400; X = rng.normal(size=(n, 3)); a = rng.integers(0, 2, n); s = 0.5 * X[:, 0]
    >>> t = rng.exponential(np.exp(-(s + np.where(a == 1, X[:, 1], 0.0)))); y = Surv.from_arrays(t < 2, t)
    >>> model = CoxEffectModifiers(n_members=3, random_state=0).fit(X, y, a, s)
    >>> model.predict_counterfactual(X[:2], s[:2]).shape[:3]
    (3, 2, 2)
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from sksurv.linear_model import CoxnetSurvivalAnalysis

from oncoplan.errors import ConfigError
from oncoplan.models.heads.cox import breslow_baseline
from oncoplan.models.losses.cox import cox_partial_likelihood

logger = logging.getLogger(__name__)


def cox_partial_log_likelihood(time: np.ndarray, event: np.ndarray, eta: np.ndarray) -> float:
    """Breslow partial log-likelihood of linear predictors ``eta`` (the project's torch Cox loss, summed).

    Example:
        >>> round(cox_partial_log_likelihood(np.array([1.0, 2.0]), np.array([True, True]), np.zeros(2)), 4)
        -0.6931
    """

    def as_tensor(values: np.ndarray) -> torch.Tensor:  # structured-array fields are strided views
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64))

    nll = cox_partial_likelihood(as_tensor(eta), as_tensor(time), as_tensor(event), "breslow", "sum")
    return -float(nll)


def modifier_design(score: np.ndarray, z: np.ndarray, codes: np.ndarray, arm: int, n_arms: int) -> np.ndarray:
    """Design matrix ``[score, arm dummies (arms 1..K-1), arm-k interaction blocks]`` for arm ``arm``.

    ``arm`` = -1 uses each row's received arm ``codes``. Example:
        >>> modifier_design(np.array([0.5]), np.array([[2.0]]), np.array([1]), -1, 2).tolist()
        [[0.5, 1.0, 0.0, 2.0]]
    """
    n, p = z.shape
    a = np.asarray(codes, dtype=int) if arm < 0 else np.full(n, arm)
    onehot = np.eye(n_arms)[a]
    blocks = (onehot[:, :, None] * z[:, None, :]).reshape(n, n_arms * p)
    return np.column_stack([score, onehot[:, 1:], blocks])


def _breslow_on_grid(eta: np.ndarray, event: np.ndarray, time: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Breslow cumulative baseline hazard of ``eta`` (:func:`~oncoplan.models.heads.cox.breslow_baseline`)
    as a step function on ``grid``."""
    times, cum = breslow_baseline(eta, time, event)
    idx = np.searchsorted(times, grid, side="right") - 1
    return np.where(idx >= 0, cum[np.clip(idx, 0, None)], 0.0)


class CoxEffectModifiers:
    """Penalised arm x covariate interactions on top of a prognostic score (see the module docstring).

    Args:
        l1_ratio: elastic-net mixing of the interaction penalty (1 = lasso).
        n_folds: folds of the cross-validated partial likelihood that chooses the penalty.
        n_members: bootstrap refits at the chosen penalty (the ensemble of :meth:`predict_counterfactual`).
        one_se: take the largest penalty within one standard error of the best (sparser, "1-SE rule").
        random_state: seed of the folds and the resamples.
    """

    def __init__(
        self,
        l1_ratio: float = 0.5,
        n_folds: int = 5,
        n_members: int = 10,
        one_se: bool = False,
        random_state: int = 0,
    ) -> None:
        self.l1_ratio = l1_ratio
        self.n_folds = n_folds
        self.n_members = n_members
        self.one_se = one_se
        self.random_state = random_state

    def _model(self, alphas: np.ndarray | None, n_arms: int, p: int) -> CoxnetSurvivalAnalysis:
        factor = np.concatenate([np.zeros(n_arms), np.ones(n_arms * p)])
        return CoxnetSurvivalAnalysis(
            alphas=alphas,
            l1_ratio=self.l1_ratio,
            penalty_factor=factor,
            max_iter=100000,
        )

    def _choose_alpha(self, D: np.ndarray, y: np.ndarray, strata: np.ndarray, n_arms: int, p: int) -> float:
        path = self._model(None, n_arms, p).set_params(alpha_min_ratio=0.01).fit(D, y).alphas_
        while True:
            try:
                return self._cross_validate(D, y, strata, n_arms, p, path)
            except ArithmeticError:  # coxnet diverges at the weak end of the path (separation): shorten it
                if len(path) < 4:
                    raise ConfigError(
                        "the effect-modifier stage diverges at every penalty (arm x covariate separation)",
                        hint="drop rare categories or use fewer covariates",
                    ) from None
                path = path[: len(path) // 2]

    def _cross_validate(
        self, D: np.ndarray, y: np.ndarray, strata: np.ndarray, n_arms: int, p: int, path: np.ndarray
    ) -> float:
        rng = np.random.default_rng(self.random_state)
        folds = np.empty(len(y), dtype=int)
        for s in np.unique(strata):  # stratified by arm x event
            rows = rng.permutation(np.flatnonzero(strata == s))
            folds[rows] = np.arange(len(rows)) % self.n_folds
        time, event = y[y.dtype.names[1]], y[y.dtype.names[0]]
        cvpl = np.zeros((self.n_folds, len(path)))
        for f in range(self.n_folds):
            tr = folds != f
            fit = self._model(path, n_arms, p).fit(D[tr], y[tr])
            for j in range(len(path)):
                # glmnet ends a path early once the deviance stops changing: the last fit stands for the rest
                eta = D @ fit.coef_[:, min(j, fit.coef_.shape[1] - 1)]
                cvpl[f, j] = cox_partial_log_likelihood(time, event, eta) - cox_partial_log_likelihood(
                    time[tr], event[tr], eta[tr]
                )
        total = cvpl.sum(axis=0)
        best = int(np.argmax(total))
        if self.one_se:
            se = cvpl.std(axis=0, ddof=1)[best] * np.sqrt(self.n_folds)
            best = int(np.flatnonzero(total >= total[best] - se)[0])  # path runs from large to small alpha
        self.cv_alphas_, self.cv_partial_likelihood_ = path, total
        return float(path[best])

    def _fit_member(self, D: np.ndarray, y: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
        """(coefficients, Breslow cumulative baseline hazard on ``times_``) of one resample."""
        alpha = self.alpha_
        time, event = y[y.dtype.names[1]], y[y.dtype.names[0]]
        for _ in range(8):  # a resample can separate where the full data did not: penalise it more
            try:
                with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    coef = self._model(np.array([alpha]), self.n_arms_, p).fit(D, y).coef_[:, 0]
                    cum_hazard = _breslow_on_grid(D @ coef, event, time, self.times_)
                if np.all(np.isfinite(coef)) and np.all(np.isfinite(cum_hazard)):
                    return coef, cum_hazard
            except ArithmeticError:
                pass
            alpha *= 2.0
        raise ConfigError("the effect-modifier stage diverges on a bootstrap resample at every penalty tried")

    def fit(self, X: np.ndarray, y: np.ndarray, codes: np.ndarray, score: np.ndarray) -> CoxEffectModifiers:
        """Fit on covariates ``X``, structured target ``y``, received arm codes and prognostic scores."""
        X = np.asarray(X, dtype=float)
        codes = np.asarray(codes, dtype=int)
        if not (len(X) == len(y) == len(codes) == len(score)):
            raise ConfigError("X, y, codes and score must have one row per patient")
        self.n_arms_ = int(codes.max()) + 1
        if np.bincount(codes, minlength=self.n_arms_).min() < 2:
            raise ConfigError("every arm needs at least two patients for the effect-modifier stage")
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        z = (X - self.mean_) / self.scale_
        p = z.shape[1]
        D = modifier_design(score, z, codes, -1, self.n_arms_)
        event = y[y.dtype.names[0]]
        self.times_ = np.unique(y[y.dtype.names[1]][event])
        self.alpha_ = self._choose_alpha(D, y, codes * 2 + event.astype(int), self.n_arms_, p)
        rng = np.random.default_rng(self.random_state + 1)
        self.member_rows_ = [
            np.arange(len(y)) if self.n_members == 1 else rng.integers(0, len(y), len(y))
            for _ in range(self.n_members)
        ]
        fits = [self._fit_member(D[rows], y[rows], p) for rows in self.member_rows_]
        self.coef_ = np.stack([c for c, _ in fits])
        self.cum_hazard_ = np.stack([h for _, h in fits])
        self.n_active_ = int(np.sum(np.abs(self.coef_[:, self.n_arms_ :]).mean(axis=0) > 0))
        logger.info("effect modifiers: alpha %.3g, %d active interaction terms", self.alpha_, self.n_active_)
        return self

    def predict_counterfactual(
        self, X: np.ndarray, score: np.ndarray, times: np.ndarray | None = None
    ) -> np.ndarray:
        """Survival curves ``(n_members, n, n_arms, len(times))`` under every arm (default :attr:`times_`)."""
        z = (np.asarray(X, dtype=float) - self.mean_) / self.scale_
        grid = self.times_ if times is None else np.asarray(times, dtype=float)
        idx = np.searchsorted(self.times_, grid, side="right") - 1
        cum = np.where(idx >= 0, self.cum_hazard_[:, np.clip(idx, 0, None)], 0.0)  # (members, len(grid))
        out = np.empty((len(self.coef_), len(z), self.n_arms_, len(grid)))
        for k in range(self.n_arms_):
            risk = np.exp(modifier_design(score, z, np.zeros(len(z), int), k, self.n_arms_) @ self.coef_.T)
            out[:, :, k] = np.exp(-risk.T[:, :, None] * cum[:, None, :])
        return out

    def to_dict(self) -> dict:
        """JSON-serialisable fitted state (:meth:`from_dict` restores identical predictions)."""
        keys = ("mean_", "scale_", "times_", "coef_", "cum_hazard_")
        return {
            "params": {
                k: getattr(self, k) for k in ("l1_ratio", "n_folds", "n_members", "one_se", "random_state")
            },
            "alpha": self.alpha_,
            "n_arms": self.n_arms_,
            "n_active": self.n_active_,
            **{k: getattr(self, k).tolist() for k in keys},
        }

    @classmethod
    def from_dict(cls, state: dict) -> CoxEffectModifiers:
        """Rebuild a fitted stage from :meth:`to_dict`."""
        model = cls(**state["params"])
        model.alpha_, model.n_arms_, model.n_active_ = (
            float(state["alpha"]),
            int(state["n_arms"]),
            state["n_active"],
        )
        for k in ("mean_", "scale_", "times_", "coef_", "cum_hazard_"):
            setattr(model, k, np.asarray(state[k], dtype=float))
        return model
