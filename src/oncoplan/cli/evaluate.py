"""``oncoplan evaluate``: C-index with bootstrap CI and IBS of a saved model on a cohort."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from oncoplan.cli.common import console, handle_errors
from oncoplan.data.sources import load_cohort
from oncoplan.data.splits import Split
from oncoplan.evaluate.summary import evaluate_survival_bundle
from oncoplan.store.bundle import ModelBundle


@handle_errors
def evaluate(
    model: Path = typer.Argument(..., help="Model bundle folder."),
    cohort: str = typer.Argument(..., help="Cohort to evaluate on."),
    spec: Path = typer.Option(None, "--spec", help="Cohort spec for a CSV/Parquet file."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples for the CI."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    json_out: Path = typer.Option(None, "--json", help="Also write the metrics to this JSON file."),
) -> None:
    """Evaluate MODEL on COHORT (on the held-out part when the model has a split.json for it)."""
    bundle = ModelBundle.load(model)
    data = load_cohort(cohort, spec)
    test, reference = data, data
    split_file = model / "split.json"
    if split_file.exists() and data.data_hash() == bundle.metadata.get("data_hash"):
        split = Split.from_json(split_file, data)
        test, reference = data.subset(split.parts["test"]), data.subset(split.parts["train"])
        console.print(f"evaluating on the held-out {test.n_patients} patients of {data.name}")
    result = evaluate_survival_bundle(bundle, test, reference, n_boot=n_boot, seed=seed)
    console.print(str(result["c_index"]))
    console.print(f"Integrated Brier score {result['ibs']:.4f}")
    if json_out is not None:
        payload = {"c_index": result["c_index"].to_dict(), "ibs": result["ibs"], "patients": test.n_patients}
        json_out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
