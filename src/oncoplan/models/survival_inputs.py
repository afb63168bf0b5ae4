"""Input preparation of :class:`~oncoplan.models.survival.DeepSurvival`: screening of high-dimensional
inputs (shared or per ensemble member), standardisation and the quantile bin edges of the piecewise-linear
encoding, all fitted on training rows only.

Per-member screening (``screening="member"``, the default) scores the columns on each member's own
training rows (its inner split without the early-stopping rows), so that (a) the validation rows that
decide early stopping played no part in choosing the genes, and (b) the members see different gene sets,
which makes the ensemble a random-subspace ensemble over the unstable univariate ranking.

Example:
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> from oncoplan.models.survival import DeepSurvival
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 200)), Surv.from_arrays(rng.random(60) < 0.7, rng.exponential(5, 60))
    >>> model = DeepSurvival(n_ensemble=2, max_epochs=3, random_state=0).fit(X, y)
    >>> [len(c) for c in model.member_columns_], len(model.support_) >= 20
    ([20, 20, 20, 20], True)
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from sklearn.base import clone

from oncoplan.errors import ConfigError
from oncoplan.models.encoders.numeric import quantile_bin_edges
from oncoplan.models.feature_selection import auto_n_features, select_by_inner_cv, univariate_cox_scores

logger = logging.getLogger(__name__)

SCREENING_MODES = ("member", "shared")


def top_columns(X: np.ndarray, time: np.ndarray, event: np.ndarray, k: int) -> np.ndarray:
    """Sorted indices of the ``k`` columns with the largest absolute univariate Cox score.

    Example:
        >>> X = np.column_stack([np.arange(5.0), np.zeros(5)])
        >>> top_columns(X, np.arange(5.0, 0, -1), np.ones(5, bool), 1).tolist()
        [0]
    """
    scores = univariate_cox_scores(X, time, event)
    return np.sort(np.argsort(-np.abs(scores), kind="stable")[: int(k)])


class SurvivalInputs:
    """Mixin: fits and applies the input transformation of a ``DeepSurvival`` estimator."""

    def _select_high_dim(self, X: np.ndarray, y: np.ndarray) -> dict:
        """``max_features="cv"``: inner 3-fold CV over screening sizes and heads (high-dimensional X only)."""
        k0 = auto_n_features(*X.shape)
        if k0 is None:
            return {"max_features": None, "head": self.head}
        sizes = sorted({min(k * k0, X.shape[1]) for k in (1, 2, 4)})
        parts = [h.strip() for h in str(self.head).split("+") if h.strip()]
        heads = list(dict.fromkeys([str(self.head), *parts]))
        candidates = [{"max_features": k, "head": h} for h in heads for k in sizes]
        search = {"n_ensemble": min(2, int(self.n_ensemble)), "max_features": None, "head": self.head}

        def make(settings: dict):
            return clone(self).set_params(**{**search, **settings})

        best, scores = select_by_inner_cv(make, candidates, X, y, n_splits=3, seed=int(self.random_state))
        self.selection_scores_ = list(zip(candidates, scores, strict=True))
        logger.info("high-dimensional inputs: inner CV chose %s", best)
        return best

    @staticmethod
    def _screens(shape: tuple[int, int], k: int | str | None) -> bool:
        """Whether ``max_features=k`` screens an (n, d) input."""
        if k == "auto":
            return auto_n_features(*shape) is not None
        return isinstance(k, int | np.integer) and 0 < int(k) < shape[1]

    def _screen(self, X: np.ndarray, time: np.ndarray, event: np.ndarray, k: int) -> None:
        """Set ``support_`` (columns kept by any member) and ``member_columns_`` (per member, positions
        within ``support_``; None when every member sees all of ``support_``)."""
        if self.screening not in SCREENING_MODES:
            raise ConfigError(f"screening must be one of {SCREENING_MODES}, got {self.screening!r}")
        if self.screening == "shared":
            self.support_ = top_columns(X, time, event, k)
            self.member_columns_ = None
        else:
            seeds = [int(self.random_state) + 1000 * m for m in range(self.n_members_)]
            chosen = []
            for seed in seeds:
                rows = self._inner_split(event, seed)[0]
                chosen.append(top_columns(X[rows], time[rows], event[rows], k))
            self.support_ = np.unique(np.concatenate(chosen))
            self.member_columns_ = [np.searchsorted(self.support_, c) for c in chosen]
        logger.info("screened %d of %d input columns per member (univariate Cox)", int(k), X.shape[1])

    def _fit_inputs(self, X: np.ndarray, time: np.ndarray, event: np.ndarray, k: int | str | None) -> None:
        """Screening to ``k`` columns and standardisation, fitted on the training rows."""
        if k == "auto":
            k = auto_n_features(*X.shape)
        elif k is not None and (isinstance(k, str) or int(k) < 1):
            raise ConfigError(f"max_features must be a positive integer, 'auto', 'cv' or None, got {k!r}")
        self.support_, self.member_columns_ = None, None
        if k is not None and int(k) < X.shape[1]:
            self._screen(X, time, event, int(k))
        kept = X if self.support_ is None else X[:, self.support_]
        self.n_inputs_ = kept.shape[1] if self.member_columns_ is None else len(self.member_columns_[0])
        self.input_mean_ = kept.mean(axis=0) if self.standardize else np.zeros(kept.shape[1])
        scale = kept.std(axis=0) if self.standardize else np.ones(kept.shape[1])
        self.input_scale_ = np.where(scale > 1e-12, scale, 1.0)
        self.bin_edges_ = None
        if self.support_ is not None and "ple" in self.embeddings_:
            # screened high-dimensional inputs already outnumber the patients; n_bins times more MLP inputs
            # would only add variance, so every member sees the standardised inputs
            logger.info("high-dimensional inputs: no piecewise-linear encoding")
            self.embeddings_ = ["none"] * len(self.embeddings_)
        if "ple" in self.embeddings_ or (self.support_ is None and self.capacity != "regularised"):
            self.bin_edges_ = quantile_bin_edges((kept - self.input_mean_) / self.input_scale_, self.n_bins)

    def _inputs(self, X: np.ndarray) -> torch.Tensor:
        """Standardised kept columns (every member's columns) as a float32 tensor."""
        kept = X if self.support_ is None else X[:, self.support_]
        return torch.as_tensor((kept - self.input_mean_) / self.input_scale_, dtype=torch.float32)

    def _member_x(self, x: torch.Tensor, member: int) -> torch.Tensor:
        """The columns of :meth:`_inputs` that member ``member`` sees."""
        columns = getattr(self, "member_columns_", None)
        if columns is None:
            return x
        return x[:, torch.as_tensor(np.asarray(columns[member], dtype=np.int64))]
