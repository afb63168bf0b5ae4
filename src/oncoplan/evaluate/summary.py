"""Evaluate a trained survival bundle on a cohort: C-index with bootstrap CI, IBS, survival at horizons.

Metrics come from scikit-survival; the interval from :func:`oncoplan.evaluate.bootstrap.bootstrap`.

Example:
    >>> result = evaluate_survival_bundle(bundle, test_cohort, train_cohort)  # doctest: +SKIP
    >>> print(result["c_index"])  # doctest: +SKIP
    C-index 0.652 (95% CI 0.601-0.700, bootstrap n=1000)
"""

from __future__ import annotations

import numpy as np
from sksurv.metrics import concordance_index_censored, integrated_brier_score
from sksurv.util import Surv

from oncoplan.data.cohort import Cohort
from oncoplan.evaluate.bootstrap import BootstrapResult, bootstrap
from oncoplan.store.bundle import ModelBundle


def harrell_c_index(event: np.ndarray, time: np.ndarray, risk_score: np.ndarray) -> float:
    """Harrell's concordance index (scikit-survival)."""
    return float(concordance_index_censored(event.astype(bool), time.astype(float), risk_score)[0])


def ibs_time_grid(
    train_time: np.ndarray, test_time: np.ndarray, test_event: np.ndarray, n_times: int = 50
) -> np.ndarray:
    """Evaluation grid for the integrated Brier score: inside the test follow-up and the training range."""
    low = max(np.percentile(test_time[test_event], 5), train_time.min())
    high = min(np.percentile(test_time[test_event], 95), test_time.max() * 0.999, train_time.max() * 0.999)
    if high <= low:
        high = test_time.max() * 0.99
    return np.unique(np.linspace(low, high, n_times))


def evaluate_survival_bundle(
    bundle: ModelBundle,
    cohort: Cohort,
    reference: Cohort,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, BootstrapResult | float]:
    """C-index (Harrell, bootstrap CI stratified on event) and IBS of ``bundle`` on ``cohort``.

    ``reference`` is the training cohort (its censoring distribution weights the Brier score).
    """
    frame = bundle.frame_from_cohort(cohort)
    risk = bundle.predict_risk(frame)
    c_index = bootstrap(
        harrell_c_index,
        cohort.event,
        cohort.time,
        risk,
        n_boot=n_boot,
        seed=seed,
        level=level,
        stratify=cohort.event,
        name="C-index",
    )
    times = ibs_time_grid(reference.time, cohort.time, cohort.event)
    surv = bundle.predict_survival(frame, times)
    ibs = integrated_brier_score(
        Surv.from_arrays(reference.event, reference.time),
        Surv.from_arrays(cohort.event, cohort.time),
        surv,
        times,
    )
    return {"c_index": c_index, "ibs": float(ibs)}
