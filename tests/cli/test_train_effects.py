"""``oncoplan train-effects``: a treatment-effect bundle from the command line, then ``recommend``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from oncoplan.cli.main import app
from oncoplan.store.bundle import ModelBundle

runner = CliRunner(env={"COLUMNS": "250"})
QUICK = ["--epochs", "3", "--ensemble", "2", "--quiet"]


def _text(result) -> str:
    return " ".join(result.output.split())


def test_train_effects_then_recommend(colon, tmp_path):
    out = tmp_path / "effects"
    res = runner.invoke(
        app, ["train-effects", "survset:colon", "--out", str(out), "--holdout", "0.2", *QUICK]
    )
    assert res.exit_code == 0, res.output
    assert "arms Obs, Lev, Lev+5FU" in _text(res) and "anchored to Kaplan-Meier" in _text(res)
    bundle = ModelBundle.load(out)
    assert bundle.metadata["kind"] == "treatment_effect" and bundle.metadata["tau"] == 1826.0
    held_out = json.loads((out / "split.json").read_text())
    assert held_out  # the holdout is recorded for later evaluation
    patients = tmp_path / "patients.csv"
    colon.features(include_treatment=False).head(4).to_csv(patients, index=False)
    res = runner.invoke(app, ["recommend", str(out), str(patients)])
    assert res.exit_code == 0, res.output
    assert "treatment ranking by RMST(1826 days)" in _text(res)


def test_train_effects_with_a_cox_head_and_bad_options(tmp_path):
    args = ["train-effects", "survset:GBSG2", "--head", "cox", "--ipw", "logistic", *QUICK]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "cox")])
    assert res.exit_code == 0, res.output  # a weighted partial likelihood under inverse-propensity weights
    res = runner.invoke(
        app, ["train-effects", "survset:veteran", "--out", str(tmp_path / "w"), "--ipw", "foo", *QUICK]
    )
    assert res.exit_code == 2 and "ipw must be" in _text(res) and "Traceback" not in res.output
    res = runner.invoke(
        app, ["train-effects", "survset:veteran", "--out", str(tmp_path / "t"), "--tau", "1e9", *QUICK]
    )
    assert (
        res.exit_code == 2 and "within the training follow-up" in _text(res) and "Traceback" not in res.output
    )
