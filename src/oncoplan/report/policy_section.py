"""The treatment policy section: propensity overlap and the value (RMST) of treatment policies.

Values come from :func:`oncoplan.evaluate.policy.evaluate_policies` and propensities from
:func:`oncoplan.evaluate.overlap.estimate_propensity` (cross-fitted logistic regression); this module
only prepares their inputs on the test patients and labels the rows for readers.

The model's policy is "give each patient the arm with the highest predicted restricted mean survival
time up to tau" (the plain argmax, without abstention). It exists only for a model that takes the
treatment as an input; otherwise only treat-all and observed policies are shown.

Example:
    >>> policy_label("treat_all:Lev")
    'Treat everyone with Lev'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncoplan.data.cohort import TREATMENT_FEATURE, Cohort
from oncoplan.errors import OncoplanError
from oncoplan.evaluate.overlap import (
    OverlapReport,
    estimate_propensity,
    overlap_report,
    propensity_histograms,
)
from oncoplan.evaluate.policy import evaluate_policies
from oncoplan.recommend.rmst import rmst_from_curves
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)

ESTIMATOR_LABELS = {
    "ipw_km": "Inverse-probability-weighted Kaplan-Meier",
    "dr": "Doubly robust (AIPW)",
    "km": "Kaplan-Meier (as treated)",
}


def policy_label(policy: str) -> str:
    """Reader-facing name of a policy id from :func:`evaluate_policies`."""
    if policy.startswith("treat_all:"):
        return f"Treat everyone with {policy.split(':', 1)[1]}"
    return {
        "recommended": "Model's choice (highest predicted RMST)",
        "observed": "Treatment as actually given",
    }.get(policy, policy)


@dataclass
class PolicySection:
    """What the policy section shows (``table`` None with a ``note`` when it could not be computed)."""

    table: pd.DataFrame | None
    tau: float
    note: str = ""
    histograms: pd.DataFrame | None = None
    overlap: OverlapReport | None = None
    recommended_share: dict[str, float] | None = None
    precomputed: bool = False


def label_policy_table(table: pd.DataFrame) -> pd.DataFrame:
    """Add reader-facing ``label`` and ``estimator_label`` columns to an :func:`evaluate_policies` table."""
    out = table.copy()
    if "policy" in out:
        out["label"] = [policy_label(str(p)) for p in out["policy"]]
    if "estimator" in out:
        out["estimator_label"] = [ESTIMATOR_LABELS.get(str(e), str(e)) for e in out["estimator"]]
    return out


def _propensity_inputs(test: Cohort) -> pd.DataFrame:
    cov = test.covariates.reset_index(drop=True)
    frame = pd.DataFrame(index=cov.index)
    for col in test.spec.numeric:
        values = cov[col].astype(float)
        if values.notna().any():
            frame[col] = values.fillna(values.median())
    for col in test.spec.categorical:
        frame[col] = cov[col].astype(object).where(cov[col].notna(), "missing").astype(str)
    return frame


def model_policy(
    bundle: ModelBundle, test: Cohort, grid: np.ndarray, tau: float
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted survival under every arm ``(n, n_arms, len(grid))`` and the arm of highest RMST(tau)."""
    arms = list(test.arms or [])
    frame = bundle.frame_from_cohort(test)
    curves = []
    for arm in arms:
        f = frame.copy()
        f[TREATMENT_FEATURE] = arm
        curves.append(bundle.predict_survival(f, grid))
    pred = np.stack(curves, axis=1)
    rmst = rmst_from_curves(pred, grid, tau)
    return pred, np.asarray(arms, dtype=object)[np.argmax(rmst, axis=1)]


def policy_section(
    bundle: ModelBundle,
    test: Cohort,
    grid: np.ndarray,
    tau: float,
    n_boot: int = 200,
    seed: int = 0,
) -> PolicySection:
    """Policy values on the test patients at RMST horizon ``tau`` (``grid`` must reach ``tau``)."""
    arms = list(test.arms or [])
    received = test.treatment.to_numpy(dtype=object)
    counts = pd.Series(received).value_counts()
    present = [a for a in arms if counts.get(a, 0) > 0]
    if len(present) < 2:
        return PolicySection(None, tau, note="fewer than two arms among the test patients")
    n_folds = int(min(5, counts.min()))
    if n_folds < 2:
        return PolicySection(None, tau, note="an arm has fewer than two test patients; no policy evaluation")
    try:
        prop = estimate_propensity(_propensity_inputs(test), received, arms, n_folds=n_folds, seed=seed)
        hist = propensity_histograms(prop, received, arms)
        overlap = overlap_report(prop, arms)
        uses_arm = bundle.include_treatment
        pred, recommended = model_policy(bundle, test, grid, tau) if uses_arm else (None, received)
        table = evaluate_policies(
            test.time,
            test.event,
            received,
            recommended,
            prop,
            arms,
            tau,
            survival_pred=pred,
            times=grid if uses_arm else None,
            n_boot=n_boot,
            seed=seed,
        )
    except OncoplanError as exc:
        logger.warning("policy evaluation skipped: %s", exc.message)
        return PolicySection(None, tau, note=f"policy evaluation was not possible: {exc.message}")
    note = ""
    share = None
    if uses_arm:
        share = {a: float(np.mean(recommended == a)) for a in arms}
    else:
        table = table[table["policy"] != "recommended"]
        note = "the model does not take the treatment as an input, so it recommends no arm"
    return PolicySection(
        label_policy_table(table.reset_index(drop=True)),
        tau,
        note=note,
        histograms=hist,
        overlap=overlap,
        recommended_share=share,
    )
