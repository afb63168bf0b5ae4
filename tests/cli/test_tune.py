"""``oncoplan tune`` end to end with a tiny study (CliRunner), and a bad storage URL (exit code 2)."""

import json

import typer
from typer.testing import CliRunner

from oncoplan.cli.tune import tune
from oncoplan.store.bundle import ModelBundle

app = typer.Typer()
app.command()(tune)


def test_tune_command_saves_study_and_bundle(tmp_path):
    out = tmp_path / "run"
    args = ["survset:GBSG2", "--out", str(out), "--trials", "2", "--cv", "2", "--epochs", "3", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tune.json").read_text())
    assert summary["trials"] == 2 and summary["storage"].startswith("sqlite:///")
    assert (out / "tune.sqlite3").exists()
    bundle = ModelBundle.load(out / "model")
    assert bundle.metadata["tuning"]["best_score"] == summary["best_score"]


def test_tune_command_bad_storage_is_exit_code_2(tmp_path):
    args = ["survset:GBSG2", "--out", str(tmp_path), "--trials", "1", "--storage", "nosuchdb://x", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "storage" in result.output and "Traceback" not in result.output
