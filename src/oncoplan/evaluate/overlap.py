"""Propensity estimation for K arms and overlap (positivity) diagnostics.

Propensities come from a scikit-learn pipeline (scaling + one-hot encoding, then multinomial logistic
regression), optionally cross-fitted so that no patient's propensity comes from a model that saw them.
Diagnostics: per-arm propensity histograms split by received arm (data for mirrored histogram plots), the
share of patients whose propensity for an arm lies outside an overlap band, and a structured
:class:`OverlapWarning` when an analysis leans on poorly overlapping regions.

Example:
    >>> import numpy as np
    >>> p = np.array([[0.5, 0.5], [0.99, 0.01], [0.4, 0.6]])
    >>> rep = overlap_report(p, ["A", "B"], band=(0.05, 0.95), max_share_outside=0.10)
    >>> round(rep.share_any_outside, 3), rep.warning is not None
    (0.333, True)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from oncoplan.errors import CohortError, ConfigError, describe_rows
from oncoplan.evaluate.policy import cross_fit_predict

logger = logging.getLogger(__name__)


def propensity_pipeline(X: pd.DataFrame | np.ndarray, C: float = 1.0) -> Pipeline:
    """Unfitted pipeline: standardise numeric columns, one-hot encode categorical ones, multinomial logit.

    Example:
        >>> propensity_pipeline(np.zeros((3, 2))).steps[-1][0]
        'logit'
    """
    if isinstance(X, pd.DataFrame):
        cat = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        num = [c for c in X.columns if c not in cat]
        prep = ColumnTransformer(
            [("num", StandardScaler(), num), ("cat", OneHotEncoder(handle_unknown="ignore"), cat)],
            sparse_threshold=0.0,
        )
    else:
        prep = StandardScaler()
    return Pipeline([("prep", prep), ("logit", LogisticRegression(C=C, max_iter=2000))])


def _check_inputs(X: pd.DataFrame | np.ndarray, treatment: np.ndarray, arms: Sequence[Any] | None) -> tuple:
    treat = np.asarray(treatment, dtype=object)
    if len(treat) != len(X):
        raise CohortError(f"treatment has {len(treat)} entries but X has {len(X)} rows")
    missing = np.flatnonzero(pd.isna(pd.Series(treat)).to_numpy())
    if len(missing):
        raise CohortError(
            f"treatment is missing in {describe_rows(missing)}", hint="drop or impute those rows"
        )
    arm_list = list(arms) if arms is not None else sorted(set(treat.tolist()), key=str)
    unknown = np.flatnonzero(~np.isin(treat, np.asarray(arm_list, dtype=object)))
    if len(unknown):
        raise CohortError(f"treatment has arms outside {arm_list} in {describe_rows(unknown)}")
    values = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    if values.dtype.kind in "fiub" and np.any(pd.isna(values)):
        rows = np.flatnonzero(pd.isna(values).any(axis=1))
        raise CohortError(f"X has missing values in {describe_rows(rows)}", hint="impute before estimating")
    codes = np.array([arm_list.index(x) for x in treat])
    return arm_list, codes


def _predict_in_arm_order(model: Pipeline, X: Any, n_arms: int) -> np.ndarray:
    proba = model.predict_proba(X)
    out = np.zeros((len(proba), n_arms))
    out[:, model.classes_.astype(int)] = proba
    return out


def estimate_propensity(
    X: pd.DataFrame | np.ndarray,
    treatment: np.ndarray,
    arms: Sequence[Any] | None = None,
    *,
    cross_fit: bool = True,
    n_folds: int = 5,
    seed: int | None = 0,
    C: float = 1.0,
) -> np.ndarray:
    """Propensities ``p(arm | x)`` for every patient and arm, columns in the order of ``arms``.

    Args:
        X: covariates (DataFrame with numeric/categorical columns, or a numeric array); no missing values.
        treatment: received arm per patient.
        arms: arm order for the columns (default: sorted unique treatments).
        cross_fit: out-of-fold propensities (folds stratified on treatment); otherwise in-sample.
        n_folds, seed: cross-fitting folds and their shuffling seed.
        C: inverse L2 regularisation strength of the logistic regression.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2)); t = np.where(X[:, 0] + rng.normal(size=100) > 0, "A", "B")
        >>> p = estimate_propensity(X, t, ["A", "B"], n_folds=3)
        >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
        ((100, 2), True)
    """
    arm_list, codes = _check_inputs(X, treatment, arms)
    if len(set(codes.tolist())) < 2:
        raise CohortError("only one arm was received in this cohort; propensities are undefined")

    def rows(idx: np.ndarray) -> Any:
        return X.iloc[idx] if isinstance(X, pd.DataFrame) else np.asarray(X)[idx]

    def fit_predict(train_idx: np.ndarray, test_idx: np.ndarray) -> np.ndarray:
        model = propensity_pipeline(X, C).fit(rows(train_idx), codes[train_idx])
        return _predict_in_arm_order(model, rows(test_idx), len(arm_list))

    if cross_fit:
        return cross_fit_predict(fit_predict, len(codes), n_folds, seed, stratify=codes)
    idx = np.arange(len(codes))
    return fit_predict(idx, idx)


def outside_band(propensity: np.ndarray, band: tuple[float, float] = (0.05, 0.95)) -> np.ndarray:
    """Boolean ``(n_patients, n_arms)``: True where the propensity lies outside ``[low, high]``.

    Example:
        >>> outside_band(np.array([[0.02, 0.98]])).tolist()
        [[True, True]]
    """
    low, high = band
    if not 0 <= low < high <= 1:
        raise ConfigError(f"band must satisfy 0 <= low < high <= 1, got {band}")
    p = np.asarray(propensity, dtype=float)
    return (p < low) | (p > high)


def propensity_histograms(
    propensity: np.ndarray, treatment: np.ndarray, arms: Sequence[Any], bins: int = 20
) -> pd.DataFrame:
    """Histogram data of ``p(arm k | x)`` for patients who received arm k vs the others, for every k.

    Returns:
        tidy DataFrame: arm, group ('received' / 'not_received'), bin_left, bin_right, count, density
        (density integrates to 1 within each arm x group).

    Example:
        >>> h = propensity_histograms(np.array([[0.3, 0.7], [0.6, 0.4]]), np.array(["A", "B"]), ["A", "B"], 4)
        >>> sorted(h.group.unique().tolist()), int(h["count"].sum())
        (['not_received', 'received'], 4)
    """
    p = np.asarray(propensity, dtype=float)
    treat = np.asarray(treatment, dtype=object)
    edges = np.linspace(0.0, 1.0, bins + 1)
    frames = []
    for k, arm in enumerate(arms):
        for group, mask in (("received", treat == arm), ("not_received", treat != arm)):
            count, _ = np.histogram(p[mask, k], bins=edges)
            total = count.sum()
            density = count / (total * np.diff(edges)) if total else np.zeros(bins)
            frames.append(
                pd.DataFrame(
                    {
                        "arm": arm,
                        "group": group,
                        "bin_left": edges[:-1],
                        "bin_right": edges[1:],
                        "count": count,
                        "density": density,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class OverlapWarning:
    """A structured warning: an analysis leans on patients outside the overlap band."""

    message: str
    share_outside: float
    threshold: float
    band: tuple[float, float]
    arms: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view."""
        return {
            "message": self.message,
            "share_outside": self.share_outside,
            "threshold": self.threshold,
            "band": list(self.band),
            "arms": list(self.arms),
        }


