"""Optuna tuning: a tiny study runs, persists to SQLite, resumes, and rejects bad storage clearly."""

import numpy as np
import optuna
import pytest

from oncoplan.errors import ConfigError
from oncoplan.models.survival import DeepSurvival
from oncoplan.preprocess.tabular import TabularPreprocessor
from oncoplan.train.tune import cv_score, default_storage, params_from_trial, search_space, tune_survival

TINY = {"max_epochs": 4, "patience": 2}


@pytest.fixture(scope="module")
def xy():
    from oncoplan.data import load_cohort

    cohort = load_cohort("survset:GBSG2")
    numeric, categorical = cohort.feature_types()
    X = TabularPreprocessor(numeric, categorical).fit_transform(cohort.features())
    rows = np.random.default_rng(0).permutation(len(X))[:300]
    return X[rows], cohort.y[rows]


def test_tiny_study_persists_and_resumes(xy, tmp_path):
    X, y = xy
    storage = default_storage(tmp_path)
    first = tune_survival(X, y, head="cox", n_trials=2, cv=2, storage=storage, base_params=TINY, seed=0)
    assert first.n_trials == 2 and isinstance(first.model, DeepSurvival)
    assert first.model.n_features_in_ == X.shape[1]
    assert 0.5 < first.best_score < 1.0
    assert (tmp_path / "tune.sqlite3").exists()
    loaded = optuna.load_study(study_name=first.study_name, storage=storage)
    assert len(loaded.trials) == 2 and loaded.user_attrs["head"] == "cox"
    second = tune_survival(X, y, head="cox", n_trials=1, cv=2, storage=storage, base_params=TINY, refit=False)
    assert second.n_trials == 3 and second.model is None
    assert second.best_score >= first.best_score
    with pytest.raises(ConfigError, match="head"):
        tune_survival(X, y, head="deephit", n_trials=1, storage=storage, study_name=first.study_name)


def test_best_params_reproduce_the_best_trial_score(xy):
    X, y = xy
    result = tune_survival(X, y, head="deephit", n_trials=2, cv=2, base_params=TINY, seed=1, refit=False)
    assert result.best_params["head_options"]["deephit"]["n_cuts"] >= 5
    again = cv_score(result.best_params, X, y, cv=2, seed=1)
    assert again == pytest.approx(result.best_score, abs=1e-12)  # seeded: the best score is reproducible


def test_bad_storage_and_settings_are_config_errors(xy):
    X, y = xy
    with pytest.raises(ConfigError, match="storage"):
        tune_survival(X, y, n_trials=1, storage="nosuchdb://nowhere/x", base_params=TINY)
    with pytest.raises(ConfigError, match="metric"):
        tune_survival(X, y, n_trials=1, metric="auc")
    with pytest.raises(ConfigError, match="head"):
        tune_survival(X, y, head="svm", n_trials=1)


def test_search_space_per_head():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    params = search_space(trial, "cox+logistic_hazard")
    assert set(params["head_options"]) == {"logistic_hazard"}
    assert 1e-4 <= params["lr"] <= 1e-2 and 0 <= params["dropout"] <= 0.5
    assert params["capacity"] in ("auto", "regularised", "mixed", "flexible")
    DeepSurvival(**params)._member_heads()  # a valid configuration
    study.tell(trial, 0.6)
    assert params_from_trial(study.best_trial, "cox+logistic_hazard") == params
