"""Restricted mean survival time (RMST) from survival curves, and its spread over ensemble members.

Survival curves are right-continuous step functions given on a time grid: for a grid ``times`` and
values ``survival_prob[:, j]``, ``S(t) = survival_prob[:, j]`` for ``times[j] <= t < times[j + 1]`` and
``S(t) = 1`` for ``t < times[0]``. The RMST up to ``tau`` is the exact integral of that step function,
``RMST(tau) = integral_0^tau S(t) dt``; for a Kaplan-Meier curve on its own timeline it equals
``lifelines.utils.restricted_mean_survival_time(kmf, t=tau)``.

The step integral is a few lines of numpy; it is written here (rather than calling lifelines, which only
takes one fitted univariate model at a time) so that it is vectorised over patients, arms and members.

Example:
    >>> import numpy as np
    >>> times = np.array([1.0, 2.0, 3.0])
    >>> surv = np.array([[0.9, 0.5, 0.2]])
    >>> rmst_from_curves(surv, times, tau=2.5).round(3).tolist()  # 1 + 0.9 + 0.5 * 0.5
    [2.15]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncoplan.errors import ConfigError

logger = logging.getLogger(__name__)


def _check_grid(times: np.ndarray) -> np.ndarray:
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or len(times) == 0:
        raise ConfigError(f"times must be a non-empty 1-d grid, got shape {times.shape}")
    if np.any(~np.isfinite(times)) or np.any(times < 0):
        raise ConfigError("times must be finite and >= 0", hint="pass the model's evaluation grid")
    if np.any(np.diff(times) <= 0):
        raise ConfigError("times must be strictly increasing", hint="sort the grid and drop duplicates")
    return times


def _check_curves(survival_prob: np.ndarray, times: np.ndarray) -> np.ndarray:
    surv = np.asarray(survival_prob, dtype=float)
    if surv.shape[-1] != len(times):
        raise ConfigError(
            f"survival_prob has {surv.shape[-1]} time points on its last axis but times has {len(times)}",
            hint="survival_prob[..., j] must be the survival probability at times[j]",
        )
    if np.any(~np.isfinite(surv)) or np.any(surv < -1e-12) or np.any(surv > 1 + 1e-12):
        raise ConfigError("survival_prob must hold finite probabilities in [0, 1]")
    return surv


def rmst_from_curves(
    survival_prob: np.ndarray,
    times: np.ndarray,
    tau: float,
    *,
    extrapolate: bool = False,
) -> np.ndarray:
    """Exact RMST up to ``tau`` of step survival curves.

    Args:
        survival_prob: array ``(..., n_times)`` (e.g. patients x times, or members x patients x arms x times).
        times: strictly increasing grid ``(n_times,)``; ``S(t) = 1`` before ``times[0]``.
        tau: horizon of the restriction, in the unit of ``times``.
        extrapolate: if ``tau > times[-1]``, hold the last value (what lifelines does for a Kaplan-Meier
            curve). Off by default because for model predictions it is an extrapolation.

    Returns:
        array of shape ``survival_prob.shape[:-1]``.

    Example:
        >>> rmst_from_curves(np.array([[1.0, 0.5]]), np.array([0.0, 1.0]), tau=3.0, extrapolate=True).tolist()
        [2.0]
    """
    times = _check_grid(times)
    surv = _check_curves(survival_prob, times)
    tau = float(tau)
    if not tau > 0:
        raise ConfigError(f"tau must be > 0, got {tau}")
    if tau > times[-1] and not extrapolate:
        raise ConfigError(
            f"tau={tau} lies beyond the last grid time {times[-1]}",
            hint="choose tau within the follow-up of the grid, or pass extrapolate=True",
        )
    if times[0] > 0:
        knots = np.concatenate([[0.0], times])
        values = np.concatenate([np.ones(surv.shape[:-1] + (1,)), surv], axis=-1)
    else:
        knots, values = times, surv
    edges = np.minimum(np.append(knots, np.inf), tau)
    widths = np.diff(edges)
    return values @ widths


def survival_at(survival_prob: np.ndarray, times: np.ndarray, t: float) -> np.ndarray:
    """Survival probability at time ``t`` read off step curves (``1`` before the first grid time).

    Example:
        >>> survival_at(np.array([[0.9, 0.5]]), np.array([1.0, 2.0]), 1.5).tolist()
        [0.9]
    """
    times = _check_grid(times)
    surv = _check_curves(survival_prob, times)
    idx = int(np.searchsorted(times, float(t), side="right")) - 1
    if idx < 0:
        return np.ones(surv.shape[:-1])
    return surv[..., idx]


def _interval(samples: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < level < 1:
        raise ConfigError(f"interval level must be in (0, 1), got {level}")
    alpha = 1.0 - level
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2], axis=axis)
    return low, high


@dataclass(frozen=True)
class EnsembleRMST:
    """Per-member RMST for patients x arms, with mean and quantile interval over members.

    ``samples`` has shape ``(n_members, n_patients, n_arms)``; ``low``/``high`` are the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles over members (a spread of the ensemble, not a
    calibrated confidence interval).
    """

    samples: np.ndarray
    arm_names: tuple[str, ...]
    tau: float
    level: float = 0.9

    @property
    def mean(self) -> np.ndarray:
        """Mean RMST over members, ``(n_patients, n_arms)``."""
        return self.samples.mean(axis=0)

    @property
    def low(self) -> np.ndarray:
        """Lower quantile over members, ``(n_patients, n_arms)``."""
        return _interval(self.samples, self.level)[0]

    @property
    def high(self) -> np.ndarray:
        """Upper quantile over members, ``(n_patients, n_arms)``."""
        return _interval(self.samples, self.level)[1]

    def _arm_index(self, arm: str | int) -> int:
        if isinstance(arm, (int, np.integer)):
            return int(arm)
        if arm not in self.arm_names:
            raise ConfigError(f"unknown arm {arm!r}", hint=f"arms are {', '.join(self.arm_names)}")
        return self.arm_names.index(arm)

    def difference(self, arm_a: str | int, arm_b: str | int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RMST(arm_a) - RMST(arm_b) per patient: (mean, low, high) over members, each ``(n_patients,)``."""
        diff = self.samples[:, :, self._arm_index(arm_a)] - self.samples[:, :, self._arm_index(arm_b)]
        low, high = _interval(diff, self.level)
        return diff.mean(axis=0), low, high

    def pairwise(self) -> pd.DataFrame:
        """Tidy table of every ordered arm pair: patient, arm_a, arm_b, diff_mean, diff_low, diff_high."""
        rows = []
        for a, name_a in enumerate(self.arm_names):
            for b, name_b in enumerate(self.arm_names):
                if a == b:
                    continue
                mean, low, high = self.difference(a, b)
                rows.append(
                    pd.DataFrame(
                        {
                            "patient": np.arange(len(mean)),
                            "arm_a": name_a,
                            "arm_b": name_b,
                            "diff_mean": mean,
                            "diff_low": low,
                            "diff_high": high,
                        }
                    )
                )
        return pd.concat(rows, ignore_index=True)


