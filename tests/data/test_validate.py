"""Every validation error, from a bad file, names the column and rows (and the CLI exits 2, no traceback)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from oncoplan.cli.main import app
from oncoplan.data import load_cohort
from oncoplan.errors import CohortError

GOOD = {
    "pid": ["p1", "p2", "p3", "p4", "p5", "p6"],
    "days": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
    "died": [1, 0, 1, 1, 0, 1],
    "age": [50, 61, 72, 45, 66, 58],
    "stage": ["II", "III", "II", "I", "III", "II"],
    "arm": ["A", "B", "A", "B", "A", "B"],
}
SPEC = {
    "name": "toy",
    "id_column": "pid",
    "time_column": "days",
    "event_column": "died",
    "treatment_column": "arm",
    "numeric": ["age"],
    "categorical": ["stage"],
    "min_arm_size": 2,
}


def write_cohort(tmp_path: Path, data: dict, spec: dict | None = None) -> tuple[Path, Path]:
    csv = tmp_path / "cohort.csv"
    pd.DataFrame(data).to_csv(csv, index=False)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec or SPEC))
    return csv, spec_path


def bad(**changes):
    data = {k: list(v) for k, v in GOOD.items()}
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


CASES = [
    ("missing column", bad(days=None), "time_column 'days' is not in the table"),
    ("non-numeric time", bad(days=[100, "soon", 300, 400, 500, 600]), "non-numeric times in row 2 (ids: p2)"),
    ("negative time", bad(days=[100, 200, -3, 400, 500, 600]), "negative times in row 3 (ids: p3)"),
    ("event not 0/1", bad(died=[1, 0, 2, 1, 0, 1]), "column 'died' (event indicator"),
    ("duplicate ids", bad(pid=["p1", "p1", "p3", "p4", "p5", "p6"]), "duplicate ids ['p1']"),
    ("small arm", bad(arm=["A", "A", "A", "A", "A", "B"]), "arm 'B' has only 1 patients"),
    ("missing treatment", bad(arm=["A", None, "A", "B", "A", "B"]), "never fills in a treatment"),
    ("all-missing column", bad(age=[None] * 6), "column 'age' is missing for every patient"),
]


@pytest.mark.parametrize("label,data,message", CASES, ids=[c[0] for c in CASES])
def test_validation_message(tmp_path, label, data, message):
    csv, spec = write_cohort(tmp_path, data)
    with pytest.raises(CohortError) as info:
        load_cohort(csv, spec)
    assert message in str(info.value)


@pytest.mark.parametrize("label,data,message", CASES, ids=[c[0] for c in CASES])
def test_cli_reports_validation_error_with_exit_code_2(tmp_path, label, data, message):
    csv, spec = write_cohort(tmp_path, data)
    result = CliRunner().invoke(
        app, ["train", str(csv), "--spec", str(spec), "--out", str(tmp_path / "m"), "--quiet"]
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_all_problems_reported_together(tmp_path):
    csv, spec = write_cohort(tmp_path, bad(days=[1, -1, 3, 4, 5, 6], died=[1, 0, 7, 1, 0, 1]))
    with pytest.raises(CohortError, match="2 problem"):
        load_cohort(csv, spec)


def test_valid_file_and_spec_file_with_path(tmp_path):
    csv, spec_path = write_cohort(tmp_path, GOOD)
    cohort = load_cohort(csv, spec_path)
    assert cohort.n_patients == 6 and cohort.arms == ["A", "B"]
    spec_path.write_text(yaml.safe_dump({**SPEC, "path": "cohort.csv"}))
    assert load_cohort(spec_path).n_patients == 6


def test_unseen_category_at_prediction_time_is_named(tmp_path):
    from oncoplan.preprocess.tabular import TabularPreprocessor

    frame = pd.DataFrame({"stage": ["I", "II"], "age": [1.0, 2.0]})
    prep = TabularPreprocessor(["age"], ["stage"]).fit(frame)
    with pytest.raises(CohortError, match=r"column 'stage': \['IV'\] in row 2"):
        prep.transform(pd.DataFrame({"stage": ["I", "IV"], "age": [1.0, 2.0]}))
