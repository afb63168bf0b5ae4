"""``oncoplan predict``: survival at chosen horizons for patients in a table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from oncoplan.cli.common import console, handle_errors
from oncoplan.data.sources.tabular import read_table
from oncoplan.errors import ConfigError
from oncoplan.store.bundle import ModelBundle


def parse_horizons(text: str) -> np.ndarray:
    """``"365,730,1825"`` -> array of horizons (> 0)."""
    try:
        values = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise ConfigError(f"--horizons must be comma-separated numbers, got {text!r}") from None
    if len(values) == 0 or (values <= 0).any():
        raise ConfigError(f"--horizons must be positive numbers, got {text!r}")
    return values


@handle_errors
def predict(
    model: Path = typer.Argument(..., help="Model bundle folder."),
    patients: Path = typer.Argument(..., help="CSV/Parquet with the model's covariate columns."),
    horizons: str = typer.Option(
        "365,730,1825", help="Comma-separated horizons (in the cohort's time unit)."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Write predictions to this CSV."),
) -> None:
    """Predict survival probabilities at HORIZONS for each patient in PATIENTS."""
    bundle = ModelBundle.load(model)
    times = parse_horizons(horizons)
    frame = bundle.frame_from_table(read_table(patients))
    surv = bundle.predict_survival(frame, times)
    risk = bundle.predict_risk(frame)
    unit = bundle.spec.time_unit
    result = pd.DataFrame(surv, index=frame.index, columns=[f"S({t:g} {unit})" for t in times])
    result.insert(0, "risk_score", risk)
    outside = bundle.preprocessor.outside_training_range(frame)
    result["outside_training_data"] = [", ".join(cols) for cols in outside]
    result.index.name = "patient_id"
    if out is not None:
        result.to_csv(out)
        console.print(f"wrote {len(result)} predictions to {out}")
    table = Table(title=f"survival probabilities ({bundle.spec.name} model)")
    table.add_column("patient")
    numeric_cols = [c for c in result.columns if c != "outside_training_data"]
    for col in numeric_cols:
        table.add_column(col, justify="right")
    table.add_column("outside training data")
    for pid, row in result.head(50).iterrows():
        cells = [f"{row[c]:.3f}" for c in numeric_cols]
        table.add_row(str(pid), *cells, row["outside_training_data"] or "-")
    console.print(table)
    n_out = sum(1 for cols in outside if cols)
    if n_out:
        console.print(
            f"[yellow]{n_out} patient(s) have values outside the training data; their predictions "
            "extrapolate and deserve caution[/yellow]"
        )
