"""The report on other kinds of cohorts: no treatment (no policy section), test patients the model cannot
score (left out, and said so), and a cohort with only a binary response (refused with a clear error)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoplan.data import load_cohort
from oncoplan.data.cohort import Cohort
from oncoplan.data.spec import CohortSpec
from oncoplan.data.splits import Split, holdout_split
from oncoplan.errors import CohortError
from oncoplan.report import sections as sec
from oncoplan.report.build import collect_report, render_report
from oncoplan.train.workflow import train_survival_model

QUICK = {"max_epochs": 2, "n_ensemble": 1}


def test_cohort_without_treatment_has_no_policy_section():
    cohort = load_cohort("survset:Melanoma")  # no treatment recorded
    assert cohort.treatment is None
    split = holdout_split(cohort, (0.7, 0.3), seed=0)
    bundle = train_survival_model(cohort, split.parts["train"], QUICK, seed=0)
    data = collect_report(bundle, cohort, baselines=False, n_boot=10, split=split)
    assert data.policy is None and data.table_one_group == "Outcome"
    assert data.evaluation.kind == "holdout" and data.evaluation.test.n_patients == len(split.parts["test"])
    assert list(data.km_arm.curves) == ["all"] and data.km_arm.logrank_df == 0
    assert "treatment arm" not in set(data.subgroups["variable"])
    html = render_report(data, generated="x")
    assert 'id="policy"' not in html and 'href="#policy"' not in html
    assert "<h2>Overall survival</h2>" in html and "records no treatment" in html
    for section in ("summary", "cohort", "km", "performance", "plots", "subgroups", "model-card", "methods"):
        assert f'<section id="{section}">' in html


def _cohort_with_rare_stage(n: int = 240, seed: int = 0) -> Cohort:
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 9, n).round()
    stage = rng.choice(["I", "II", "III"], n)
    stage[-3:] = "IV"  # only in the last three patients, which go to the test part
    hazard = 0.0007 * np.exp(0.03 * (age - 62) + 0.6 * (stage == "III"))
    t = rng.exponential(1 / hazard)
    c = rng.uniform(300, 3000, n)
    frame = pd.DataFrame(
        {
            "pid": [f"p{i}" for i in range(n)],
            "age": age,
            "stage": stage,
            "time": np.minimum(t, c).round() + 1,
            "event": (t <= c).astype(int),
        }
    )
    spec = CohortSpec(
        name="rare-stage",
        id_column="pid",
        time_column="time",
        event_column="event",
        numeric=["age"],
        categorical=["stage"],
    )
    return Cohort.from_frame(frame, spec)


def test_patients_with_unseen_categories_are_left_out_and_reported():
    cohort = _cohort_with_rare_stage()
    n = cohort.n_patients
    test_rows = np.r_[np.arange(0, n - 3, 4), np.arange(n - 3, n)]
    train_rows = np.setdiff1d(np.arange(n), test_rows)
    split = Split(
        kind="manual", seed=0, patient_ids=list(cohort.ids), parts={"train": train_rows, "test": test_rows}
    )
    bundle = train_survival_model(cohort, train_rows, QUICK, seed=0)
    mask, reason = sec.unscorable_patients(bundle, cohort.subset(test_rows))
    assert mask.sum() == 3 and "stage = IV (3 patients)" in reason
    data = collect_report(bundle, cohort, baselines=False, n_boot=10, split=split, horizons=[365, 730])
    assert data.evaluation.test.n_patients == len(test_rows) - 3
    assert "3 test patients were left out" in data.evaluation.note
    assert any("could not be scored" in x for x in data.card.limitations)
    html = render_report(data, generated="x")
    assert "never saw in training (stage = IV (3 patients))" in html


def test_cohort_with_only_a_binary_response_is_refused(colon_model):
    folder, _ = colon_model
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"pid": range(50), "age": rng.normal(60, 8, 50), "response": rng.integers(0, 2, 50)})
    spec = CohortSpec(name="responders", id_column="pid", response_column="response", numeric=["age"])
    cohort = Cohort.from_frame(frame, spec)
    with pytest.raises(CohortError, match="no survival outcome"):
        collect_report(folder, cohort, n_boot=10)
