"""Cross-fitting: every patient is scored by a model trained on folds that did not contain them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from oncoplan.errors import CohortError, ConfigError, ModelError


def cross_fit_folds(
    n_samples: int, n_folds: int = 5, seed: int | None = 0, stratify: np.ndarray | None = None
) -> np.ndarray:
    """Fold id (``0..n_folds-1``) per patient; shuffled, stratified on ``stratify`` when given.

    Example:
        >>> np.bincount(cross_fit_folds(10, n_folds=5, seed=0)).tolist()
        [2, 2, 2, 2, 2]
    """
    if n_folds < 2 or n_folds > n_samples:
        raise ConfigError(f"n_folds must be in [2, n_samples={n_samples}], got {n_folds}")
    folds = np.empty(n_samples, dtype=int)
    dummy = np.zeros(n_samples)
    if stratify is None:
        splits = KFold(n_folds, shuffle=True, random_state=seed).split(dummy)
    else:
        strat = np.asarray(stratify)
        if strat.shape != (n_samples,):
            raise ConfigError(f"stratify must have shape ({n_samples},), got {strat.shape}")
        levels, counts = np.unique(strat, return_counts=True)
        if counts.min() < n_folds:
            raise CohortError(
                f"stratum {levels[counts.argmin()]!r} has {counts.min()} patients, "
                f"fewer than n_folds={n_folds}",
                hint="use fewer folds or merge small strata",
            )
        splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(dummy, strat)
    for k, (_, test_idx) in enumerate(splits):
        folds[test_idx] = k
    return folds


def cross_fit_predict(
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_samples: int,
    n_folds: int = 5,
    seed: int | None = 0,
    stratify: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold predictions: every patient is scored by a model fitted on the other folds only.

    Args:
        fit_predict: ``fit_predict(train_idx, test_idx)`` fits on ``train_idx`` and returns predictions for
            ``test_idx`` (first axis of length ``len(test_idx)``, any trailing shape).
        n_samples: number of patients.
        n_folds, seed, stratify: see :func:`cross_fit_folds`.

    Returns:
        array ``(n_samples, ...)`` of out-of-fold predictions in patient order.

    Example:
        >>> out = cross_fit_predict(lambda tr, te: np.full(len(te), len(tr)), 10, n_folds=5)
        >>> out.tolist() == [8] * 10
        True
    """
    folds = cross_fit_folds(n_samples, n_folds, seed, stratify)
    out: np.ndarray | None = None
    filled = np.zeros(n_samples, dtype=bool)
    for k in range(n_folds):
        test_idx = np.flatnonzero(folds == k)
        train_idx = np.flatnonzero(folds != k)
        pred = np.asarray(fit_predict(train_idx.copy(), test_idx.copy()))
        if pred.ndim == 0 or pred.shape[0] != len(test_idx):
            raise ModelError(
                f"fit_predict returned {pred.shape} for fold {k} with {len(test_idx)} test patients",
                hint="return one prediction row per test index, in the order of test_idx",
            )
        if out is None:
            out = np.empty((n_samples,) + pred.shape[1:], dtype=pred.dtype)
        out[test_idx] = pred
        filled[test_idx] = True
    if out is None or not filled.all():  # pragma: no cover - guaranteed by the fold construction
        raise ModelError("cross-fitting left patients without an out-of-fold prediction")
    return out
