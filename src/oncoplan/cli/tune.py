"""``oncoplan tune``: Optuna search of a deep survival model's settings, then refit and save the bundle."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import optuna
import typer

from oncoplan.cli.common import (
    COHORT_ARGUMENT,
    SPEC_OPTION,
    console,
    counter_progress,
    handle_errors,
    holdout_training_rows,
)
from oncoplan.data.sources import load_cohort
from oncoplan.errors import ConfigError
from oncoplan.preprocess.tabular import TabularPreprocessor
from oncoplan.train.tune import default_storage, tune_survival
from oncoplan.train.workflow import train_survival_model


@contextmanager
def _trial_progress(description: str, enabled: bool):
    with counter_progress(description, "trial", enabled) as update:

        def on_trial(done: int, total: int, best: float | None) -> None:
            update(done, total, "" if best is None else f"best {best:.4f}")

        yield on_trial


@handle_errors
def tune(
    cohort: str = COHORT_ARGUMENT,
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the study, best settings and bundle."),
    spec: Path = SPEC_OPTION,
    head: str = typer.Option("cox", "--head", "--model", help="Survival head(s), e.g. cox or cox+deephit."),
    trials: int = typer.Option(20, "--trials", help="Trials to add in this call."),
    timeout: float = typer.Option(None, "--timeout", help="Stop starting trials after this many seconds."),
    cv: int = typer.Option(3, "--cv", help="Inner folds per trial."),
    metric: str = typer.Option("antolini", "--metric", help="antolini, harrell or ibs."),
    storage: str = typer.Option(
        None, "--storage", help="Optuna storage URL (default: sqlite file in --out); share one to resume."
    ),
    study_name: str = typer.Option(None, "--study-name", help="Study name in the storage."),
    epochs: int = typer.Option(200, "--epochs", help="Maximum epochs per fit."),
    ensemble: int = typer.Option(1, "--ensemble", help="Deep-ensemble members of the refitted model."),
    seed: int = typer.Option(0, help="Random seed (sampler, folds, models)."),
    holdout: float = typer.Option(0.0, help="Keep this share of patients out (written to split.json)."),
    no_treatment: bool = typer.Option(False, "--no-treatment", help="Do not use the treatment as input."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Tune a deep survival model by inner cross-validation and save the refitted bundle."""
    if ensemble < 1 or epochs < 1:
        raise ConfigError("--ensemble and --epochs must be >= 1")
    data = load_cohort(cohort, spec)
    rows = holdout_training_rows(data, out, holdout, seed)
    train = data if rows is None else data.subset(rows)
    include_treatment = not no_treatment
    numeric, categorical = train.feature_types(include_treatment)
    X = TabularPreprocessor(numeric=numeric, categorical=categorical).fit_transform(
        train.features(include_treatment)
    )
    storage_url = storage or default_storage(out)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _trial_progress(f"tuning {head} on {data.name}", enabled=not quiet) as progress:
        result = tune_survival(
            X,
            train.y,
            head=head,
            n_trials=trials,
            timeout=timeout,
            cv=cv,
            metric=metric,
            storage=storage_url,
            study_name=study_name,
            seed=seed,
            base_params={"max_epochs": epochs},
            refit=False,
            progress=progress,
        )
    params = {**result.best_params, "n_ensemble": ensemble}
    summary = {
        "study_name": result.study_name,
        "storage": storage_url,
        "metric": metric,
        "best_score": result.best_score,
        "trials": result.n_trials,
        "pruned": result.n_pruned,
        "best_params": {**params, "hidden": list(params["hidden"])},
    }
    (out / "tune.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    bundle = train_survival_model(data, rows, params, include_treatment=include_treatment, seed=seed)
    bundle.metadata["tuning"] = summary
    bundle.save(out / "model")
    console.print(
        f"best inner-CV {metric}: [bold]{result.best_score:.4f}[/bold] "
        f"({result.n_trials} trials, {result.n_pruned} pruned); model saved to [bold]{out / 'model'}[/bold]"
    )
