"""The report's yes/no view of the survival model: "event by the main horizon h" as a classification.

Patients censored before h are **excluded** (their status at h is unknown; the report says how many). The
predicted probability of an event by h is ``1 - S(h)``. Threshold-dependent metrics (sensitivity,
specificity, ...) use a threshold chosen by Youden's rule on patients **other than the test patients**: the
validation part of the split when there is one, else the training patients; never on the test patients,
and not at all when the model is judged on its own training data (apparent or external evaluation).
Calibration slope, intercept and ECE come from :mod:`oncoplan.evaluate.calibration`, D-calibration over
the whole follow-up from :func:`oncoplan.evaluate.calibration.d_calibration`.

Example:
    >>> from oncoplan.report.classification import threshold_source_note
    >>> print(threshold_source_note("validation", 140))
    chosen by Youden's rule on the 140 validation patients (never on the test patients)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.errors import CohortError
from oncoplan.evaluate.binary import Threshold, auc_pr, auc_roc, binary_report, brier, choose_threshold
from oncoplan.evaluate.bootstrap import BootstrapResult, bootstrap_many
from oncoplan.evaluate.calibration import calibration_report, d_calibration, reliability_curve
from oncoplan.evaluate.horizon import horizon_labels
from oncoplan.evaluate.survival import survival_at
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)

LABELS = {
    "auc_roc": "AUC (ROC)",
    "auc_pr": "AUC (precision-recall)",
    "brier": "Brier score (lower is better)",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity (events flagged)",
    "specificity": "Specificity (event-free not flagged)",
    "precision": "Positive predictive value",
    "f1": "F1 score",
    "calibration_slope": "Calibration slope (ideal 1)",
    "calibration_intercept": "Calibration intercept (ideal 0)",
    "expected_calibration_error": "Expected calibration error (lower is better)",
}


def threshold_source_note(source: str, n: int) -> str:
    """Where the decision threshold came from, for readers."""
    return f"chosen by Youden's rule on the {n} {source} patients (never on the test patients)"


@dataclass
class HorizonClassification:
    """Classification metrics of "event by ``horizon``" on the test patients."""

    horizon: float
    metrics: dict[str, BootstrapResult]
    threshold: Threshold | None
    threshold_note: str
    reliability: pd.DataFrame
    counts: dict[str, int]
    d_calibration: pd.DataFrame = field(default_factory=pd.DataFrame)


def _event_probability(bundle: ModelBundle, cohort: Cohort, horizon: float) -> np.ndarray:
    return 1.0 - bundle.predict_survival(bundle.frame_from_cohort(cohort), np.array([horizon]))[:, 0]


def _threshold(
    bundle: ModelBundle, source: Cohort | None, source_name: str, horizon: float
) -> tuple[Threshold | None, str]:
    if source is None:
        return None, (
            "No threshold-dependent metrics: the model is judged on its training patients, so no separate "
            "patients are left to choose a threshold on."
        )
    labels = horizon_labels(source.event, source.time, horizon, censoring="exclude")
    try:
        y, p, _ = labels.select(_event_probability(bundle, source, horizon))
        thr = choose_threshold(y, p, rule="youden")
    except CohortError as exc:
        return None, f"No threshold could be chosen on the {source_name} patients: {exc.message}"
    return thr, threshold_source_note(source_name, int(labels.mask.sum()))


def horizon_classification(
    bundle: ModelBundle,
    test: Cohort,
    test_survival: np.ndarray,
    grid: np.ndarray,
    horizon: float,
    threshold_source: tuple[Cohort | None, str],
    n_boot: int = 200,
    seed: int = 0,
) -> HorizonClassification:
    """Binary metrics (with bootstrap CIs) of "event by ``horizon``" on the test patients.

    Args:
        bundle: the model (to predict on the threshold-source patients).
        test, test_survival, grid: test patients and the model's survival curves for them on ``grid``.
        horizon: h, in the cohort's time unit.
        threshold_source: ``(cohort, name)`` the threshold is chosen on (validation or training patients),
            or ``(None, "")`` for none.
    """
    labels = horizon_labels(test.event, test.time, horizon, censoring="exclude")
    prob = 1.0 - survival_at(test_survival, grid, [horizon])[:, 0]
    y, p, _ = labels.select(prob)
    counts = {"events": int(y.sum()), "event_free": int((1 - y).sum()), "excluded": labels.n_unknown}
    if y.min() == y.max():
        raise CohortError(f"every test patient with a known status at {horizon:g} has the same outcome")
    thr, note = _threshold(bundle, *threshold_source, horizon)
    if thr is not None:
        metrics = binary_report(y, p, thr, n_boot=n_boot, seed=seed)
    else:
        metrics = bootstrap_many(
            {"auc_roc": auc_roc, "auc_pr": auc_pr, "brier": brier}, y, p, n_boot=n_boot, stratify=y, seed=seed
        )
    try:
        metrics |= calibration_report(y, p, n_boot=n_boot, seed=seed)
    except CohortError as exc:  # e.g. perfect separation in a tiny test set
        logger.warning("calibration slope skipped: %s", exc.message)
    n_bins = 10 if len(y) >= 500 else 5
    return HorizonClassification(
        horizon=horizon,
        metrics=metrics,
        threshold=thr,
        threshold_note=note,
        reliability=reliability_curve(y, p, n_bins=n_bins, strategy="quantile"),
        counts=counts,
    )


def d_calibration_table(
    event: np.ndarray, time: np.ndarray, curves: dict[str, np.ndarray], grid: np.ndarray, n_bins: int = 10
) -> pd.DataFrame:
    """D-calibration (Haider et al. 2020) of each model's survival curves: chi-square, p-value, verdict."""
    rows = []
    for name, surv in curves.items():
        res = d_calibration(event, time, surv, grid, n_bins=n_bins)
        rows.append(
            {
                "model": name,
                "statistic": res.statistic,
                "df": n_bins - 1,
                "p_value": res.p_value,
                "calibrated": bool(res.p_value >= 0.05),
            }
        )
    return pd.DataFrame(rows)
