"""``oncoplan report MODEL COHORT -o report.html``: the tumor-board report (HTML, optionally PDF)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import typer

from oncoplan.cli.common import console, err_console, handle_errors
from oncoplan.cli.predict import parse_horizons
from oncoplan.data.sources import load_cohort
from oncoplan.errors import ConfigError
from oncoplan.report.build import build_report
from oncoplan.report.pdf import export_pdf


def _read_policy(path: Path | None) -> pd.DataFrame | None:
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"policy table {path} does not exist")
    table = pd.read_csv(path)
    needed = {"policy", "value", "ci_low", "ci_high"}
    if not needed <= set(table.columns):
        raise ConfigError(
            f"policy table {path} lacks columns {sorted(needed - set(table.columns))}",
            hint="write it from oncoplan.evaluate.policy.evaluate_policies(...).to_csv(path, index=False)",
        )
    return table


@handle_errors
def report(
    model: Path = typer.Argument(..., help="Model bundle folder."),
    cohort: str = typer.Argument(..., help="Cohort to report on (survset:NAME, a file, a spec)."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    pdf: bool = typer.Option(False, "--pdf", help="Also write a PDF next to the HTML (needs Chromium)."),
    spec: Path = typer.Option(None, "--spec", help="Cohort spec for a CSV/Parquet file."),
    n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap resamples for every confidence interval."),
    seed: int = typer.Option(0, help="Seed of every random step."),
    baselines: bool = typer.Option(True, "--baselines/--no-baselines", help="Fit CoxPH and RSF baselines."),
    horizons: str = typer.Option(None, help="Prediction horizons in the cohort's time unit, e.g. 365,1095."),
    subgroup: list[str] = typer.Option(None, "--subgroup", help="Extra categorical covariate for subgroups."),
    policy: Path = typer.Option(None, "--policy", help="Precomputed policy table (CSV) to show."),
    split: Path = typer.Option(None, "--split", help="Split file (default: split.json next to the model)."),
) -> None:
    """Write a self-contained HTML report of MODEL on COHORT for a tumor board."""
    started = time.perf_counter()
    data = load_cohort(cohort, spec)
    with console.status("building the report") as status:
        path = build_report(
            model,
            data,
            out,
            baselines=baselines,
            policy=_read_policy(policy),
            n_boot=n_boot,
            seed=seed,
            split=split,
            horizons=None if horizons is None else parse_horizons(horizons).tolist(),
            subgroups=subgroup or None,
            progress=lambda msg: status.update(f"report: {msg}"),
        )
    console.print(f"wrote [bold]{path}[/bold] in {time.perf_counter() - started:.1f} s")
    if pdf:
        pdf_path = export_pdf(path)
        console.print(f"wrote [bold]{pdf_path}[/bold]")
    else:
        err_console.print("open it in any browser; no network is needed", style="dim")
