"""Meta-learner baselines in the ``fit_predict`` form that :func:`cross_fitted_policy` consumes.

``fit_predict(train_rows, test_rows)`` fits preprocessing (training rows only) and a survival meta-learner
(:mod:`oncoplan.models.effects_baselines`) and returns ``(train_samples, test_samples, test_propensity,
test_ood, times, arms)`` with one "member"; the propensity is uniform and nobody is flagged out of
distribution (a meta-learner has neither). Used as a baseline recommender and as a candidate contrast
model of the calibrated DR stage (:mod:`oncoplan.recommend.dr_policy`).

Example:
    >>> from oncoplan.data import load_cohort
    >>> cohort = load_cohort("survset:colon")  # doctest: +SKIP
    >>> fp = meta_learner_fit_predict(cohort, "rsf", "t")  # doctest: +SKIP
    >>> s_tr, s_te, prop, ood, times, arms = fp(np.arange(0, 800), np.arange(800, 929))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from oncoplan.data.cohort import Cohort
from oncoplan.errors import ConfigError
from oncoplan.evaluate.policy import cross_fit_folds
from oncoplan.models.effect_modifiers import CoxEffectModifiers
from oncoplan.models.effects_baselines import SLearnerSurvival, TLearnerSurvival
from oncoplan.models.effects_pseudo import RMSTPseudoOutcomeLearner
from oncoplan.preprocess.tabular import TabularPreprocessor

LEARNERS = {"t": TLearnerSurvival, "s": SLearnerSurvival}


def _fold_inputs(cohort: Cohort) -> Callable:
    """``inputs(train_rows, test_rows)`` -> (x_train, x_test, arms present in training): preprocessing fitted
    on the training rows only (an unseen category encodes as zeros, with a logged warning)."""
    numeric, categorical = cohort.feature_types(include_treatment=False)
    frame = cohort.features(include_treatment=False)
    arms = list(cohort.arms or [])
    treatment = cohort.treatment.to_numpy()

    def inputs(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        prep = TabularPreprocessor(numeric=numeric, categorical=categorical, strict=False)
        x_tr = prep.fit(frame.iloc[tr]).transform(frame.iloc[tr])
        return x_tr, prep.transform(frame.iloc[te]), [a for a in arms if (treatment[tr] == a).any()]

    return inputs


def meta_learner_fit_predict(cohort: Cohort, base: str = "rsf", kind: str = "t", seed: int = 0) -> Callable:
    """``fit_predict`` of a T- (``kind="t"``) or S-learner (``"s"``) with ``base`` ``"rsf"`` or ``"cox"``.

    Example:
        >>> fp = meta_learner_fit_predict(cohort, "cox", "s")  # doctest: +SKIP
    """
    if kind not in LEARNERS:
        raise ConfigError(f"kind must be one of {sorted(LEARNERS)}, got {kind!r}")
    fold_inputs = _fold_inputs(cohort)
    treatment = cohort.treatment.to_numpy()

    def fit_predict(tr: np.ndarray, te: np.ndarray) -> tuple:
        x_tr, x_te, present = fold_inputs(tr, te)
        model = LEARNERS[kind](base, random_state=seed).fit(x_tr, cohort.y[tr], treatment[tr], arms=present)
        k = len(present)
        return (
            model.predict_counterfactual(x_tr),
            model.predict_counterfactual(x_te),
            np.full((len(te), k), 1.0 / k),
            np.zeros(len(te), dtype=bool),
            model.times_,
            present,
        )

    return fit_predict


def prognostic_score(survival: np.ndarray, times: np.ndarray, t_ref: float) -> np.ndarray:
    """Arm-free prognostic score: log cumulative hazard at ``t_ref``, averaged over members and arms.

    ``survival``: ``(n_members, n, n_arms, n_times)`` on ``times``. Example:
        >>> s = np.full((1, 2, 2, 1), np.exp(-1.0))
        >>> prognostic_score(s, np.array([1.0]), 1.0).round(6).tolist()
        [0.0, 0.0]
    """
    j = max(int(np.searchsorted(times, t_ref, side="right")) - 1, 0)
    s = np.clip(survival[..., j], 1e-6, 1 - 1e-6)
    return np.log(-np.log(s)).mean(axis=(0, 2))


def modifier_stage_fit_predict(
    cohort: Cohort, params: dict | None = None, seed: int = 0, **stage
) -> Callable:
    """``fit_predict`` of the effect network followed by :class:`CoxEffectModifiers` on its prognostic score.

    The network (fitted on the training rows) supplies an arm-free prognostic score (log cumulative hazard
    at the training rows' median follow-up); the penalised Cox arm x covariate terms supply the contrasts.
    The propensity and out-of-distribution flags are the network's. ``stage``: settings of the stage.

    Example:
        >>> fp = modifier_stage_fit_predict(cohort, {"max_epochs": 30})  # doctest: +SKIP
    """
    from oncoplan.recommend.pipeline import fit_effect_estimator

    arms = list(cohort.arms or [])
    treatment = cohort.treatment.to_numpy().astype(str)

    def fit_predict(tr: np.ndarray, te: np.ndarray) -> tuple:
        prep, net = fit_effect_estimator(cohort, tr, params, seed, strict=False)
        x_tr = prep.transform(cohort.subset(tr).features(include_treatment=False))
        x_te = prep.transform(cohort.subset(te).features(include_treatment=False))
        t_ref = float(np.median(cohort.time[tr]))
        score_tr = prognostic_score(net.predict_counterfactual(x_tr), net.times_, t_ref)
        score_te = prognostic_score(net.predict_counterfactual(x_te), net.times_, t_ref)
        present = list(net.arms_)
        codes = np.array([present.index(a) for a in treatment[tr]])
        stage_model = CoxEffectModifiers(random_state=seed, **stage).fit(x_tr, cohort.y[tr], codes, score_tr)
        return (
            stage_model.predict_counterfactual(x_tr, score_tr),
            stage_model.predict_counterfactual(x_te, score_te),
            net.predict_propensity(x_te),
            net.is_ood(x_te),
            stage_model.times_,
            [a for a in present if a in arms],
        )

    return fit_predict


def pseudo_outcome_recommender(cohort: Cohort, learner: str, tau: float, seed: int = 0) -> Callable:
    """``recommend(train_rows, test_rows)`` -> arm names, from :class:`RMSTPseudoOutcomeLearner`.

    Example:
        >>> rec = pseudo_outcome_recommender(cohort, "causal_forest", tau=1826.0)  # doctest: +SKIP
    """
    fold_inputs = _fold_inputs(cohort)
    treatment = cohort.treatment.to_numpy()

    def recommend_rows(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        x_tr, x_te, present = fold_inputs(tr, te)
        model = RMSTPseudoOutcomeLearner(learner, tau=tau, random_state=seed)
        return model.fit(x_tr, cohort.y[tr], treatment[tr], arms=present).predict_arm(x_te)

    return recommend_rows


def cross_fitted_arms(
    cohort: Cohort, recommend_rows: Callable, n_folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-fold recommended arm per patient, on the folds of :func:`cross_fitted_policy` (same seed).

    ``recommend_rows(train_rows, test_rows)`` fits on the training rows only and returns arm names.

    Example:
        >>> rec = pseudo_outcome_recommender(cohort, "dr_learner", 1826.0)  # doctest: +SKIP
        >>> arms = cross_fitted_arms(cohort, rec)  # doctest: +SKIP
    """
    folds = cross_fit_folds(cohort.n_patients, n_folds, seed, stratify=cohort.treatment.to_numpy())
    out = np.empty(cohort.n_patients, dtype=object)
    for f in range(n_folds):
        tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        out[te] = recommend_rows(tr, te)
    return out
