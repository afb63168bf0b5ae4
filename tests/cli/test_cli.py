import json

import pandas as pd
from typer.testing import CliRunner

from oncoplan.cli.main import app

runner = CliRunner()


def test_demo_runs_end_to_end(tmp_path):
    result = runner.invoke(app, ["demo", "--quick", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert metrics["cohort"]["patients"] == 929
    assert 0.5 < metrics["deep_survival"]["c_index"]["value"] < 0.8
    assert (tmp_path / "demo" / "model" / "weights.safetensors").exists()
    assert "C-index" in result.output
    out = tmp_path / "demo"
    # treatment part: recommendations for held-out patients, cross-fitted policy table, effect bundle
    recs = pd.read_csv(out / "recommendations.csv")
    assert len(recs) == 5 and set(recs["received"]) <= {"Obs", "Lev", "Lev+5FU"}
    policy = pd.read_csv(out / "policy_evaluation.csv")
    assert {"recommended", "observed", "treat_all:Lev+5FU"} <= set(policy["policy"])
    assert (policy["ci_low"] <= policy["value"]).all() and (policy["value"] <= policy["ci_high"]).all()
    assert (out / "effect_model" / "weights.safetensors").exists()
    assert "Policy evaluation" in result.output
    # the self-contained report
    html = (out / "report.html").read_text()
    assert "Model card" in html and "Plotly.newPlot(" in html
    assert metrics["treatment"]["policy_evaluation"]


def test_train_evaluate_predict(tmp_path, colon):
    model = tmp_path / "model"
    res = runner.invoke(
        app,
        [
            "train",
            "survset:GBSG2",
            "--out",
            str(model),
            "--epochs",
            "5",
            "--ensemble",
            "2",
            "--holdout",
            "0.3",
        ]
        + ["--quiet"],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["evaluate", str(model), "survset:GBSG2", "--n-boot", "30", "--json", str(tmp_path / "m.json")]
    )
    assert res.exit_code == 0, res.output
    assert "held-out 206 patients" in " ".join(res.output.split())
    assert json.loads((tmp_path / "m.json").read_text())["patients"] == 206
    from oncoplan.data import load_cohort

    gbsg = load_cohort("survset:GBSG2")
    table = gbsg.covariates.head(4).reset_index().rename(columns={"patient_id": "pid"})
    table["horTh"] = gbsg.treatment.head(4).to_numpy()
    table.to_csv(tmp_path / "patients.csv", index=False)
    res = runner.invoke(
        app,
        [
            "predict",
            str(model),
            str(tmp_path / "patients.csv"),
            "--horizons",
            "365,1825",
            "--out",
            str(tmp_path / "pred.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == 4 and (pred["S(365 days)"] >= pred["S(1825 days)"]).all()
    assert pred["outside_training_data"].isna().all()
    table.loc[0, "age"] = 130
    table.to_csv(tmp_path / "old.csv", index=False)
    res = runner.invoke(
        app, ["predict", str(model), str(tmp_path / "old.csv"), "--out", str(tmp_path / "p2.csv")]
    )
    assert res.exit_code == 0 and "outside the training data" in " ".join(res.output.split())
    assert pd.read_csv(tmp_path / "p2.csv")["outside_training_data"].iloc[0] == "age"


def test_predict_bad_horizons_and_missing_model(tmp_path):
    res = runner.invoke(app, ["predict", str(tmp_path), "x.csv"])
    assert res.exit_code == 2 and "not an oncoplan model bundle" in res.output
    assert "Traceback" not in res.output


def test_datasets_lists_colon():
    res = runner.invoke(app, ["datasets", "--search", "colon"])
    assert res.exit_code == 0 and "survset:colon" in res.output


def test_train_rejects_unknown_capacity_cleanly(tmp_path):
    res = runner.invoke(
        app, ["train", "survset:GBSG2", "--out", str(tmp_path / "m"), "--capacity", "huge", "--quiet"]
    )
    assert res.exit_code == 2 and "capacity" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "m" / "model.json").exists()
