"""Evaluate a trained survival bundle on a cohort: C-index with bootstrap CI, IBS, survival at horizons.

Metrics come from scikit-survival; the interval from :func:`oncoplan.evaluate.bootstrap.bootstrap`.

Example:
    >>> result = evaluate_survival_bundle(bundle, test_cohort, train_cohort)  # doctest: +SKIP
    >>> print(result["c_index"])  # doctest: +SKIP
    C-index 0.652 (95% CI 0.601-0.700, bootstrap n=1000)
"""

from __future__ import annotations

from oncoplan.data.cohort import Cohort
from oncoplan.evaluate.bootstrap import BootstrapResult, bootstrap
from oncoplan.evaluate.survival import evaluation_times, harrell_c, integrated_brier_score
from oncoplan.store.bundle import ModelBundle


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
        harrell_c,
        cohort.event,
        cohort.time,
        risk,
        n_boot=n_boot,
        seed=seed,
        level=level,
        stratify=cohort.event,
        name="C-index",
    )
    times = evaluation_times(
        reference.time, cohort.time, cohort.event, n=50, lower_quantile=0.05, upper_quantile=0.95
    )
    surv = bundle.predict_survival(frame, times)
    ibs = integrated_brier_score(reference.event, reference.time, cohort.event, cohort.time, surv, times)
    return {"c_index": c_index, "ibs": ibs}
