"""Turn survival data into a binary target at a horizon h, so binary metrics apply to survival cohorts.

``y = 1`` means *the event happened by h* (``time <= h`` and ``event``), the class a risk score predicts;
``y = 0`` means *event-free at h* (``time > h``). Patients censored at or before h have an unknown status.
Two ways to handle them:

* ``censoring="exclude"``: drop them (``mask`` False, weight 0). Simple but biased when censoring is
  heavy, because patients who are followed longer are kept preferentially.
* ``censoring="ipcw"``: keep everyone known, weighted by the inverse probability of remaining uncensored:
  cases ``1 / G(T_i)``, event-free ``1 / G(h)``, unknown 0, where G is the Kaplan-Meier estimate of the
  censoring distribution on the given cohort (or on a training cohort). G comes from scikit-survival's
  ``CensoringDistributionEstimator`` (events precede censorings at tied times), the same estimator its
  ``brier_score`` and ``cumulative_dynamic_auc`` use, so a weighted Brier score / AUC at h reproduces those
  exactly. Without ties it equals lifelines' ``KaplanMeierFitter`` fitted on ``(time, 1 - event)``.

Example:
    >>> import numpy as np
    >>> lab = horizon_labels([1, 0, 1, 0], [2.0, 3.0, 8.0, 9.0], horizon=5.0)
    >>> lab.y, lab.mask
    (array([1, 0, 0, 0]), array([ True, False,  True,  True]))
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import Surv

from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.survival import check_event_time

logger = logging.getLogger(__name__)

CENSORING = ("exclude", "ipcw")


@dataclass(frozen=True)
class HorizonLabels:
    """Binary labels at a horizon with the patients/weights to use.

    Attributes:
        y: 1 = event by the horizon, 0 = event-free at the horizon (0 also for unknown; see ``mask``).
        mask: True where the status at the horizon is known.
        weight: 1/0 (``exclude``) or IPC weights (``ipcw``); 0 where unknown.
        horizon: the horizon h.
        censoring: ``"exclude"`` or ``"ipcw"``.
    """

    y: np.ndarray
    mask: np.ndarray
    weight: np.ndarray
    horizon: float
    censoring: str

    @property
    def event_free(self) -> np.ndarray:
        """1 = event-free at the horizon (the complement of ``y`` on known patients)."""
        return np.where(self.mask, 1 - self.y, 0)

    @property
    def n_unknown(self) -> int:
        """Patients censored at or before the horizon."""
        return int((~self.mask).sum())

    def select(self, score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(y, score, weight)`` restricted to known patients, ready for binary metrics.

        Example:
            >>> lab = horizon_labels([1, 0, 0], [1.0, 2.0, 9.0], horizon=5.0)
            >>> lab.select([0.9, 0.5, 0.1])[1]
            array([0.9, 0.1])
        """
        s = np.asarray(score, dtype=float)
        if len(s) != len(self.y):
            raise CohortError(f"score has {len(s)} rows but the labels have {len(self.y)}")
        return self.y[self.mask], s[self.mask], self.weight[self.mask]


def horizon_labels(
    event: Any,
    time: Any,
    horizon: float,
    censoring: str = "exclude",
    train_event: Any = None,
    train_time: Any = None,
) -> HorizonLabels:
    """Binary "event by horizon" labels from survival data (see the module docstring for the conventions).

    Args:
        event, time: the cohort to label.
        horizon: h, in the units of ``time``.
        censoring: ``"exclude"`` or ``"ipcw"``.
        train_event, train_time: optional cohort to estimate the censoring distribution on
            (default: this one).

    Example:
        >>> lab = horizon_labels([1, 0, 1, 0], [2.0, 3.0, 8.0, 9.0], horizon=5.0, censoring="ipcw")
        >>> lab.weight.round(3)
        array([1. , 0. , 1.5, 1.5])
    """
    if censoring not in CENSORING:
        raise ConfigError(
            f"unknown censoring handling {censoring!r}", hint=f"use one of {', '.join(CENSORING)}"
        )
    ev, t = check_event_time(event, time)
    h = float(horizon)
    if not np.isfinite(h) or h <= 0:
        raise ConfigError(f"horizon must be a positive number, got {horizon}")
    case = ev & (t <= h)
    control = t > h
    known = case | control
    if not known.any():
        raise CohortError(
            f"every patient is censored before the horizon {h:g}", hint="choose an earlier horizon"
        )
    y = case.astype(int)
    if censoring == "exclude":
        weight = known.astype(float)
    else:
        if train_event is None:
            cens_ev, cens_t = ev, t
        else:
            cens_ev, cens_t = check_event_time(train_event, train_time, "train")
        est = CensoringDistributionEstimator().fit(Surv.from_arrays(cens_ev, cens_t))
        g_own = est.predict_proba(t)
        g_h = float(est.predict_proba(np.array([h]))[0])
        if g_h <= 0 or np.any(g_own[case] <= 0):
            raise CohortError(
                f"the censoring survival is 0 before the horizon {h:g}; IPC weights are undefined",
                hint="choose an earlier horizon or censoring='exclude'",
            )
        weight = np.zeros(len(t))
        weight[case] = 1.0 / g_own[case]
        weight[control] = 1.0 / g_h
    logger.debug(
        "horizon %g: %d cases, %d event-free, %d unknown", h, case.sum(), control.sum(), (~known).sum()
    )
    return HorizonLabels(y=y, mask=known, weight=weight, horizon=h, censoring=censoring)
