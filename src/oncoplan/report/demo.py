"""The demo, oncoplan's main job: the colon-cancer adjuvant chemotherapy trial end to end.

Loads ``survset:colon`` (929 patients, arms Obs / Lev / Lev+5FU), makes a seeded 70/15/15 split (saved),
trains the deep survival model on the training part, evaluates it on the held-out test part next to
scikit-survival's CoxPH, then trains the treatment-effect network (counterfactual survival under each arm),
shows recommendations with intervals and abstentions for held-out patients, evaluates the cross-fitted
policy, and writes the self-contained HTML report (:func:`oncoplan.report.build.build_report`), all into
one folder.

Example:
    >>> result = run_demo("oncoplan-demo", quick=True)  # doctest: +SKIP
    >>> (result.out_dir / "report.html").exists()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sksurv.linear_model import CoxPHSurvivalAnalysis

from oncoplan.data.sources import load_cohort
from oncoplan.data.splits import holdout_split
from oncoplan.evaluate.bootstrap import bootstrap
from oncoplan.evaluate.summary import evaluate_survival_bundle
from oncoplan.evaluate.survival import harrell_c
from oncoplan.recommend.pipeline_demo import run_treatment_demo
from oncoplan.report.build import build_report
from oncoplan.train.workflow import train_survival_model

logger = logging.getLogger(__name__)

DEMO_COHORT = "survset:colon"


@dataclass
class DemoResult:
    """What the demo produced."""

    out_dir: Path
    metrics: dict = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def _coxph_baseline(bundle, train, test, n_boot: int, seed: int):
    prep = bundle.preprocessor
    x_train = prep.transform(bundle.frame_from_cohort(train))
    x_test = prep.transform(bundle.frame_from_cohort(test))
    cox = CoxPHSurvivalAnalysis(alpha=1e-2, ties="efron").fit(x_train, train.y)
    return bootstrap(
        harrell_c,
        test.event,
        test.time,
        cox.predict(x_test),
        n_boot=n_boot,
        seed=seed,
        stratify=test.event,
        name="C-index",
    )


def run_demo(
    out_dir: str | Path = "oncoplan-demo",
    quick: bool = False,
    seed: int = 0,
    progress: Callable | None = None,
    stage: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo and write its outputs into ``out_dir``.

    ``quick`` trains for a few epochs with fewer bootstrap resamples (for tests); ``progress`` is the
    epoch-progress callback of the survival training, ``stage`` is called with a short description
    before each later step.
    """
    say = stage or (lambda text: None)
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cohort = load_cohort(DEMO_COHORT)
    split = holdout_split(cohort, (0.7, 0.15, 0.15), seed=seed)
    split.to_json(out / "split.json")
    train_rows = np.sort(np.concatenate([split.parts["train"], split.parts["val"]]))
    train, test = cohort.subset(train_rows), cohort.subset(split.parts["test"])
    params = {"max_epochs": 5 if quick else 200, "n_ensemble": 1 if quick else 5}
    n_boot = 50 if quick else 1000
    bundle = train_survival_model(cohort, train_rows, params, seed=seed, progress=progress)
    bundle.metadata["split"] = split.kind
    bundle.save(out / "model")
    deep = evaluate_survival_bundle(bundle, test, train, n_boot=n_boot, seed=seed)
    cox_c = _coxph_baseline(bundle, train, test, n_boot, seed)
    metrics = {
        "cohort": cohort.summary(),
        "split": {"kind": split.kind, "seed": seed, **{k: int(len(v)) for k, v in split.parts.items()}},
        "deep_survival": {"c_index": deep["c_index"].to_dict(), "ibs": deep["ibs"]},
        "coxph_baseline": {"c_index": cox_c.to_dict()},
        "seconds": round(time.perf_counter() - started, 2),
    }
    say("treatment-effect model, recommendations and cross-fitted policy evaluation")
    treatment_lines, treatment = run_treatment_demo(cohort, out, quick=quick, seed=seed)
    metrics["treatment"] = {
        "tau": treatment["tau"],
        "abstention_share": treatment["abstention_share"],
        "policy_evaluation": treatment["policy_evaluation"],
    }
    say("HTML report")
    report = build_report(
        bundle,
        cohort,
        out / "report.html",
        policy=pd.read_csv(out / "policy_evaluation.csv"),
        n_boot=n_boot if quick else 200,
        seed=seed,
        split=split,
        progress=say,
    )
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    lines = [
        f"# oncoplan demo: {cohort.spec.description}",
        "",
        f"- cohort: {cohort.n_patients} patients, {int(cohort.event.sum())} deaths; arms "
        + ", ".join(f"{a} ({n})" for a, n in cohort.summary()["arms"].items()),
        f"- split: {split.kind} (seed {seed}); trained on {train.n_patients}, tested on {test.n_patients}",
        f"- deep survival model (ensemble of {params['n_ensemble']}): {deep['c_index']}, "
        f"IBS {deep['ibs']:.4f}",
        f"- CoxPH baseline (scikit-survival): {cox_c}",
        "",
        *treatment_lines,
        "",
        f"- report: {report.resolve()}",
        f"- outputs: {out.resolve()}",
    ]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return DemoResult(out_dir=out, metrics=metrics, lines=lines)
