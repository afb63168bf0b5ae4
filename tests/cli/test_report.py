"""`oncoplan report MODEL COHORT -o report.html`: writes the file for a quick-trained model; bad input exits
with code 2 and a readable message, never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from oncoplan.cli.main import app
from oncoplan.data.splits import holdout_split
from oncoplan.train.workflow import train_survival_model

runner = CliRunner()


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory, colon):
    folder = tmp_path_factory.mktemp("cli-report")
    split = holdout_split(colon, (0.8, 0.2), seed=0)
    split.to_json(folder / "split.json")
    bundle = train_survival_model(colon, split.parts["train"], {"max_epochs": 2, "n_ensemble": 1}, seed=0)
    bundle.save(folder / "model")
    return folder / "model"


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_report_command_writes_the_html(quick_model, tmp_path):
    out = tmp_path / "nested" / "report.html"
    res = runner.invoke(
        app,
        ["report", str(quick_model), "survset:colon", "-o", str(out), "--n-boot", "10", "--no-baselines"],
    )
    assert res.exit_code == 0, res.output
    assert out.is_file() and out.stat().st_size > 1_000_000
    html = out.read_text(encoding="utf-8")
    assert 'id="performance"' in html and 'id="policy"' in html and "Held-out test set" in html
    assert "wrote" in res.output


def test_report_bad_cohort_name_exits_2(quick_model, tmp_path):
    res = runner.invoke(
        app, ["report", str(quick_model), "survset:no_such_cohort", "-o", str(tmp_path / "r.html")]
    )
    assert res.exit_code == 2
    assert "no_such_cohort" in _flat(res.output)
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    assert not (tmp_path / "r.html").exists()


def test_report_missing_model_exits_2(tmp_path):
    res = runner.invoke(
        app, ["report", str(tmp_path / "nope"), "survset:colon", "-o", str(tmp_path / "r.html")]
    )
    assert res.exit_code == 2
    assert "not an oncoplan model bundle" in _flat(res.output)
    assert "Traceback" not in res.output
    assert not (tmp_path / "r.html").exists()


def test_report_wrong_suffix_and_bad_n_boot_exit_2(quick_model, tmp_path):
    res = runner.invoke(app, ["report", str(quick_model), "survset:colon", "-o", str(tmp_path / "r.pdf")])
    assert res.exit_code == 2 and ".html" in _flat(res.output)
    res = runner.invoke(
        app, ["report", str(quick_model), "survset:colon", "-o", str(tmp_path / "r.html"), "--n-boot", "3"]
    )
    assert res.exit_code == 2 and "n_boot" in _flat(res.output)
    assert "Traceback" not in res.output
