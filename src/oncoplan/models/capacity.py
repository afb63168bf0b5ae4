"""Regularised or free? A held-out check that decides how much capacity the deep ensemble gets.

The deep ensemble alternates members with plain inputs and members with a piecewise-linear encoding of the
inputs. Plain members are regularised (dropout, weight decay, early stopping with patience 20), which keeps
them close to the linear model on the small, noisy cohorts oncology has; encoded members train free
(:func:`flexible_settings`). Some cohorts carry structure only the free members reach (sharp interactions,
many near-identical patients); there the free members predict held-out patients far better. With
``capacity="auto"`` the first plain (regularised) member and the first encoded (free) member of
:class:`~oncoplan.models.survival.DeepSurvival` are early-stopped on one shared validation split, and on
those rows their per-patient integrated Brier scores are compared (a paired one-sided z-test, two standard
errors; the per-patient IPCW Brier score is written here because scikit-survival only returns its mean).
When the free member wins, the other regularised members are retrained free; otherwise the ensemble stays
mixed. The pair are ordinary ensemble members, so the check costs no extra training when it does not fire.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> regular, flexible = rng.normal(1.0, 0.1, 200), rng.normal(0.7, 0.1, 200)
    >>> paired_loss_test(regular, flexible).prefer_flexible
    True
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch

logger = logging.getLogger(__name__)


def flexible_settings(patience: int, max_epochs: int, validation_fraction: float) -> dict[str, object]:
    """Overrides of the estimator's settings in the flexible configuration: no dropout, no weight decay,
    2.5x the patience and 2x the epochs; the ensemble then trains on more of its rows (half the validation
    share), since the check has already used its own validation split.

    Example:
        >>> flexible_settings(20, 200, 0.2)
        {'dropout': 0.0, 'weight_decay': 0.0, 'patience': 50, 'max_epochs': 400, 'validation_fraction': 0.1}
    """
    return {
        "dropout": 0.0,
        "weight_decay": 0.0,
        "patience": int(round(2.5 * patience)),
        "max_epochs": int(2 * max_epochs),
        "validation_fraction": validation_fraction / 2,
    }


#: values of ``DeepSurvival(capacity=...)``
CAPACITIES = ("auto", "mixed", "regularised", "flexible")


@dataclass(frozen=True)
class CapacityCheck:
    """Outcome of :func:`paired_loss_test`: mean and standard error of the per-patient loss difference
    (regularised minus flexible, e.g. integrated Brier scores; positive favours flexible), the z statistic
    and the decision."""

    n_patients: int
    mean_gain: float
    standard_error: float
    z: float
    prefer_flexible: bool

    def as_dict(self) -> dict:
        """JSON-ready copy (stored with a fitted model)."""
        return asdict(self)


def paired_loss_test(
    regular_loss: np.ndarray, flexible_loss: np.ndarray, z_threshold: float = 2.0
) -> CapacityCheck:
    """Paired one-sided z-test on per-patient held-out losses of the two configurations.

    Args:
        regular_loss, flexible_loss: loss of each held-out patient under each configuration (same rows).
        z_threshold: the flexible configuration wins only when its mean gain exceeds this many standard
            errors.

    Example:
        >>> paired_loss_test(np.array([1.0, 1.1, 0.9]), np.array([1.0, 1.1, 0.9])).prefer_flexible
        False
    """
    diff = np.asarray(regular_loss, dtype=float) - np.asarray(flexible_loss, dtype=float)
    n = len(diff)
    mean = float(diff.mean()) if n else 0.0
    se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    z = mean / se if se > 0 else (float("inf") if mean > 0 else 0.0)
    return CapacityCheck(n, mean, se, float(z), bool(n > 1 and z > z_threshold))


def evaluation_grid(train_time: np.ndarray, train_event: np.ndarray, val_time: np.ndarray, n: int = 20):
    """Times for the held-out Brier score: quantiles 10-90% of the training event times, kept below the
    last held-out time.

    Example:
        >>> evaluation_grid(np.arange(1.0, 101.0), np.ones(100, bool), np.array([50.0]), n=3)
        array([10.9])
    """
    grid = np.unique(np.quantile(train_time[train_event], np.linspace(0.1, 0.9, n)))
    return grid[grid < np.max(val_time)]


def per_patient_brier(
    survival_prob: np.ndarray,
    times: np.ndarray,
    val_time: np.ndarray,
    val_event: np.ndarray,
    train_time: np.ndarray,
    train_event: np.ndarray,
) -> np.ndarray:
    """Each held-out patient's integrated Brier score with inverse-probability-of-censoring weights
    (Graf et al. 1999; the mean over patients is scikit-survival's ``integrated_brier_score``, which only
    returns the mean, hence this per-patient form; censoring distribution from scikit-survival).

    Args:
        survival_prob: (n_val, len(times)) predicted S(t) of the held-out patients.
        times: evaluation times (:func:`evaluation_grid`), inside the training follow-up.
        val_time, val_event: held-out outcomes.
        train_time, train_event: the rows the censoring curve is fitted on.

    Example:
        >>> t, e = np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, True, False, True])
        >>> s = np.full((2, 2), 0.5)
        >>> per_patient_brier(s, np.array([1.5, 2.5]), t[:2], e[:2], t, e).round(2).tolist()
        [0.25, 0.25]
    """
    from sksurv.nonparametric import CensoringDistributionEstimator
    from sksurv.util import Surv

    censoring = CensoringDistributionEstimator().fit(Surv.from_arrays(train_event, train_time))
    g_own = np.clip(censoring.predict_proba(np.minimum(val_time, train_time.max())), 1e-8, None)
    g_grid = np.clip(censoring.predict_proba(times), 1e-8, None)
    had_event = (val_time[:, None] <= times[None, :]) & val_event[:, None]
    still_at_risk = val_time[:, None] > times[None, :]
    scores = np.where(had_event, survival_prob**2 / g_own[:, None], 0.0)
    scores = scores + np.where(still_at_risk, (1.0 - survival_prob) ** 2 / g_grid[None, :], 0.0)
    if len(times) < 2:
        return scores[:, 0] if len(times) else np.zeros(len(val_time))
    return np.trapezoid(scores, times, axis=1) / (times[-1] - times[0])


class CapacityChoice:
    """Mixin of :class:`~oncoplan.models.survival.DeepSurvival`: per-member settings under ``capacity_`` and
    the held-out check of ``capacity="auto"``."""

    def _member_overrides(self, member: int) -> dict[str, object]:
        """Setting overrides of one member under ``capacity_`` (free members: encoded inputs)."""
        free = self.capacity_ == "flexible" or (
            self.capacity_ in ("mixed", "auto") and self.embeddings_[member] == "ple"
        )
        if not free:
            return {}
        overrides = flexible_settings(self.patience, self.max_epochs, self.validation_fraction)
        if self.capacity_ == "auto" and member in self.check_pair_:  # the pair shares one validation split
            overrides.pop("validation_fraction")
        return overrides

    def _check_capacity(self, members: list[tuple], x, time, event) -> CapacityCheck | None:
        """``capacity="auto"``: the pair's free member against its regularised member on their shared
        validation rows (per-patient integrated Brier scores, paired z; positive favours the free one)."""
        regular, free = self.check_pair_
        val_rows = members[regular][3]
        if len(val_rows) < 2:
            return None
        train_rows = np.setdiff1d(np.arange(len(time)), val_rows)
        grid = evaluation_grid(time[train_rows], event[train_rows], time[val_rows])
        args = (grid, time[val_rows], event[val_rows], time[train_rows], event[train_rows])
        losses = []
        for member in (regular, free):
            net, adapter = members[member][:2]
            with torch.no_grad():
                out = net(self._member_x(x, member)[val_rows]).numpy().astype(np.float64)
            losses.append(per_patient_brier(adapter.survival(out, grid), *args))
        check = paired_loss_test(*losses)
        logger.info("capacity check on %d held-out patients: z = %.2f", check.n_patients, check.z)
        return check
