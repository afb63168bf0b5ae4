"""``oncoplan train-effects``: train a treatment-effect model (every arm forecast) and save the bundle.

Example:
    $ oncoplan train-effects survset:colon --out effect_model/
    $ oncoplan recommend effect_model/ patients.csv
"""

from __future__ import annotations

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
from oncoplan.recommend.pipeline import train_effect_model


@handle_errors
def train_effects(
    cohort: str = COHORT_ARGUMENT,
    out: Path = OUT_OPTION,
    spec: Path = SPEC_OPTION,
    head: str = typer.Option(
        "logistic_hazard",
        "--head",
        help="Per-arm survival head: logistic_hazard, pc_hazard, deephit, weibull, lognormal or cox "
        "(cox needs --ipw none).",
    ),
    epochs: int = typer.Option(200, help="Maximum epochs."),
    ensemble: int = typer.Option(5, help="Deep-ensemble members (bootstrap resamples)."),
    tau: float = typer.Option(None, help="RMST horizon (default: 5 years in the cohort's time unit)."),
    ipw: str = typer.Option(
        None,
        help="Inverse-propensity weights of the factual loss: logistic or none (default: none for a cohort "
        "declared randomised, logistic otherwise).",
    ),
    seed: int = typer.Option(0, help="Random seed."),
    holdout: float = typer.Option(0.0, help="Keep this share of patients out (written to split.json)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a treatment-effect model (one outcome head per arm) and save it as a bundle."""
    data = load_cohort(cohort, spec)
    rows = holdout_training_rows(data, out, holdout, seed)
    params = {"head": head, "max_epochs": epochs, "n_ensemble": ensemble, "bootstrap": True}
    if ipw is not None:
        params["ipw"] = ipw
    with epoch_progress(f"training a {head} effect model on {data.name}", enabled=not quiet) as progress:
        bundle = train_effect_model(data, rows, params, tau=tau, seed=seed, progress=progress)
    bundle.save(out)
    meta = bundle.metadata
    console.print(f"saved treatment-effect model to [bold]{out}[/bold]")
    console.print(
        f"arms {', '.join(meta['arms'])}; best on average in training: {meta['default_arm']} "
        f"(RMST up to tau = {meta['tau']:g}); trained on {meta['train_patients']} patients"
        + ("; arm averages anchored to Kaplan-Meier" if meta.get("anchored_to_kaplan_meier") else "")
    )
