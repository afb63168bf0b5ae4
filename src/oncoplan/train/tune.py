"""Hyperparameter search for :class:`~oncoplan.models.survival.DeepSurvival` with Optuna.

A seeded TPE sampler proposes settings from a search space per survival head (:func:`search_space`); each
trial is scored by inner K-fold cross-validation on the training rows only (stratified on event), and
reports its running mean after every fold so Optuna's ``MedianPruner`` can stop poor trials early. The
study stops at ``n_trials`` or ``timeout`` seconds, whichever comes first. Studies are stored in SQLite by
default (a file in the output folder) or in any database URL Optuna accepts
(``postgresql://user@host/db``), so several machines can work on one study; calling again with the same
storage and study name resumes it (more trials are added). Optuna does the searching and storing;
only the search space and the CV objective are written here.

Example:
    >>> from sksurv.datasets import load_whas500
    >>> from sksurv.column import encode_categorical
    >>> X, y = load_whas500()
    >>> X = encode_categorical(X).to_numpy(dtype=float)
    >>> result = tune_survival(X, y, head="cox", n_trials=2, cv=2,
    ...                        base_params={"max_epochs": 5})  # doctest: +SKIP
    >>> sorted(result.best_params)[:2]  # doctest: +SKIP
    ['dropout', 'hidden']
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from sklearn.model_selection import StratifiedKFold
from sksurv.util import check_array_survival

from oncoplan.errors import ConfigError, ModelError
from oncoplan.evaluate.survival import antolini_c, evaluation_times, harrell_c, integrated_brier_score
from oncoplan.models.adapters import HEADS
from oncoplan.models.survival import DeepSurvival

logger = logging.getLogger(__name__)

METRICS = ("antolini", "harrell", "ibs")
GRID_HEADS = ("logistic_hazard", "pc_hazard", "deephit")
TrialProgress = Callable[[int, int, float | None], None]


@dataclass
class TuneResult:
    """Outcome of :func:`tune_survival`.

    ``best_params`` are keyword arguments of :class:`DeepSurvival` (search space merged with the fixed
    ``base_params``); ``best_score`` is the inner-CV mean (C-index, or minus the IBS); ``model`` is the
    estimator refitted on all rows with ``best_params`` (None with ``refit=False``).
    """

    best_params: dict[str, Any]
    best_score: float
    study_name: str
    storage: str | None
    n_trials: int
    n_pruned: int
    model: DeepSurvival | None = None
    trials: list[dict[str, Any]] = field(default_factory=list)


def _heads(head: str) -> list[str]:
    names = [h.strip() for h in head.split("+") if h.strip()]
    unknown = [h for h in names if h not in HEADS]
    if not names or unknown:
        raise ConfigError(f"unknown survival head {head!r}", hint=f"one of {', '.join(sorted(HEADS))}")
    return names


def search_space(trial: optuna.Trial, head: str) -> dict[str, Any]:
    """Sample :class:`DeepSurvival` settings for ``head`` (one name, or several joined by ``+``).

    Shared: learning rate (1e-4..1e-2, log), weight decay (1e-6..1e-1, log), dropout (0..0.5), 1-3 hidden
    layers of 16-256 units, linear skip path on/off, and the ensemble's capacity (auto, regularised, mixed or
    flexible; see :class:`~oncoplan.models.survival.DeepSurvival`: cohorts such as WHAS reward the flexible
    setting, small noisy ones the regularised). Grid heads (logistic_hazard, pc_hazard, deephit): the
    number of quantile time cuts (5..50); deephit also its ranking-loss weight ``alpha`` (0.05..0.95) and
    ``sigma`` (0.01..1, log).

    Example:
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> params = search_space(study.ask(), "deephit")
        >>> sorted(params["head_options"]["deephit"])
        ['alpha', 'n_cuts', 'sigma']
    """
    names = _heads(head)
    n_layers = trial.suggest_int("n_layers", 1, 3)
    width = trial.suggest_categorical("width", [16, 32, 64, 128, 256])
    params: dict[str, Any] = {
        "head": head,
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "hidden": tuple([width] * n_layers),
        "linear_skip": trial.suggest_categorical("linear_skip", [True, False]),
        "capacity": trial.suggest_categorical("capacity", ["auto", "regularised", "mixed", "flexible"]),
    }
    options: dict[str, dict[str, Any]] = {}
    for name in names:
        if name in GRID_HEADS:
            options[name] = {"n_cuts": trial.suggest_int(f"{name}_n_cuts", 5, 50)}
        if name == "deephit":
            options[name]["alpha"] = trial.suggest_float("deephit_alpha", 0.05, 0.95)
            options[name]["sigma"] = trial.suggest_float("deephit_sigma", 0.01, 1.0, log=True)
    if options:
        params["head_options"] = options
    return params


def cv_score(
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    cv: int = 3,
    metric: str = "antolini",
    seed: int = 0,
    report: Callable[[int, float], None] | None = None,
) -> float:
    """Mean inner-CV score of ``DeepSurvival(**params)``: a C-index (higher is better) or minus the IBS.

    ``report(fold, running_mean)`` is called after each fold (the tuner prunes there).

    Example:
        >>> cv_score({"max_epochs": 5}, X, y, cv=2)  # doctest: +SKIP
        0.71
    """
    if metric not in METRICS:
        raise ConfigError(f"unknown tuning metric {metric!r}", hint=f"one of {', '.join(METRICS)}")
    event, time = (np.asarray(a) for a in check_array_survival(X, y))
    event = event.astype(bool)
    folds = StratifiedKFold(int(cv), shuffle=True, random_state=seed)
    scores: list[float] = []
    for k, (tr, va) in enumerate(folds.split(X, event.astype(int))):
        model = DeepSurvival(**{**params, "random_state": seed}).fit(X[tr], y[tr])
        if metric == "harrell":
            score = harrell_c(event[va], time[va], model.predict(X[va]))
        else:
            surv = model.predict_survival_function(X[va], return_array=True)
            if metric == "antolini":
                score = antolini_c(event[va], time[va], surv, model.unique_times_)
            else:
                grid = evaluation_times(time[tr], time[va], event[va], n=30)
                score = -integrated_brier_score(
                    event[tr], time[tr], event[va], time[va], surv, grid, curve_times=model.unique_times_
                )
        scores.append(float(score))
        if report is not None:
            report(k, float(np.mean(scores)))
    return float(np.mean(scores))


def default_storage(out_dir: str | Path) -> str:
    """The SQLite URL of a study kept in ``out_dir`` (``sqlite:///OUT/tune.sqlite3``).

    Example:
        >>> default_storage("/tmp/run").endswith("run/tune.sqlite3")
        True
    """
    return f"sqlite:///{Path(out_dir).resolve() / 'tune.sqlite3'}"


def open_study(storage: str | None, study_name: str, seed: int, head: str, metric: str) -> optuna.Study:
    """Create or resume a maximising study; a bad storage URL or a head/metric clash is a ConfigError.

    Example:
        >>> open_study(None, "demo", seed=0, head="cox", metric="antolini").direction.name
        'MAXIMIZE'
    """
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            sampler=sampler,
            pruner=pruner,
            direction="maximize",
            load_if_exists=True,
        )
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy / driver errors vary by backend
        raise ConfigError(
            f"cannot open the tuning storage {storage!r}: {type(exc).__name__}: {exc}",
            hint="use a database URL such as sqlite:///path/tune.sqlite3 or postgresql://user@host/db",
        ) from None
    for key, value in (("head", head), ("metric", metric)):
        known = study.user_attrs.get(key)
        if known is not None and known != value:
            raise ConfigError(
                f"study {study_name!r} in {storage} was run with {key}={known!r}, not {value!r}",
                hint="choose another --study-name, or the same settings to resume it",
            )
        study.set_user_attr(key, value)
    return study


def _objective(X, y, head, base_params, cv, metric, seed):
    def objective(trial: optuna.Trial) -> float:
        params = {**search_space(trial, head), **base_params}

        def report(fold: int, running: float) -> None:
            trial.report(running, fold)
            if trial.should_prune():
                raise optuna.TrialPruned()

        return cv_score(params, X, y, cv=cv, metric=metric, seed=seed, report=report)

    return objective


def params_from_trial(trial: optuna.trial.FrozenTrial, head: str, base_params: dict | None = None) -> dict:
    """Rebuild the :class:`DeepSurvival` keyword arguments of a finished trial.

    Example:
        >>> study = optuna.create_study()
        >>> study.enqueue_trial({"n_layers": 1, "width": 16})
        >>> study.optimize(lambda t: len(search_space(t, "cox")["hidden"]), n_trials=1)
        >>> params_from_trial(study.best_trial, "cox")["hidden"]
        (16,)
    """
    fixed = optuna.trial.FixedTrial(trial.params)
    return {**search_space(fixed, head), **(base_params or {})}


def tune_survival(
    X: np.ndarray,
    y: np.ndarray,
    head: str = "cox",
    n_trials: int = 20,
    timeout: float | None = None,
    cv: int = 3,
    metric: str = "antolini",
    storage: str | None = None,
    study_name: str | None = None,
    seed: int = 0,
    base_params: dict[str, Any] | None = None,
    refit: bool = True,
    refit_params: dict[str, Any] | None = None,
    progress: TrialProgress | None = None,
) -> TuneResult:
    """Search :class:`DeepSurvival` settings for ``head`` by inner CV and refit the best on all rows.

    Args:
        X, y: numeric training matrix and scikit-survival target (training rows only: keep test rows out).
        head: survival head (or heads joined by ``+``) whose search space is used.
        n_trials: trials to add in this call (a resumed study keeps its earlier trials).
        timeout: stop starting new trials after this many seconds (None: no limit).
        cv: inner folds per trial (stratified on event); the running mean is reported after each fold.
        metric: 'antolini' (time-dependent C), 'harrell' (C on risk scores) or 'ibs' (minimised).
        storage: Optuna storage URL (``sqlite:///file``, ``postgresql://...``); None keeps it in memory.
        study_name: name in the storage (default ``oncoplan-<head>-<metric>``).
        seed: seeds the TPE sampler, the inner folds and every model.
        base_params: fixed :class:`DeepSurvival` settings during the search (default: one member, 200
            epochs, so trials stay cheap).
        refit: fit the best settings on all rows and return the model.
        refit_params: overrides for the refit only (e.g. ``{"n_ensemble": 6}``).
        progress: ``progress(trials_done, n_trials, best_score)`` after each trial.

    Returns:
        :class:`TuneResult`.
    """
    names = _heads(head)
    if int(n_trials) < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}")
    if int(cv) < 2:
        raise ConfigError(f"cv must be >= 2 inner folds, got {cv}")
    if metric not in METRICS:
        raise ConfigError(f"unknown tuning metric {metric!r}", hint=f"one of {', '.join(METRICS)}")
    event = np.asarray(check_array_survival(X, y)[0], dtype=bool)
    if event.sum() < 2 * cv:
        raise ModelError(f"only {int(event.sum())} events: too few for {cv}-fold tuning", hint="lower --cv")
    base = {"n_ensemble": 1, **(base_params or {})}
    study_name = study_name or f"oncoplan-{'+'.join(names)}-{metric}"
    study = open_study(storage, study_name, seed, head, metric)
    before = len(study.trials)
    started = _time.perf_counter()

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress is not None:
            done = len(study.trials) - before
            best = _best_value(study)
            progress(done, int(n_trials), best)

    study.optimize(
        _objective(X, y, head, base, cv, metric, seed),
        n_trials=int(n_trials),
        timeout=timeout,
        callbacks=[callback],
        gc_after_trial=False,
    )
    logger.info("tuning took %.1f s", _time.perf_counter() - started)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ModelError(
            f"no tuning trial of study {study_name!r} finished",
            hint="raise --timeout or --trials, or check the training data",
        )
    best_params = params_from_trial(study.best_trial, head, base)
    model = None
    if refit:
        final = {**best_params, **(refit_params or {}), "random_state": seed}
        model = DeepSurvival(**final).fit(X, y)
    return TuneResult(
        best_params=best_params,
        best_score=float(study.best_value),
        study_name=study_name,
        storage=storage,
        n_trials=len(study.trials),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        model=model,
        trials=[
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params}
            for t in study.trials
        ],
    )


def _best_value(study: optuna.Study) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no completed trial yet
        return None


__all__ = [
    "METRICS",
    "TuneResult",
    "cv_score",
    "default_storage",
    "open_study",
    "params_from_trial",
    "search_space",
    "tune_survival",
]
