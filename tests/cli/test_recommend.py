"""``oncoplan recommend MODEL patients.csv`` on a saved quick colon bundle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from oncoplan.cli.main import app
from oncoplan.cli.recommend import parse_band, parse_penalties
from oncoplan.errors import ConfigError
from oncoplan.recommend.pipeline import train_effect_model
from oncoplan.recommend.pipeline_demo import QUICK_PARAMS

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Rich reads COLUMNS once, when the shared console is created (possibly by an earlier test module in
    the same worker), so widen that console directly: table cells then never fold mid-word."""
    from oncoplan.cli import common

    monkeypatch.setattr(common.console, "_width", 250)


@pytest.fixture(scope="module")
def model_dir(colon, tmp_path_factory):
    folder = tmp_path_factory.mktemp("effect") / "model"
    params = {**QUICK_PARAMS, "n_ensemble": 3, "max_epochs": 6}
    train_effect_model(colon, np.arange(0, colon.n_patients, 2), params, seed=0).save(folder)
    return folder


@pytest.fixture()
def patients(colon, tmp_path):
    table = colon.features(include_treatment=False).iloc[1:12:2].reset_index(names="pid")
    table.loc[0, ["age", "nodes"]] = [150.0, 80.0]  # far outside the training data
    path = tmp_path / "patients.csv"
    table.to_csv(path, index=False)
    return path, table


def _text(result) -> str:
    return " ".join(result.output.split())


def test_recommend_prints_rankings_and_abstentions(model_dir, patients, tmp_path):
    path, table = patients
    out = tmp_path / "recs.csv"
    res = runner.invoke(app, ["recommend", str(model_dir), str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = _text(res)
    assert "treatment ranking by RMST(1826 days)" in text
    assert "out_of_distribution" in text  # patient 2 is abstained with its reason
    assert "6 patients:" in text
    assert "anchored to its Kaplan-Meier curve in the randomised training data" in text  # colon: a trial
    for arm in ("Obs", "Lev", "Lev+5FU"):
        assert arm in text
    rows = pd.read_csv(out)
    assert rows["patient"].astype(str).tolist() == table["pid"].astype(str).tolist()
    assert rows.loc[0, "status"] == "abstain" and rows.loc[0, "reason"] == "out_of_distribution"
    assert rows["ood_score"].iloc[0] > rows["ood_score"].iloc[1:].max()


def test_recommend_options(model_dir, patients):
    path, _ = patients
    res = runner.invoke(
        app,
        ["recommend", str(model_dir), str(path), "--overlap-band", "0.6,0.99", "--tau", "1000"],
    )
    assert res.exit_code == 0, res.output
    assert "RMST(1000 days)" in _text(res) and "poor_overlap" in _text(res)
    res = runner.invoke(app, ["recommend", str(model_dir), str(path), "--arms", "Obs,Surgery"])
    assert res.exit_code == 2
    assert "not trained on arm 'Surgery'" in _text(res) and "Traceback" not in res.output


def test_missing_column_exits_2_with_a_message(model_dir, patients, tmp_path):
    _, table = patients
    bad = tmp_path / "bad.csv"
    table.drop(columns=["nodes"]).to_csv(bad, index=False)
    res = runner.invoke(app, ["recommend", str(model_dir), str(bad)])
    assert res.exit_code == 2
    assert "nodes" in _text(res) and "Traceback" not in res.output


def test_unseen_category_exits_2_with_a_message(model_dir, patients, tmp_path):
    _, table = patients
    bad = tmp_path / "bad.csv"
    table.assign(differ=table["differ"].astype(str).where(table.index != 2, "9")).to_csv(bad, index=False)
    res = runner.invoke(app, ["recommend", str(model_dir), str(bad)])
    assert res.exit_code == 2
    text = _text(res)
    assert "never seen in training" in text and "'differ'" in text and "Traceback" not in res.output


def test_not_a_bundle_and_bad_options(tmp_path, patients):
    path, _ = patients
    res = runner.invoke(app, ["recommend", str(tmp_path), str(path)])
    assert res.exit_code == 2 and "not an oncoplan model bundle" in _text(res)
    assert parse_band("0.1,0.9") == (0.1, 0.9)
    assert parse_penalties("Lev+5FU=30,Lev=10") == {"Lev+5FU": 30.0, "Lev": 10.0}
    with pytest.raises(ConfigError):
        parse_band("0.9,0.1")
    with pytest.raises(ConfigError):
        parse_penalties("Lev+5FU")