@dataclass(frozen=True)
class OverlapReport:
    """Overlap summary: share of patients outside the band per arm and for any arm, and a warning if any."""

    band: tuple[float, float]
    share_outside_by_arm: dict[str, float]
    share_any_outside: float
    outside: np.ndarray = field(repr=False)
    warning: OverlapWarning | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view (without the per-patient mask)."""
        return {
            "band": list(self.band),
            "share_outside_by_arm": dict(self.share_outside_by_arm),
            "share_any_outside": self.share_any_outside,
            "warning": None if self.warning is None else self.warning.to_dict(),
        }


def overlap_report(
    propensity: np.ndarray,
    arms: Sequence[Any],
    band: tuple[float, float] = (0.05, 0.95),
    max_share_outside: float = 0.10,
) -> OverlapReport:
    """Summarise overlap; attach an :class:`OverlapWarning` when more than ``max_share_outside`` of patients
    have a propensity outside ``band`` for at least one arm (the warning is also logged).

    Example:
        >>> overlap_report(np.full((4, 2), 0.5), ["A", "B"]).warning is None
        True
    """
    p = np.asarray(propensity, dtype=float)
    if p.ndim != 2 or p.shape[1] != len(arms):
        raise ConfigError(f"propensity must have shape (n_patients, {len(arms)}), got {p.shape}")
    out = outside_band(p, band)
    by_arm = {str(a): float(out[:, k].mean()) for k, a in enumerate(arms)}
    share_any = float(out.any(axis=1).mean())
    warning = None
    if share_any > max_share_outside:
        bad = tuple(a for a, s in by_arm.items() if s > 0)
        warning = OverlapWarning(
            message=(
                f"{share_any:.1%} of patients have a propensity outside [{band[0]:g}, {band[1]:g}] for at "
                f"least one arm (threshold {max_share_outside:.0%}); estimates for arms {', '.join(bad)} "
                "rest on few comparable patients and lean on model extrapolation"
            ),
            share_outside=share_any,
            threshold=max_share_outside,
            band=tuple(band),
            arms=bad,
        )
        logger.warning("poor overlap: %s", warning.message)
    return OverlapReport(tuple(band), by_arm, share_any, out, warning)
