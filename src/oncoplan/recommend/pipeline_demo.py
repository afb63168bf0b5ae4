"""The treatment part of ``oncoplan demo``: train the effect network, recommend, evaluate the policy.

:func:`run_treatment_demo` trains a :class:`~oncoplan.models.effects.TreatmentEffectNet` on a seeded
training split of a trial (the colon trial in the demo), shows recommendations with intervals and
abstentions for a few held-out patients, and the cross-fitted policy-evaluation table (recommended policy vs
treat-all-k vs observed, IPW Kaplan-Meier and doubly robust values with bootstrap CIs). It writes the model
bundle and CSV tables into ``out_dir`` and returns printable lines plus a JSON-ready dict.

Example:
    >>> from oncoplan.data import load_cohort
    >>> lines, payload = run_treatment_demo(load_cohort("survset:colon"), "out", quick=True)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from oncoplan.data.cohort import Cohort
from oncoplan.data.splits import holdout_split
from oncoplan.recommend.crossfit_policy import cross_fitted_policy, evaluate_cross_fitted
from oncoplan.recommend.pipeline import (
    default_tau,
    recommend_patients,
    train_effect_model,
)
from oncoplan.recommend.ranking import recommendations_to_frame

logger = logging.getLogger(__name__)

#: settings of the demo / benchmark effect network (full run) and of the quick mode (tests)
FULL_PARAMS = {"n_ensemble": 5, "bootstrap": True, "max_epochs": 200, "patience": 20}
QUICK_PARAMS = {
    "n_ensemble": 2,
    "bootstrap": True,
    "max_epochs": 4,
    "patience": 2,
    "hidden": (16,),
    "head_hidden": (),
}


def _ranking_text(result, unit: str) -> str:
    return (
        "; ".join(f"{r.arm} {r.expected_value:.0f} [{r.low:.0f}, {r.high:.0f}]" for r in result.ranking)
        + f" {unit}"
    )


def run_treatment_demo(
    cohort: Cohort, out_dir: str | Path, quick: bool = False, seed: int = 0, n_show: int = 5
) -> tuple[list[str], dict]:
    """Train, recommend for ``n_show`` held-out patients, and evaluate the cross-fitted policy.

    Returns (lines to print, JSON-serialisable dict). Writes ``effect_model/`` (a bundle, when the estimator
    kind is registered in :data:`oncoplan.store.bundle.ESTIMATORS`), ``recommendations.csv`` and
    ``policy_evaluation.csv`` into ``out_dir``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = QUICK_PARAMS if quick else FULL_PARAMS
    tau = default_tau(cohort.time, cohort.spec.time_unit)
    unit = cohort.spec.time_unit
    split = holdout_split(cohort, (0.7, 0.3), seed=seed)
    train_rows, test_rows = split.parts["train"], split.parts["test"]
    bundle = train_effect_model(cohort, train_rows, params, tau=tau, seed=seed)
    saved = None
    try:
        saved = str(bundle.save(out / "effect_model"))
    except Exception as exc:  # noqa: BLE001 - saving is optional for the demo output
        logger.warning("effect model not saved: %s", exc)
    test = cohort.subset(test_rows[:n_show])
    results, pred = recommend_patients(bundle, test.features(include_treatment=False), tau)
    frame = recommendations_to_frame(results)
    frame.insert(1, "received", test.treatment.to_numpy())
    frame.to_csv(out / "recommendations.csv", index=False)

    crossfit = cross_fitted_policy(cohort, tau, params, n_folds=3 if quick else 5, seed=seed)
    table = evaluate_cross_fitted(cohort, crossfit, tau, n_boot=50 if quick else 500, seed=seed)
    table.to_csv(out / "policy_evaluation.csv", index=False)

    lines = [
        f"Treatment recommendations ({cohort.name}, arms {', '.join(cohort.arms or [])}; "
        f"RMST up to tau = {tau:g} {unit}, 90% ensemble intervals)",
    ]
    for r in results:
        head = f"  patient {r.patient}: "
        if r.recommended:
            g = r.gain_vs_next
            lines.append(
                head
                + f"recommend {r.best_arm} (gain over {r.runner_up} "
                + f"{g.value:.0f} [{g.low:.0f}, {g.high:.0f}] "
                f"{unit}); ranking {_ranking_text(r, unit)}"
            )
        else:
            lines.append(
                head + f"no recommendation ({r.reason.value}: {r.detail}); ranking {_ranking_text(r, unit)}"
            )
    lines.append(
        f"Policy evaluation, cross-fitted ({len(crossfit.default_arms)} folds), RMST({tau:g} {unit}) "
        "with 95% bootstrap CI:"
    )
    for row in table.itertuples():
        lines.append(
            f"  {row.policy:<22} {row.estimator:<7} {row.value:8.1f} [{row.ci_low:.1f}, {row.ci_high:.1f}]"
        )
    share = float(crossfit.abstained.mean())
    lines.append(f"  abstentions: {share:.0%} of patients (they receive the training folds' best arm)")
    payload = {
        "cohort": cohort.name,
        "tau": tau,
        "time_unit": unit,
        "model_dir": saved,
        "recommendations": [r.to_dict() for r in results],
        "ood": pred.ood.tolist(),
        "policy_evaluation": json.loads(table.to_json(orient="records")),
        "abstention_share": share,
        "default_arms": crossfit.default_arms,
        "recommended_share": {a: float(np.mean(crossfit.recommended == a)) for a in cohort.arms or []},
    }
    (out / "treatment_demo.json").write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    return lines, payload
