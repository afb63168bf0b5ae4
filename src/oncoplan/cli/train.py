"""``oncoplan train``: train a survival model on a cohort and save the bundle."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from oncoplan.cli.common import (
    COHORT_ARGUMENT,
    OUT_OPTION,
    SPEC_OPTION,
    console,
    epoch_progress,
    handle_errors,
    holdout_training_rows,
)
from oncoplan.data.sources import load_cohort
from oncoplan.train.workflow import train_survival_model


@handle_errors
def train(
    cohort: str = COHORT_ARGUMENT,
    out: Path = OUT_OPTION,
    spec: Path = SPEC_OPTION,
    head: str = typer.Option(
        "cox+logistic_hazard",
        "--model",
        "--head",
        help="Survival head: cox, logistic_hazard, pc_hazard, deephit, weibull or lognormal; join several "
        "with + to alternate them across ensemble members (default: the benchmarked cox+logistic_hazard).",
    ),
    epochs: int = typer.Option(200, help="Maximum epochs."),
    ensemble: int = typer.Option(6, help="Deep-ensemble members (twice as many on screened gene inputs)."),
    capacity: str = typer.Option(
        "auto",
        help="Member regularisation: auto (default: a held-out member pair decides between mixed, "
        "flexible and regularised), mixed, regularised or flexible.",
    ),
    seed: int = typer.Option(0, help="Random seed."),
    holdout: float = typer.Option(0.0, help="Keep this share of patients out (written to split.json)."),
    no_treatment: bool = typer.Option(False, "--no-treatment", help="Do not use the treatment as input."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a deep survival model and save it as a bundle."""
    data = load_cohort(cohort, spec)
    rows = holdout_training_rows(data, out, holdout, seed)
    params = {"head": head, "max_epochs": epochs, "n_ensemble": ensemble, "capacity": capacity}
    with epoch_progress(f"training {head} on {data.name}", enabled=not quiet) as progress:
        bundle = train_survival_model(
            data, rows, params, include_treatment=not no_treatment, seed=seed, progress=progress
        )
    bundle.save(out)
    console.print(f"saved model to [bold]{out}[/bold]")
    console.print(json.dumps(data.summary()))