def rmst_ensemble(
    survival_samples: np.ndarray,
    times: np.ndarray,
    tau: float,
    *,
    arm_names: Sequence[str] | None = None,
    level: float = 0.9,
) -> EnsembleRMST:
    """RMST for every member, patient and arm of a deep ensemble's survival curves.

    Args:
        survival_samples: ``(n_members, n_patients, n_arms, n_times)`` survival probabilities.
        times: grid ``(n_times,)``.
        tau: RMST horizon (must lie within the grid).
        arm_names: names of the arms (default ``arm0, arm1, ...``).
        level: level of the member-quantile interval.

    Example:
        >>> s = np.ones((3, 2, 2, 4)) * np.array([1.0, 0.8, 0.6, 0.4])
        >>> ens = rmst_ensemble(s, np.arange(4.0), tau=3.0, arm_names=["A", "B"])
        >>> ens.mean.shape, round(float(ens.mean[0, 0]), 6)
        ((2, 2), 2.4)
    """
    samples = np.asarray(survival_samples, dtype=float)
    if samples.ndim != 4:
        raise ConfigError(
            f"survival_samples must have shape (n_members, n_patients, n_arms, n_times), got {samples.shape}"
        )
    n_arms = samples.shape[2]
    names = tuple(arm_names) if arm_names is not None else tuple(f"arm{k}" for k in range(n_arms))
    if len(names) != n_arms:
        raise ConfigError(f"{len(names)} arm_names given for {n_arms} arms in survival_samples")
    if not 0 < level < 1:
        raise ConfigError(f"interval level must be in (0, 1), got {level}")
    rmst = rmst_from_curves(samples, times, tau)
    return EnsembleRMST(samples=rmst, arm_names=names, tau=float(tau), level=level)
