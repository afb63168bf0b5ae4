"""DeepSurvival: scikit-survival contract, determinism, Pipeline / cross_val_score, no collapse."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score
from sksurv.metrics import as_concordance_index_ipcw_scorer

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.pipeline import make_survival_pipeline
from oncoplan.models.survival import DeepSurvival

FAST = {"max_epochs": 15, "hidden": (16,), "patience": 5}


def test_same_seed_same_predictions_bit_for_bit(xy):
    X, y = xy
    a = DeepSurvival(random_state=3, **FAST).fit(X, y)
    b = DeepSurvival(random_state=3, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(
        a.predict_survival_function(X, return_array=True), b.predict_survival_function(X, return_array=True)
    )
    c = DeepSurvival(random_state=4, **FAST).fit(X, y)
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_survival_curves_are_valid(xy):
    X, y = xy
    model = DeepSurvival(random_state=0, n_ensemble=2, capacity="mixed", **FAST).fit(
        X, y
    )  # keep both members
    surv = model.predict_survival_function(X[:30], return_array=True)
    assert surv.shape == (30, len(model.unique_times_))
    assert np.all((surv >= 0) & (surv <= 1))
    assert np.all(np.diff(surv, axis=1) <= 1e-12)
    np.testing.assert_array_equal(model.unique_times_, np.unique(y["time"][y["event"]]))
    fns = model.predict_survival_function(X[:2])
    np.testing.assert_allclose(fns[0](model.unique_times_), surv[0], rtol=1e-6)  # float32, other batch
    members = model.member_survival(X[:5])
    assert members.shape[0] == 2 and not np.allclose(members[0], members[1])
    assert model.score(X, y) > 0.6  # Harrell's C on training data: the model learned something


def test_clone_and_params(xy):
    model = DeepSurvival(hidden=(8, 4), dropout=0.3)
    twin = clone(model)
    assert twin.get_params() == model.get_params()


def test_pipeline_and_cross_val_score_with_sksurv_scorer(gbsg2):
    numeric, categorical = gbsg2.feature_types()
    pipe = make_survival_pipeline(numeric, categorical, **FAST)
    cv = KFold(3, shuffle=True, random_state=0)
    harrell = cross_val_score(pipe, gbsg2.features(), gbsg2.y, cv=cv)
    assert harrell.shape == (3,) and np.all(harrell > 0.55)
    scorer = as_concordance_index_ipcw_scorer(pipe, tau=1800)
    uno = cross_val_score(scorer, gbsg2.features(), gbsg2.y, cv=cv)
    assert np.all((uno > 0.5) & (uno < 1))
    fitted = pipe.fit(gbsg2.features(), gbsg2.y)
    assert fitted.predict_survival_function(gbsg2.features().iloc[:3], return_array=True).shape[0] == 3


def test_wrong_width_and_no_events_are_clear_errors(xy):
    X, y = xy
    model = DeepSurvival(**FAST).fit(X, y)
    with pytest.raises(ModelError, match="features"):
        model.predict(X[:, :-1])
    y_none = y.copy()
    y_none["event"] = False
    with pytest.raises(ModelError, match="no events"):
        DeepSurvival(**FAST).fit(X, y_none)


@pytest.mark.parametrize("head", ["cox", "logistic_hazard", "pc_hazard", "deephit", "weibull", "lognormal"])
def test_every_head_fits_with_valid_curves(xy, head):
    X, y = xy
    model = DeepSurvival(head=head, n_ensemble=2, random_state=0, **FAST).fit(X, y)
    surv = model.predict_survival_function(X[:40], return_array=True)
    assert np.all(np.isfinite(surv)) and np.all((surv >= 0) & (surv <= 1))
    assert np.all(np.diff(surv, axis=1) <= 1e-12)
    members = model.member_survival(X[:40])
    assert members.shape == (2, 40, len(model.unique_times_))
    assert members.std(axis=0).max() > 0  # the ensemble members disagree somewhere: spread is uncertainty
    assert np.std(model.predict(X)) > 0
    assert model.score(X, y) > 0.6


def test_cross_val_score_with_integrated_brier_scorer(xy):
    from sksurv.metrics import as_integrated_brier_score_scorer

    X, y = xy
    times = np.quantile(y["time"][y["event"]], np.linspace(0.1, 0.7, 8))
    scorer = as_integrated_brier_score_scorer(DeepSurvival(head="cox", random_state=0, **FAST), times=times)
    scores = cross_val_score(scorer, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert np.all((scores < 0) & (scores > -0.25))  # negated IBS; better than the 0.25 of a coin


def test_high_dimensional_genes_do_not_collapse():
    from sksurv.metrics import concordance_index_censored
    from sksurv.util import Surv
    from SurvSet.data import SurvLoader

    frame = SurvLoader().load_dataset("DLBCL")["df"]
    genes = [c for c in frame.columns if c.startswith("num_")]
    X, y = frame[genes].to_numpy(float), Surv.from_arrays(frame["event"] == 1, frame["time"])
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:180], order[180:]
    model = DeepSurvival(random_state=0, n_ensemble=2, max_epochs=60).fit(X[train], y[train])
    assert model.support_ is not None and len(model.support_) < 100  # screened on training rows only
    assert model.embeddings_ == ["none"] * 4 and model.bin_edges_ is None  # no PLE on screened genes
    assert [a.name for a in model.adapters_] == ["cox"] * 4  # high_dim_head; 2x members (random subspaces)
    assert model.selected_["head"] == "cox"
    risk = model.predict(X[test])
    assert np.std(risk) > 1e-6
    c = concordance_index_censored(y["event"][test], y["time"][test], risk)[0]
    assert c > 0.55, c  # 60 held-out patients: clearly better than chance, not collapsed


def test_piecewise_linear_embedding_option(xy):
    from oncoplan.models.encoders.numeric import quantile_bin_edges

    X, y = xy
    train, test = np.arange(len(X)) % 5 != 0, np.arange(len(X)) % 5 == 0
    kw = {"numeric_embedding": "ple", "n_bins": 6, "n_ensemble": 2, "random_state": 1, **FAST}
    a = DeepSurvival(**kw).fit(X[train], y[train])
    b = DeepSurvival(**kw).fit(X[train], y[train])
    np.testing.assert_array_equal(a.predict(X[test]), b.predict(X[test]))
    z = (X[train] - a.input_mean_) / a.input_scale_
    np.testing.assert_array_equal(a.bin_edges_, quantile_bin_edges(z, n_bins=6))  # training rows only
    surv = a.predict_survival_function(X[test], return_array=True)
    assert np.all((surv >= 0) & (surv <= 1)) and np.all(np.diff(surv, axis=1) <= 1e-12)
    assert a.score(X[test], y[test]) > 0.6
    state, tensors = a.export_state()
    twin = DeepSurvival.from_exported_state(state, tensors)
    np.testing.assert_array_equal(twin.predict(X[test]), a.predict(X[test]))
    with pytest.raises(ConfigError):
        DeepSurvival(numeric_embedding="fourier", **FAST).fit(X, y)


def test_mixed_embedding_members_and_round_trip(xy):
    X, y = xy
    model = DeepSurvival(numeric_embedding="none+ple", n_bins=5, n_ensemble=4, random_state=0, **FAST)
    model.set_params(capacity="regularised")
    model.fit(X[:400], y[:400])
    assert model.embeddings_ == ["none", "ple", "ple", "none"]  # each head meets each representation
    assert [a.name for a in model.adapters_] == ["cox", "logistic_hazard"] * 2
    assert [net.embedding is not None for net in model.networks_] == [False, True, True, False]
    single = DeepSurvival(head="cox", numeric_embedding="none+ple", n_ensemble=4)
    single.selected_, single.n_members_ = {"head": "cox"}, 4
    assert single._embeddings() == ["none", "ple", "none", "ple"]
    state, tensors = model.export_state()
    twin = DeepSurvival.from_exported_state(state, tensors)
    np.testing.assert_array_equal(twin.predict(X[400:]), model.predict(X[400:]))


def test_select_by_inner_cv_matches_a_manual_loop():
    from sklearn.model_selection import StratifiedKFold
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.metrics import concordance_index_censored
    from sksurv.util import Surv

    from oncoplan.models.feature_selection import select_by_inner_cv

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    time = np.exp(-X[:, 0] + rng.normal(size=150))
    y = Surv.from_arrays(rng.random(150) < 0.7, time)
    candidates = [{"alpha": 1e4}, {"alpha": 0.01}]
    best, scores = select_by_inner_cv(lambda s: CoxPHSurvivalAnalysis(**s), candidates, X, y, seed=5)
    manual = []
    for s in candidates:
        folds = StratifiedKFold(3, shuffle=True, random_state=5).split(X, y["event"].astype(int))
        cs = [
            concordance_index_censored(
                y["event"][v], y["time"][v], CoxPHSurvivalAnalysis(**s).fit(X[t], y[t]).predict(X[v])
            )[0]
            for t, v in folds
        ]
        manual.append(np.mean(cs))
    np.testing.assert_allclose(scores, manual, rtol=1e-12)
    assert best == candidates[int(np.argmax(manual))]


def test_max_features_cv_searches_only_high_dimensional_inputs(xy):
    rng = np.random.default_rng(1)
    X_hd = rng.normal(size=(120, 300))
    from sksurv.util import Surv

    y_hd = Surv.from_arrays(rng.random(120) < 0.8, np.exp(-X_hd[:, 3] - X_hd[:, 7] + rng.normal(size=120)))
    model = DeepSurvival(max_features="cv", head="cox", n_ensemble=2, random_state=0, **FAST).fit(X_hd, y_hd)
    sizes = [c["max_features"] for c, _ in model.selection_scores_]
    assert sizes == [24, 48, 96]  # 1x, 2x, 4x the auto size max(20, 120 // 5)
    assert model.selected_ in [c for c, _ in model.selection_scores_]
    assert {len(c) for c in model.member_columns_} == {model.selected_["max_features"]}
    X, y = xy
    low = DeepSurvival(max_features="cv", n_ensemble=2, random_state=0, **FAST).fit(X[:300], y[:300])
    assert low.support_ is None and low.selection_scores_ == []


def test_high_dim_head_applies_only_to_screened_inputs(xy):
    X, y = xy
    low = DeepSurvival(n_ensemble=2, random_state=0, capacity="mixed", **FAST).fit(X[:200], y[:200])
    assert [a.name for a in low.adapters_] == ["cox", "logistic_hazard"] and low.support_ is None
    rng = np.random.default_rng(0)
    X_hd = np.hstack([X[:150], rng.normal(size=(150, 300))])
    kept = DeepSurvival(n_ensemble=2, high_dim_head=None, random_state=0, **FAST).fit(X_hd, y[:150])
    assert kept.support_ is not None and [a.name for a in kept.adapters_] == ["cox", "logistic_hazard"] * 2
    forced = DeepSurvival(n_ensemble=2, max_features=5, random_state=0, **FAST).fit(X[:200], y[:200])
    assert [len(c) for c in forced.member_columns_] == [5] * 4 and [a.name for a in forced.adapters_] == [
        "cox"
    ] * 4


def test_member_screening_uses_each_members_training_rows_only(xy):
    from oncoplan.models.survival_inputs import top_columns

    X, y = xy
    rng = np.random.default_rng(1)
    X_hd = np.hstack([X[:150], rng.normal(size=(150, 300))])
    kw = {"n_ensemble": 2, "random_state": 0, **FAST}
    model = DeepSurvival(**kw).fit(X_hd, y[:150])
    time, event = y["time"][:150], y["event"][:150]
    for member, columns in enumerate(model.member_columns_):
        rows = model._inner_split(event, 1000 * member)[0]  # the member's rows without its validation rows
        k = len(columns)
        np.testing.assert_array_equal(
            model.support_[columns], top_columns(X_hd[rows], time[rows], event[rows], k)
        )
        assert (
            model.networks_[member].input_dim == k if hasattr(model.networks_[member], "input_dim") else True
        )
    assert len({tuple(c) for c in model.member_columns_}) > 1  # members see different gene sets
    shared = DeepSurvival(screening="shared", **kw).fit(X_hd, y[:150])
    assert shared.member_columns_ is None
    np.testing.assert_array_equal(shared.support_, top_columns(X_hd, time, event, len(shared.support_)))
    twin = DeepSurvival.from_exported_state(*model.export_state())
    np.testing.assert_array_equal(twin.predict(X_hd), model.predict(X_hd))
