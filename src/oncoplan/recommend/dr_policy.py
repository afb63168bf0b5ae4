"""DR-learner stage for survival policies: who should deviate from the best-on-average arm?

The effect network's per-patient contrasts can be shrunk towards the average effect (shared trunk, weight
decay, ensembling), and a policy built from them may end up as treat-all-best. This stage estimates the
individual RMST(tau) contrasts a second way, doubly robustly (Kennedy 2023, "Towards optimal doubly robust
estimation of heterogeneous causal effects"; the survival version with IPCW/AIPCW pseudo-outcomes follows
Bai, Tsiatis et al. 2017):

1. per patient and arm, the AIPW score ``Gamma_ik = mu_k(x_i) + 1{A_i = k} / e_k(x_i) * (Y*_i - mu_k(x_i))``
   with ``mu_k`` the RMST(tau) of a survival model fitted on *other* patients (cross-fitted), ``e`` the
   propensity and ``Y*`` the augmented IPCW pseudo-outcome of ``min(T, tau)``
   (:func:`oncoplan.evaluate.censoring.aipcw_rmst_pseudo_outcome`, censoring Kaplan-Meier within arm);
2. the contrasts ``Gamma_ik - Gamma_id`` against the default arm ``d`` are regressed on the covariates with
   a ridge regression whose penalty is chosen by efficient leave-one-out cross-validation
   (scikit-learn ``RidgeCV``): when the covariates do not predict the contrast the penalty grows and the
   fit collapses to the average contrast, so nobody deviates from the default arm;
3. the policy gives each patient the arm with the largest predicted contrast (the default arm when none
   is positive).

:class:`CalibratedContrastPolicy` replaces step 2 by a calibration of the effect model's own contrasts
(the "best linear predictor" of the CATE, Chernozhukov, Demirer, Duflo & Fernandez-Val 2018): per arm,
``Gamma_ik - Gamma_id = a + b * (c_ik - mean c_k) + error`` by least squares with the model's cross-fitted
contrast ``c_ik``; the slope ``b`` is kept only when its heteroskedasticity-robust (HC1) t statistic
exceeds the one-sided 5% normal quantile (heterogeneity detectable in the training data), otherwise
``b = 0`` and the policy is treat-all-default (``a`` is then the average contrast). The slope also
un-shrinks (``b > 1``) or shrinks (``b < 1``) the network's contrasts to the scale the outcomes support.
Several candidate contrast models (e.g. the network and a random-survival-forest T-learner) can be
offered; per arm the best-supported one is used, with a Bonferroni-corrected threshold.

Written by hand on top of scikit-learn: no maintained library offers a DR-learner for censored RMST with
more than two arms.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); a = rng.integers(0, 2, 400)
    >>> t = rng.exponential(np.where(a == 1, 2.0, 1.0)); e = np.ones(400, dtype=bool)
    >>> curves = np.ones((400, 2, 3)) * np.array([1.0, 0.6, 0.3])
    >>> scores = aipw_rmst_scores(t, e, a, np.full((400, 2), 0.5), curves, np.array([0.0, 1.0, 2.0]), 2.0)
    >>> scores.shape
    (400, 2)
    >>> stage = DRContrastPolicy(default=1).fit(X, scores)
    >>> stage.predict_arm(X[:3]).tolist()
    [1, 1, 1]
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.stats import norm
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from oncoplan.errors import ConfigError
from oncoplan.evaluate.censoring import aipcw_rmst_pseudo_outcome
from oncoplan.recommend.rmst import rmst_from_curves

logger = logging.getLogger(__name__)

#: ridge penalties searched by leave-one-out CV (standardised covariates); the largest is ~ a constant fit
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-1, 6, 29))


def aipw_rmst_scores(
    time: np.ndarray,
    event: np.ndarray,
    received: np.ndarray,
    propensity: np.ndarray,
    survival_pred: np.ndarray,
    times: np.ndarray,
    tau: float,
    clip: float = 1e-2,
) -> np.ndarray:
    """AIPW scores ``(n, K)`` of RMST(tau) under every arm (step 1 of the module docstring).

    Args:
        received: integer arm codes ``(n,)`` (columns of ``propensity`` / ``survival_pred``).
        propensity: ``(n, K)``; clipped below at ``clip``.
        survival_pred: ``(n, K, n_times)`` cross-fitted survival curves on ``times``.
    """
    a = np.asarray(received, dtype=int)
    pred = np.asarray(survival_pred, dtype=float)
    n, k = pred.shape[:2]
    if propensity.shape != (n, k) or a.shape != (n,):
        raise ConfigError(f"propensity must be ({n}, {k}) and received ({n},)")
    rows = np.arange(n)
    pseudo = aipcw_rmst_pseudo_outcome(time, event, tau, pred[rows, a], times, strata=a)
    mu = rmst_from_curves(pred, times, tau, extrapolate=True)  # flat after the grid's last event time
    p = np.clip(np.asarray(propensity, dtype=float), clip, 1.0)
    own = np.eye(k, dtype=bool)[a]
    return mu + own / p * (pseudo[:, None] - mu)


class DRContrastPolicy:
    """Ridge regression of AIPW contrasts vs a default arm; the policy takes the best predicted arm.

    Args:
        default: column of the default (best-on-average) arm.
        alphas: ridge penalties searched by leave-one-out CV.
        margin: a patient leaves the default arm only for a predicted gain above ``margin`` (RMST units).
    """

    def __init__(self, default: int, alphas: tuple[float, ...] = RIDGE_ALPHAS, margin: float = 0.0) -> None:
        self.default = int(default)
        self.alphas = alphas
        self.margin = float(margin)

    def fit(self, X: np.ndarray, scores: np.ndarray) -> DRContrastPolicy:
        """Fit one ridge per non-default arm on ``scores[:, k] - scores[:, default]``."""
        X = np.asarray(X, dtype=float)
        contrast = scores - scores[:, [self.default]]
        self.n_arms_ = scores.shape[1]
        self.models_: dict[int, object] = {}
        for k in range(self.n_arms_):
            if k == self.default:
                continue
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=self.alphas)).fit(X, contrast[:, k])
            self.models_[k] = model
            logger.info(
                "DR stage: arm %d vs %d, mean contrast %.1f, ridge alpha %.3g",
                k,
                self.default,
                float(contrast[:, k].mean()),
                float(model[-1].alpha_),
            )
        return self

    def predict_contrast(self, X: np.ndarray) -> np.ndarray:
        """Predicted RMST contrast ``(n, K)`` of every arm vs the default arm (0 in the default column)."""
        X = np.asarray(X, dtype=float)
        out = np.zeros((len(X), self.n_arms_))
        for k, model in self.models_.items():
            out[:, k] = model.predict(X)
        return out

    def predict_arm(self, X: np.ndarray) -> np.ndarray:
        """Arm column per patient: the largest predicted contrast above ``margin``, else the default."""
        contrast = self.predict_contrast(X)
        best = contrast.argmax(axis=1)
        return np.where(contrast[np.arange(len(X)), best] > self.margin, best, self.default)


class CalibratedContrastPolicy:
    """Calibrate model contrasts against AIPW contrasts (see the module docstring); policy = best arm.

    ``contrast`` may stack several candidate models' contrasts, ``(n_candidates, n, K)``: per arm the
    candidate with the largest robust t statistic is used, provided it exceeds ``z`` Bonferroni-corrected
    for the number of candidates (``z`` is the one-sided normal quantile of ``level / n_candidates``).

    Args:
        default: column of the default (best-on-average) arm.
        level: one-sided level of the heterogeneity test (0.05 by default).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> c = np.column_stack([rng.normal(-10, 30, 500), np.zeros(500)])
        >>> g = np.column_stack([2 * c[:, 0] + rng.normal(0, 50, 500), np.zeros(500)])
        >>> stage = CalibratedContrastPolicy(default=1).fit(c, g)
        >>> bool(stage.slopes_[0] > 1.5)
        True
    """

    def __init__(self, default: int, level: float = 0.05) -> None:
        self.default = int(default)
        self.level = float(level)

    @staticmethod
    def _stack(contrast: np.ndarray) -> np.ndarray:
        c = np.asarray(contrast, dtype=float)
        return c[None] if c.ndim == 2 else c

    def fit(self, contrast: np.ndarray, scores: np.ndarray) -> CalibratedContrastPolicy:
        """``contrast``: model contrasts vs the default arm, ``(n, K)`` or ``(n_candidates, n, K)``."""
        c = self._stack(contrast)
        n_cand, n, k_arms = c.shape
        target = scores - scores[:, [self.default]]
        self.z_ = float(norm.ppf(1.0 - self.level / n_cand))
        self.n_arms_ = k_arms
        self.centers_ = c.mean(axis=1)
        self.intercepts_ = target.mean(axis=0)
        self.slopes_ = np.zeros(k_arms)
        self.chosen_ = np.zeros(k_arms, dtype=int)
        self.t_stats_ = np.zeros((n_cand, k_arms))
        fits = {}
        for j in range(n_cand):
            for k in range(k_arms):
                x = c[j, :, k] - self.centers_[j, k]
                sxx = float(x @ x)
                if k == self.default or sxx <= 0 or n < 3:
                    continue
                b = float(x @ (target[:, k] - self.intercepts_[k])) / sxx
                resid = target[:, k] - self.intercepts_[k] - b * x
                se = np.sqrt(n / (n - 2) * float(np.sum(x**2 * resid**2))) / sxx  # HC1
                self.t_stats_[j, k] = b / se if se > 0 else 0.0
                fits[j, k] = b
        for k in range(k_arms):
            if k == self.default:
                continue
            j = int(self.t_stats_[:, k].argmax())
            if self.t_stats_[j, k] > self.z_:
                self.slopes_[k], self.chosen_[k] = fits[j, k], j
            logger.info(
                "calibrated stage: arm %d vs %d, mean contrast %.1f, t statistics %s (threshold %.2f): %s",
                k,
                self.default,
                float(self.intercepts_[k]),
                np.round(self.t_stats_[:, k], 2).tolist(),
                self.z_,
                f"candidate {j}, slope {self.slopes_[k]:.2f}" if self.slopes_[k] else "no heterogeneity",
            )
        return self

    def predict_contrast(self, contrast: np.ndarray) -> np.ndarray:
        """Calibrated contrasts ``(n, K)`` (0 in the default column); same candidates as in :meth:`fit`."""
        c = self._stack(contrast)
        cols = np.arange(self.n_arms_)
        chosen = c[self.chosen_, :, cols].T - self.centers_[self.chosen_, cols]
        out = self.intercepts_ + self.slopes_ * chosen
        out[:, self.default] = 0.0
        return out

    def predict_arm(self, contrast: np.ndarray) -> np.ndarray:
        """Arm column per patient: the largest calibrated contrast when positive, else the default."""
        cal = self.predict_contrast(contrast)
        cal = np.where(np.isnan(cal), -np.inf, cal)  # an arm a candidate model could not score
        best = cal.argmax(axis=1)
        return np.where(cal[np.arange(len(cal)), best] > 0, best, self.default)


def select_policy(
    scores: np.ndarray,
    default: int,
    inner_rmst: list[np.ndarray],
    test_rmst: list[np.ndarray],
    names: list[str] | None = None,
) -> np.ndarray:
    """Arms for the test rows from the candidate policy with the best doubly robust value on inner folds.

    Candidates: treat everyone with ``default``, and for each model the policy "the arm with the highest
    predicted RMST(tau)". A policy's value on the training rows is the mean AIPW score of the arm it
    gives (``mean_i scores[i, pi(x_i)]``, Dudik, Langford & Li 2011; Athey & Wager 2021), with the model's
    *inner out-of-fold* predictions ``inner_rmst`` (``(n_train, K)`` per model), so a model that overfits
    does not look better than it is. Treat-all-default wins ties. The chosen model's test predictions
    ``test_rmst`` (``(n_test, K)``; NaN for an arm it could not score) give the test rows' arms.

    Example:
        >>> scores = np.array([[1.0, 3.0], [3.0, 1.0]])
        >>> inner = [np.array([[0.0, 1.0], [1.0, 0.0]])]
        >>> select_policy(scores, 0, inner, [np.array([[5.0, 1.0]])]).tolist()
        [0]
    """
    rows = np.arange(len(scores))
    values = {"treat_all": float(scores[:, default].mean())}
    for j, mu in enumerate(inner_rmst):
        arm = np.where(np.isnan(mu), -np.inf, mu).argmax(axis=1)
        values[j] = float(scores[rows, arm].mean())
    best = max(values, key=lambda key: (values[key], key == "treat_all"))
    labels = names or [str(j) for j in range(len(inner_rmst))]
    logger.info(
        "policy selection: %s -> %s",
        {("treat_all" if k == "treat_all" else labels[k]): round(v, 2) for k, v in values.items()},
        "treat_all" if best == "treat_all" else labels[best],
    )
    n_test = len(test_rmst[0]) if test_rmst else 0
    if best == "treat_all":
        return np.full(n_test, default)
    mu = test_rmst[best]
    return np.where(np.isnan(mu), -np.inf, mu).argmax(axis=1)


def policy_tree_arms(
    x_train: np.ndarray,
    scores: np.ndarray,
    x_test: np.ndarray,
    default: int,
    seed: int = 0,
    max_depth: int = 2,
    min_leaf_fraction: float = 0.1,
) -> np.ndarray:
    """Arms for ``x_test`` from a shallow policy tree fitted to the AIPW scores (Athey & Wager 2021).

    EconML's :class:`~econml.policy.PolicyTree` maximises the doubly robust value ``sum_i scores[i, pi(x_i)]``
    over trees of depth ``max_depth`` with leaves of at least ``min_leaf_fraction`` of the patients, honestly
    (the leaf values come from the half of the data that did not choose the splits). The scores are taken
    relative to ``default``, so a leaf where no other arm has a positive mean contrast keeps ``default``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(400, 2)); s = np.column_stack([np.zeros(400), 5 * np.sign(x[:, 0])])
        >>> arms = policy_tree_arms(x, s + rng.normal(size=(400, 2)), x[:4], default=0)
        >>> bool(np.all(arms == (x[:4, 0] > 0)))
        True
    """
    from econml.policy import PolicyTree

    tree = PolicyTree(
        max_depth=max_depth,
        min_samples_leaf=max(5, int(min_leaf_fraction * len(x_train))),
        honest=True,
        random_state=seed,
    ).fit(np.asarray(x_train, dtype=float), np.asarray(scores, dtype=float) - scores[:, [default]])
    picks = tree.predict(np.asarray(x_test, dtype=float)).astype(int)
    logger.info(
        "policy tree: %d of %d test patients leave arm %d", int((picks != default).sum()), len(picks), default
    )
    return picks
