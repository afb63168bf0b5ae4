"""A small model trained on a held-out split of the colon trial, and one report built from it."""

from __future__ import annotations

import numpy as np
import pytest

from oncoplan.data.splits import holdout_split
from oncoplan.train.workflow import train_survival_model

N_BOOT = 20


@pytest.fixture(scope="session")
def colon_model(tmp_path_factory, colon):
    """Folder with a 5-epoch bundle and the split.json of its 85/15 holdout (as `oncoplan train` writes)."""
    folder = tmp_path_factory.mktemp("colon-model")
    split = holdout_split(colon, (0.85, 0.15), seed=0)
    split.to_json(folder / "split.json")
    bundle = train_survival_model(colon, split.parts["train"], {"max_epochs": 5, "n_ensemble": 1}, seed=0)
    bundle.save(folder)
    return folder, split


@pytest.fixture(scope="session")
def colon_report(colon_model, colon):
    """(ReportData, HTML text) of the colon report with baselines, computed once."""
    from oncoplan.report.build import collect_report, render_report

    folder, _ = colon_model
    data = collect_report(folder, colon, baselines=True, n_boot=N_BOOT, seed=0)
    return data, render_report(data, generated="2026-01-01 00:00 UTC")


@pytest.fixture(scope="session")
def colon_report_file(tmp_path_factory, colon_report):
    path = tmp_path_factory.mktemp("report") / "colon.html"
    path.write_text(colon_report[1], encoding="utf-8")
    return path


def rows_of(split, part: str) -> np.ndarray:
    return np.sort(split.parts[part])
