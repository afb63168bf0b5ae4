"""Stabilised inverse-propensity weights of the received arm (CFR re-weighting, anchoring of the arm curves).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> codes = (rng.random(400) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(int)
    >>> w = stabilised_propensity_weights(X, codes)
    >>> round(float(w.mean()), 6)
    1.0
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

logger = logging.getLogger(__name__)


def stabilised_propensity_weights(
    X: np.ndarray, codes: np.ndarray, clip: float = 10.0, seed: int = 0
) -> np.ndarray | None:
    """``P(A=a) / e_a(x)`` of each patient's received arm, clipped to ``[1/clip, clip]``, mean 1.

    ``e`` is a 5-fold cross-fitted multinomial logistic regression (scikit-learn) on standardised ``X``.
    Returns None when its out-of-fold log-loss is no better than the arm frequencies alone (no detectable
    confounding, as in a randomised trial) or an arm has fewer than 2 patients.
    """
    k = int(codes.max()) + 1
    n_folds = int(min(5, np.bincount(codes, minlength=k).min()))
    if n_folds < 2:
        return None
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    prop = cross_val_predict(clf, X, codes, cv=cv, method="predict_proba")
    prop, predictive = frequencies_unless_predictive(prop, codes)
    if not predictive:
        return None
    marginal = np.bincount(codes, minlength=k) / len(codes)
    received = np.clip(prop[np.arange(len(codes)), codes], 1e-6, 1.0)
    weights = np.clip(marginal[codes] / received, 1.0 / clip, clip)
    return weights / weights.mean()


def frequencies_unless_predictive(prop: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(propensities, predictive)``: out-of-fold ``prop`` ``(n, n_arms)`` where they predict the received
    arm (``codes``) better than the arm frequencies do (log-loss), else the frequencies for everyone.

    In a randomised trial the covariates carry no information on the arm, and fitted propensities only add
    noise (with many covariates and few patients they overfit); the frequencies are then the design's
    propensities.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
        >>> frequencies_unless_predictive(p, np.array([1, 0, 1, 0]))[1]
        False
    """
    k = prop.shape[1]
    marginal = np.bincount(codes, minlength=k) / len(codes)
    received = np.clip(prop[np.arange(len(codes)), codes], 1e-6, 1.0)
    fitted_loss, marginal_loss = -np.log(received).mean(), -np.log(marginal[codes]).mean()
    if fitted_loss >= marginal_loss:  # the covariates do not predict the arm (e.g. a randomised trial)
        logger.info(
            "no detectable confounding (log-loss %.4f >= %.4f): arm frequencies", fitted_loss, marginal_loss
        )
        return np.tile(marginal, (len(codes), 1)), False
    return prop, True
