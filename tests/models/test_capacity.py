"""Capacity check: the per-patient Brier score averages to scikit-survival's IBS, the paired z equals scipy's
paired t statistic, and DeepSurvival's auto mode keeps the regularised probe bit for bit when it stays
regularised and encodes every member when it goes flexible."""

import numpy as np
import pytest
import torch
from scipy import stats
from sksurv.metrics import integrated_brier_score
from sksurv.util import Surv

from oncoplan.models.capacity import (
    evaluation_grid,
    flexible_settings,
    paired_loss_test,
    per_patient_brier,
)
from oncoplan.models.survival import DeepSurvival

FAST = {"max_epochs": 15, "hidden": (16,), "patience": 5}


def test_per_patient_brier_averages_to_scikit_survival_ibs(xy):
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    X, y = xy
    train, val = np.arange(len(X)) % 4 != 0, np.arange(len(X)) % 4 == 0
    cox = CoxPHSurvivalAnalysis(alpha=0.1).fit(X[train], y[train])
    times = evaluation_grid(y["time"][train], y["event"][train], y["time"][val])
    surv = np.vstack([fn(times) for fn in cox.predict_survival_function(X[val])])
    per_patient = per_patient_brier(
        surv, times, y["time"][val], y["event"][val], y["time"][train], y["event"][train]
    )
    assert per_patient.shape == (val.sum(),) and np.all(per_patient >= 0)
    expected = integrated_brier_score(y[train], y[val], surv, times)
    np.testing.assert_allclose(per_patient.mean(), expected, rtol=1e-10)


def test_paired_test_matches_scipy_paired_t_statistic():
    rng = np.random.default_rng(3)
    regular = rng.gamma(2.0, 0.1, 300)
    flexible = regular - 0.01 + rng.normal(0, 0.05, 300)
    check = paired_loss_test(regular, flexible)
    np.testing.assert_allclose(check.z, stats.ttest_rel(regular, flexible).statistic, rtol=1e-12)
    assert check.prefer_flexible == (check.z > 2.0) and check.n_patients == 300
    assert not paired_loss_test(regular, regular + 0.01).prefer_flexible  # flexible worse: never chosen
    assert not paired_loss_test(regular[:1], flexible[:1]).prefer_flexible  # one patient: no evidence


def test_flexible_settings():
    assert flexible_settings(20, 200, 0.2) == {
        "dropout": 0.0,
        "weight_decay": 0.0,
        "patience": 50,
        "max_epochs": 400,
        "validation_fraction": 0.1,
    }


def test_auto_capacity_drops_the_free_members_when_they_are_clearly_worse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))  # covariates carry no signal: freedom can only overfit
    y = Surv.from_arrays(rng.random(300) < 0.7, rng.exponential(10.0, 300))
    auto = DeepSurvival(n_ensemble=4, random_state=0, capacity="auto").fit(X, y)
    assert auto.capacity_check_["n_patients"] == 60  # the pair's shared 20% validation split
    assert auto.capacity_check_["z"] < -2.0 and auto.capacity_ == "regularised"
    assert auto.embeddings_ == ["none", "none"] and auto.member_dropout_ == [auto.dropout] * 2
    assert [a.name for a in auto.adapters_] == ["cox", "logistic_hazard"]  # members 0 and 3 of 4
    mixed = DeepSurvival(n_ensemble=4, random_state=0, capacity="mixed").fit(X, y)
    np.testing.assert_array_equal(  # member 0 is the same network in both (its split is the pair's)
        auto._member_outputs(X[:20])[0], mixed._member_outputs(X[:20])[0]
    )


def test_auto_capacity_frees_every_member_when_patients_repeat(xy):
    X, y = xy
    rows = np.tile(np.arange(150), 4)  # every patient four times under new ids: memorising pays
    auto = DeepSurvival(n_ensemble=2, random_state=0, capacity="auto", hidden=(32,)).fit(X[rows], y[rows])
    assert auto.capacity_ == "flexible" and auto.capacity_check_["z"] > 2.0
    assert auto.embeddings_ == ["ple", "ple"] and auto.member_dropout_ == [0.0, 0.0]
    twin = DeepSurvival.from_exported_state(*auto.export_state())
    np.testing.assert_array_equal(twin.predict(X[:50]), auto.predict(X[:50]))


def test_flexible_capacity_encodes_every_member_and_round_trips(xy):
    X, y = xy
    model = DeepSurvival(n_ensemble=2, random_state=0, capacity="flexible", n_bins=5, **FAST).fit(
        X[:400], y[:400]
    )
    assert model.capacity_ == "flexible" and model.embeddings_ == ["ple", "ple"]
    assert all(net.embedding is not None for net in model.networks_)
    assert model.member_dropout_ == [0.0, 0.0] and model.capacity_overrides_ == {}  # reset after fitting
    assert not any(isinstance(m, torch.nn.Dropout) for net in model.networks_ for m in net.modules())
    twin = DeepSurvival.from_exported_state(*model.export_state())
    np.testing.assert_array_equal(twin.predict(X[400:]), model.predict(X[400:]))


def test_bad_capacity_is_a_clear_error(xy):
    from oncoplan.errors import ConfigError

    X, y = xy
    with pytest.raises(ConfigError, match="capacity"):
        DeepSurvival(capacity="huge", n_ensemble=1, **FAST).fit(X[:100], y[:100])


def test_mixed_capacity_frees_only_the_encoded_members(xy):
    X, y = xy
    kw = {"n_ensemble": 4, "random_state": 0, "n_bins": 5, **FAST}
    mixed = DeepSurvival(capacity="mixed", **kw).fit(X[:300], y[:300])
    assert mixed.capacity_ == "mixed" and mixed.embeddings_ == ["none", "ple", "ple", "none"]
    regular = DeepSurvival(capacity="regularised", **kw).fit(X[:300], y[:300])
    for member in range(4):
        same = np.array_equal(
            mixed._member_outputs(X[300:])[member], regular._member_outputs(X[300:])[member]
        )
        assert same == (mixed.embeddings_[member] == "none"), member  # plain members are the regularised ones
        dropout = [m.p for m in mixed.networks_[member].modules() if isinstance(m, torch.nn.Dropout)]
        expected = [] if mixed.embeddings_[member] == "ple" else [mixed.dropout]  # no dropout layer when free
        assert dropout == expected
