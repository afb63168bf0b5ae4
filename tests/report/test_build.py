"""The report's numbers equal their reference implementations, and the HTML is one self-contained file."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import restricted_mean_survival_time
from sklearn.metrics import roc_auc_score
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from oncoplan.data.cohort import Cohort
from oncoplan.data.spec import CohortSpec
from oncoplan.errors import CohortError, ConfigError
from oncoplan.report import sections as sec
from oncoplan.report.build import build_report, collect_report, render_report
from oncoplan.report.model_card import model_card
from oncoplan.report.pdf import export_pdf
from oncoplan.store.bundle import ModelBundle
from oncoplan.train.workflow import train_survival_model
from tests.report.conftest import rows_of

SECTION_IDS = [
    "summary",
    "cohort",
    "km",
    "performance",
    "plots",
    "subgroups",
    "policy",
    "model-card",
    "methods",
]


def _metric(data, model: str, metric: str) -> float:
    m = data.performance.metrics
    return float(m[(m["model"] == model) & (m["metric"] == metric)]["value"].iloc[0])


def test_evaluates_on_the_held_out_split(colon_report, colon_model, colon):
    data, _ = colon_report
    _, split = colon_model
    assert data.evaluation.kind == "holdout"
    assert list(data.evaluation.test.ids) == list(colon.ids[rows_of(split, "test")])
    assert data.evaluation.train.n_patients == colon.n_patients - len(split.parts["test"])


def test_c_index_of_model_and_coxph_equal_scikit_survival(colon_report, colon_model, colon):
    data, _ = colon_report
    folder, split = colon_model
    bundle = ModelBundle.load(folder)
    test, train = colon.subset(rows_of(split, "test")), colon.subset(rows_of(split, "train"))
    risk = bundle.predict_risk(bundle.frame_from_cohort(test))
    expected = concordance_index_censored(test.event, test.time, risk)[0]
    assert _metric(data, sec.MODEL_NAME, "harrell_c") == pytest.approx(expected, abs=1e-12)
    x_train = bundle.design_matrix(bundle.frame_from_cohort(train))
    x_test = bundle.design_matrix(bundle.frame_from_cohort(test))
    cox = CoxPHSurvivalAnalysis(alpha=1e-2, ties="efron").fit(x_train, train.y)
    cox_c = concordance_index_censored(test.event, test.time, cox.predict(x_test))[0]
    assert _metric(data, "CoxPH (baseline)", "harrell_c") == pytest.approx(cox_c, abs=1e-12)
    assert set(data.performance.metrics["model"]) == {
        sec.MODEL_NAME,
        "CoxPH (baseline)",
        "Random survival forest (baseline)",
    }
    ci = data.performance.metrics.query("metric == 'harrell_c'")
    assert (ci["ci_low"] <= ci["value"]).all() and (ci["value"] <= ci["ci_high"]).all()


def test_kaplan_meier_logrank_and_horizon_survival_equal_lifelines(colon_report, colon_model, colon):
    data, _ = colon_report
    _, split = colon_model
    lr = multivariate_logrank_test(colon.time, colon.treatment.to_numpy(), colon.event)
    assert data.km_arm.logrank_p == pytest.approx(lr.p_value, rel=1e-10)
    assert data.km_arm.at_risk.loc["Obs"].iloc[0] == 315  # everyone is at risk at time 0
    test = colon.subset(rows_of(split, "test"))
    horizons = data.performance.horizons
    assert horizons == [365.25, 1095.75, 1826.25]
    km = KaplanMeierFitter().fit(test.time, test.event)
    table = data.performance.horizon_table.query("model == @sec.MODEL_NAME")
    np.testing.assert_allclose(table["observed"], km.survival_function_at_times(horizons), atol=1e-12)


def test_roc_at_main_horizon_equals_scikit_learn(colon_report, colon_model, colon):
    data, _ = colon_report
    folder, split = colon_model
    bundle = ModelBundle.load(folder)
    test = colon.subset(rows_of(split, "test"))
    h = data.performance.main_horizon
    s_h = bundle.predict_survival(bundle.frame_from_cohort(test), [h])[:, 0]
    known = (test.time > h) | (test.event & (test.time <= h))
    y = (test.event & (test.time <= h))[known]
    auc = roc_auc_score(y, 1 - s_h[known])
    assert data.performance.roc[sec.MODEL_NAME][2] == pytest.approx(auc, abs=1e-9)
    assert data.performance.roc_counts["excluded"] == int((~known).sum())


def test_table_one_subgroups_and_policy(colon_report, colon_model, colon):
    data, _ = colon_report
    _, split = colon_model
    assert data.table_one_group == "Treatment arm"
    assert {"Obs", "Lev", "Lev+5FU", "Overall", "P-Value"} <= set(data.table_one.columns)
    assert str(data.table_one.loc[("n", ""), "Overall"]) == "929"
    sub = data.subgroups
    assert {"sex", "age band", "treatment arm"} <= set(sub["variable"])
    small = sub[(sub["kind"] == "subgroup") & (sub["n"] < 30)]
    assert small["too_small"].all()
    pol = data.policy.table
    assert set(pol["policy"]) == {
        "recommended",
        "treat_all:Obs",
        "treat_all:Lev",
        "treat_all:Lev+5FU",
        "observed",
    }
    test = colon.subset(rows_of(split, "test"))
    observed = pol.query("policy == 'observed'")["value"].iloc[0]
    kmf = KaplanMeierFitter().fit(test.time, test.event)
    assert observed == pytest.approx(restricted_mean_survival_time(kmf, t=data.policy.tau), rel=1e-9)


def test_html_is_self_contained_with_every_section(colon_report):
    data, html = colon_report
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in html
    # no external resource: every script is inline, no stylesheet or image is fetched
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert not re.search(r"<img[^>]+src=[\"']http", html)
    assert (
        html.count("Plotly.newPlot(") == 11
    )  # KM x2, ROC, td-AUC, Brier, 3 calibrations, forest, policy, overlap
    assert html.count("* plotly.js v") == 1  # the library is embedded exactly once
    assert "Log-rank test" in html and "Model card" in html
    assert data.card.training_data["Patients"] == str(len(data.evaluation.train.ids))


def _synthetic_cohort(n: int = 240, seed: int = 3) -> Cohort:
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 9, n).round()
    arm = rng.choice(["A", "B"], n)
    hazard = np.exp(0.04 * (age - 62) - 0.4 * (arm == "B"))
    t = rng.exponential(1000 / hazard)
    c = rng.uniform(200, 2500, n)
    frame = pd.DataFrame(
        {
            "mrn": [f"MRN-{i:06d}" for i in range(n)],
            "age": age,
            "sex": rng.choice(["F", "M"], n),
            "arm": arm,
            "time": np.minimum(t, c).round(),
            "event": (t <= c).astype(int),
        }
    )
    spec = CohortSpec(
        name="synthetic",
        id_column="mrn",
        time_column="time",
        event_column="event",
        treatment_column="arm",
        numeric=["age"],
        categorical=["sex"],
    )
    return Cohort.from_frame(frame, spec)


def test_no_patient_identifier_and_apparent_warning(tmp_path):
    cohort = _synthetic_cohort()
    bundle = train_survival_model(cohort, None, {"max_epochs": 3}, seed=0)
    out = build_report(bundle, cohort, tmp_path / "r.html", baselines=False, n_boot=10, horizons=[365, 730])
    html = out.read_text(encoding="utf-8")
    assert "MRN-" not in html
    assert "apparent (optimistic)" in html
    assert "Baselines were switched off" in html
    # same seed, same report (apart from nothing: the timestamp is fixed)
    again = collect_report(bundle, cohort, baselines=False, n_boot=10, horizons=[365, 730])
    first = collect_report(bundle, cohort, baselines=False, n_boot=10, horizons=[365, 730])
    assert render_report(again, generated="x") == render_report(first, generated="x")


def test_external_cohort_has_no_baselines_and_precomputed_policy_is_shown(colon_model, colon):
    folder, _ = colon_model
    other = colon.subset(np.arange(0, 600))  # not the training data: the split file must be ignored
    policy = pd.DataFrame(
        {
            "policy": ["treat_all:Obs", "treat_all:Lev+5FU"],
            "estimator": ["ipw_km", "ipw_km"],
            "value": [1500.0, 1600.0],
            "ci_low": [1400.0, 1500.0],
            "ci_high": [1600.0, 1700.0],
        }
    )
    data = collect_report(folder, other, baselines=True, policy=policy, n_boot=10)
    assert data.evaluation.kind == "external"
    assert set(data.performance.metrics["model"]) == {sec.MODEL_NAME}
    html = render_report(data, generated="x")
    assert "Treat everyone with Lev+5FU" in html and "1600 (1500 to 1700)" in html
    assert "computed beforehand" in html
    assert "External validation" in html


def test_bad_arguments_raise_clear_errors(colon_model, colon, tmp_path, monkeypatch):
    folder, _ = colon_model
    with pytest.raises(ConfigError, match="HTML file"):
        build_report(folder, colon, tmp_path / "r.pdf")
    with pytest.raises(ConfigError, match="n_boot"):
        collect_report(folder, colon, n_boot=2)
    with pytest.raises(ConfigError, match="horizons must be positive"):
        collect_report(folder, colon, horizons=[-1.0], n_boot=10)
    with pytest.raises(ConfigError, match="subgroup column 'nope'"):
        collect_report(folder, colon, subgroups=["nope"], n_boot=10, baselines=False)
    monkeypatch.setenv("ONCOPLAN_CHROMIUM", str(tmp_path / "no-such-browser"))
    (tmp_path / "r.html").write_text("<html></html>")
    with pytest.raises(ConfigError, match="needs headless Chromium") as err:
        export_pdf(tmp_path / "r.html")
    assert "apt-get install chromium" in err.value.hint


def test_choose_horizons_and_format_time():
    long = np.linspace(1, 1500, 1500)  # 5 years unsupported: 1, 3 years and then 2 years
    assert sec.choose_horizons(long, long, np.ones(1500, bool), "days") == [365.25, 730.5, 1095.75]
    short = np.linspace(1, 200, 200)  # under a year: quartiles of the event times
    assert sec.choose_horizons(short, short, np.ones(200, bool), "days") == [51.0, 100.0, 150.0]
    assert sec.choose_horizons(short, short, np.ones(200, bool), "days", horizons=[90, 30]) == [30.0, 90.0]
    with pytest.raises(CohortError, match="no prediction horizon"):
        sec.choose_horizons(short, short, np.zeros(200, bool), "days")
    assert sec.format_time(1826.25, "days") == "5 years (1826 days)"
    assert sec.format_time(12.0, "months") == "1 year (12 months)"
    assert sec.format_time(100.0, "days") == "100 days"


def test_model_card_markdown(colon_model):
    folder, _ = colon_model
    card = model_card(ModelBundle.load(folder), {"C-index": "0.7"}, ["small test set"])
    md = card.to_markdown()
    assert "## Intended use" in md and "- C-index: 0.7" in md
    assert card.limitations[0] == "small test set"
    assert card.training_data["Patients"] == "789"
