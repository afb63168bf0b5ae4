"""The report's yes/no view of "event by the main horizon": scikit-learn values, a threshold from the
training (or validation) patients and never from the test patients, calibration and D-calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, recall_score, roc_auc_score

from oncoplan.evaluate.binary import choose_threshold
from oncoplan.evaluate.calibration import calibration_slope_intercept
from oncoplan.report import sections as sec
from oncoplan.report.build import collect_report, render_report
from oncoplan.report.classification import horizon_classification
from oncoplan.store.bundle import ModelBundle


def _labels(cohort, bundle, h):
    known = (cohort.event & (cohort.time <= h)) | (cohort.time > h)
    y = (cohort.event & (cohort.time <= h)).astype(int)[known]
    p = 1 - bundle.predict_survival(bundle.frame_from_cohort(cohort), np.array([h]))[known, 0]
    return y, p


def test_metrics_equal_sklearn_and_threshold_comes_from_training_patients(colon_report, colon_model):
    data, html = colon_report
    folder, _ = colon_model
    bundle = ModelBundle.load(folder)
    cls = data.classification
    h = data.performance.main_horizon
    y, p = _labels(data.evaluation.test, bundle, h)
    assert cls.counts == {
        "events": int(y.sum()),
        "event_free": int((1 - y).sum()),
        "excluded": data.evaluation.test.n_patients - len(y),
    }
    assert cls.metrics["auc_roc"].value == pytest.approx(roc_auc_score(y, p), abs=1e-6)
    assert cls.metrics["auc_pr"].value == pytest.approx(average_precision_score(y, p), abs=1e-6)
    # the split has no validation part: the threshold is chosen on the training patients ...
    y_tr, p_tr = _labels(data.evaluation.train, bundle, h)
    expected = choose_threshold(y_tr, p_tr)
    assert cls.threshold.value == pytest.approx(expected.value, abs=1e-12)
    assert cls.threshold.n_validation == len(y_tr) and "training patients" in cls.threshold_note
    # ... not on the test patients (a test-tuned threshold would give another sensitivity here)
    test_tuned = choose_threshold(y, p)
    assert test_tuned.value != pytest.approx(cls.threshold.value)
    sens = recall_score(y, (p >= cls.threshold.value).astype(int))
    assert cls.metrics["sensitivity"].value == pytest.approx(sens, abs=1e-12)
    fit = calibration_slope_intercept(y, p)
    assert cls.metrics["calibration_slope"].value == pytest.approx(fit.slope, abs=1e-9)
    assert cls.metrics["calibration_intercept"].value == pytest.approx(fit.intercept, abs=1e-9)
    d = cls.d_calibration.set_index("model")
    assert set(d.index) == set(data.performance.metrics["model"])
    row = d.loc[sec.MODEL_NAME]
    assert row["p_value"] == pytest.approx(stats.chi2.sf(row["statistic"], 9), abs=1e-9)
    assert 'id="classification"' in html and "D-calibration" in html and "never on the test patients" in html


def test_threshold_prefers_the_validation_part_and_is_absent_for_apparent_results(colon_model, colon):
    from oncoplan.data.splits import holdout_split

    folder, _ = colon_model
    bundle = ModelBundle.load(folder)
    split = holdout_split(colon, (0.7, 0.15, 0.15), seed=1)
    ev = sec.resolve_evaluation_set(bundle, colon, split)
    assert sec.threshold_source(ev) == (ev.validation, "validation")
    grid = np.linspace(30, 2000, 60)
    surv = bundle.predict_survival(bundle.frame_from_cohort(ev.test), grid)
    cls = horizon_classification(bundle, ev.test, surv, grid, 1095.75, sec.threshold_source(ev), n_boot=10)
    y_val, p_val = _labels(ev.validation, bundle, 1095.75)
    assert cls.threshold.value == pytest.approx(choose_threshold(y_val, p_val).value, abs=1e-12)
    assert "validation patients" in cls.threshold_note
    # judged on its own training data: no patients left to choose a threshold on
    apparent = collect_report(bundle, colon, baselines=False, n_boot=10, horizons=[1095.75])
    assert apparent.evaluation.kind == "apparent" and apparent.classification.threshold is None
    assert "sensitivity" not in apparent.classification.metrics
    assert "No threshold-dependent metrics" in render_report(apparent, generated="x")
