"""Cross-fitted recommendation policy and its evaluation (a patient is scored only by models blind to it).

* :func:`cross_fitted_policy`: out-of-fold recommendations from the treatment-effect network; abstentions
  fall back to the training folds' best-on-average arm, explicitly, so the policy is defined for everyone;
  optionally an inner check on the training folds keeps the personalised policy only when it beats
  treat-all-default there (when the network's policy is treat-all-default anyway, as on colon, the two
  values tie and treat-all is kept), or a DR stage (``dr_stage``, :mod:`oncoplan.recommend.dr_policy`)
  learned on inner folds of the training rows decides who deviates from the best-on-average arm.
* :func:`evaluate_cross_fitted`: the policy-evaluation table (recommended policy, treat-all-k, observed;
  IPW Kaplan-Meier and doubly robust, bootstrap CIs).

Example:
    >>> from oncoplan.data import load_cohort
    >>> cohort = load_cohort("survset:colon")  # doctest: +SKIP
    >>> result = cross_fitted_policy(cohort, tau=1826.0, model_params={"max_epochs": 20})  # doctest: +SKIP
    >>> table = evaluate_cross_fitted(cohort, result, tau=1826.0)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.errors import ConfigError
from oncoplan.evaluate.overlap import estimate_propensity
from oncoplan.evaluate.policy import cross_fit_folds, evaluate_policies, policy_value_ipw
from oncoplan.models.effects_weights import frequencies_unless_predictive
from oncoplan.preprocess.tabular import TabularPreprocessor
from oncoplan.recommend.dr_policy import (
    CalibratedContrastPolicy,
    DRContrastPolicy,
    aipw_rmst_scores,
    policy_tree_arms,
    select_policy,
)
from oncoplan.recommend.pipeline import fit_effect_estimator
from oncoplan.recommend.ranking import policy_arms, recommend
from oncoplan.recommend.rmst import rmst_ensemble, rmst_from_curves

logger = logging.getLogger(__name__)

#: policy stages of :func:`cross_fitted_policy` (``dr_stage``)
DR_STAGES = ("none", "ridge", "calibrated", "select", "tree")


def shrink_toward_average(
    samples: np.ndarray, average_contrast: np.ndarray, default: int, weight: float
) -> np.ndarray:
    """Shrink each patient's contrast vs the default arm toward the average contrast.

    ``s'_mik = s_mid + weight * (s_mik - s_mid) + (1 - weight) * cbar_mk`` with ``cbar_mk`` the average
    (training) contrast of arm k vs the default arm for member m; ``weight = 1`` leaves the samples unchanged.

    Example:
        >>> s = np.array([[[10.0, 14.0]]])
        >>> shrink_toward_average(s, np.array([[0.0, -2.0]]), 0, 0.5).tolist()
        [[[10.0, 11.0]]]
    """
    if not 0 <= weight <= 1:
        raise ConfigError(f"shrinkage weight must be in [0, 1], got {weight}")
    base = samples[:, :, [default]]
    contrast = samples - base
    return base + weight * contrast + (1 - weight) * average_contrast[:, None, :]


@dataclass
class CrossFitResult:
    """Out-of-fold policy: recommended arm (after fallback), abstention flag and reason, mean curves."""

    recommended: np.ndarray
    abstained: np.ndarray
    reasons: list[str | None]
    survival_mean: np.ndarray
    times: np.ndarray
    folds: np.ndarray
    default_arms: list[str]
    personalized: list[bool] | None = None


def cross_fitted_policy(
    cohort: Cohort,
    tau: float,
    model_params: Mapping | None = None,
    n_folds: int = 5,
    seed: int = 0,
    level: float = 0.9,
    overlap_band: tuple[float, float] = (0.05, 0.95),
    shrinkage: float = 1.0,
    fit_predict: Callable | None = None,
    inner_check: int = 0,
    dr_stage: str = "none",
    contrast_models: Mapping[str, Callable] | None = None,
) -> CrossFitResult:
    """Out-of-fold recommendations of the effect network for every patient of ``cohort``.

    Per fold: fit on the other folds, take the arm with the highest mean predicted RMST(tau) on the training
    folds as the default (with the network's default ``anchor="auto"``, in a randomised trial that is the
    arm with the highest Kaplan-Meier RMST on the training folds), shrink individual contrasts
    (``shrinkage`` < 1), recommend with abstention on the test fold, and send abstaining patients to the
    default arm. ``fit_predict(train_rows, test_rows)`` may
    replace the network: it returns ``(train_samples, test_samples, test_propensity, test_ood, times,
    arms)`` with samples ``(n_members, n, n_arms, n_times)``.

    ``inner_check`` >= 2 adds a data-driven choice made on the training folds only: an inner
    ``inner_check``-fold cross-fit of the same recommender on the training part, whose IPW Kaplan-Meier
    RMST(tau) (propensities cross-fitted on the training part) is compared with treating the whole training
    part with its default arm; when personalising does not beat treat-all-default there, the whole test fold
    gets the default arm (recorded in ``CrossFitResult.personalized``).

    ``dr_stage`` (``"ridge"``, ``"calibrated"``, ``"select"`` or ``"tree"``; default ``"none"``) decides the
    policy with a stage of :mod:`oncoplan.recommend.dr_policy` instead: per outer fold, an inner
    ``max(inner_check, 3)``-fold cross-fit of the model on the training rows gives out-of-fold curves, hence
    AIPW RMST scores (propensities cross-fitted on the training rows); their contrasts vs the training rows'
    best-on-average arm are ridge-regressed on the covariates (``"ridge"``), used to calibrate the model's
    own contrasts (``"calibrated"``), used to pick the candidate policy with the best inner doubly robust
    value (``"select"``: treat-all-default or a model's argmax policy), or fitted by a depth-2 policy tree
    (``"tree"``); each test patient gets the stage's arm. ``abstained`` /
    ``reasons`` still report the network's abstention rule (clinical output); ``recommended`` is then the
    stage's arm for everyone, ``default_arms`` the stage's default (highest mean AIPW score) and
    ``personalized`` whether anyone in the fold leaves it. ``contrast_models`` (name -> ``fit_predict``, e.g.
    :func:`oncoplan.recommend.crossfit_learners.meta_learner_fit_predict`) adds candidate contrast models
    to the calibrated and select stages, cross-fitted on the same inner folds; the AIPW scores keep the main
    model's curves.
    """
    if dr_stage not in DR_STAGES:
        raise ConfigError(f"dr_stage must be one of {DR_STAGES}, got {dr_stage!r}")
    if not tau <= float(np.max(cohort.time)):
        raise ConfigError(
            f"tau={tau:g} lies beyond the cohort's follow-up (last time {float(np.max(cohort.time)):g})",
            hint="choose tau within the follow-up, e.g. oncoplan.recommend.pipeline.default_tau",
        )
    arms = list(cohort.arms or [])
    folds = cross_fit_folds(cohort.n_patients, n_folds, seed, stratify=cohort.treatment.to_numpy())
    n, k = cohort.n_patients, len(arms)
    fp = fit_predict or (lambda tr, te: _net_fit_predict(cohort, tr, te, model_params, seed))
    rule = {"tau": tau, "level": level, "overlap_band": overlap_band, "shrinkage": shrinkage}
    recommended = np.empty(n, dtype=object)
    abstained = np.zeros(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    survival_mean: np.ndarray | None = None
    times_out: np.ndarray | None = None
    defaults, personalized = [], []
    for f in range(n_folds):
        tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        s_tr, s_te, prop, ood, times, fold_arms = fp(tr, te)
        rec, abst, why, default = _fold_policy(s_tr, s_te, prop, ood, times, fold_arms, **rule)
        keep = True
        if dr_stage != "none":
            extra = {name: (m, None) for name, m in (contrast_models or {}).items()}
            stage_models = {
                "model": (fp, (s_te, times, fold_arms)),
                **(extra if dr_stage in ("calibrated", "select") else {}),
            }
            rec, default = _dr_stage_arms(
                cohort, tr, te, stage_models, max(inner_check, 3), seed, tau, dr_stage
            )
            keep = bool(np.any(rec != default))
        elif inner_check >= 2:
            keep = _personalizing_pays(cohort, tr, fp, inner_check, seed, rule)
            if not keep:
                rec, abst, why = (
                    np.full(len(te), default, dtype=object),
                    np.zeros(len(te), bool),
                    [None] * len(te),
                )
        recommended[te], abstained[te] = rec, abst
        for i, r in zip(te, why, strict=True):
            reasons[i] = r
        defaults.append(default)
        personalized.append(keep)
        if survival_mean is None:
            times_out = times
            survival_mean = np.ones((n, k, len(times)))
        cols = [arms.index(a) for a in fold_arms]
        survival_mean[np.ix_(te, cols)] = _on_grid(s_te.mean(axis=0), times, times_out)
    return CrossFitResult(
        recommended, abstained, reasons, survival_mean, times_out, folds, defaults, personalized
    )


def _fold_policy(
    s_tr: np.ndarray,
    s_te: np.ndarray,
    prop: np.ndarray,
    ood: np.ndarray,
    times: np.ndarray,
    fold_arms: list[str],
    tau: float,
    level: float,
    overlap_band: tuple[float, float],
    shrinkage: float,
) -> tuple[np.ndarray, np.ndarray, list[str | None], str]:
    """(recommended arm, abstained, reason, default arm) for the test rows of one fold."""
    if times[-1] < tau:  # a fold's grid may end at its last event time: the curves are flat from there
        times = np.append(times, tau)
        s_tr, s_te = (np.concatenate([s, s[..., -1:]], axis=-1) for s in (s_tr, s_te))
    r_tr = rmst_ensemble(s_tr, times, tau, arm_names=fold_arms).samples
    r_te = rmst_ensemble(s_te, times, tau, arm_names=fold_arms).samples
    default = int(np.argmax(r_tr.mean(axis=(0, 1))))
    average = (r_tr - r_tr[:, :, [default]]).mean(axis=1)
    r_te = shrink_toward_average(r_te, average, default, shrinkage)
    if r_te.shape[0] < 2:
        rec = np.asarray(fold_arms, dtype=object)[r_te[0].argmax(axis=1)]
        return rec, np.zeros(len(rec), bool), [None] * len(rec), fold_arms[default]
    results = recommend(
        fold_arms, r_te, prop, ood, trained_arms=fold_arms, overlap_band=overlap_band, interval_level=level
    )
    rec = policy_arms(results, fallback=fold_arms[default])
    abst = np.array([not r.recommended for r in results], dtype=bool)
    why = [None if r.recommended else str(r.reason.value) for r in results]
    return rec, abst, why, fold_arms[default]


def _inner_crossfit(
    cohort: Cohort, tr: np.ndarray, fp: Callable, n_inner: int, seed: int
) -> tuple[np.ndarray, list]:
    """Inner cross-fit on the training rows ``tr``: inner fold labels and per-fold ``fp`` outputs."""
    part = cohort.subset(tr)
    inner = cross_fit_folds(len(tr), n_inner, seed + 1, stratify=part.treatment.to_numpy())
    outputs = []
    for g in range(n_inner):
        a, b = np.flatnonzero(inner != g), np.flatnonzero(inner == g)
        outputs.append(fp(tr[a], tr[b]))
    return inner, outputs


def _dr_stage_arms(
    cohort: Cohort,
    tr: np.ndarray,
    te: np.ndarray,
    models: Mapping[str, tuple[Callable, tuple | None]],
    n_inner: int,
    seed: int,
    tau: float,
    kind: str,
) -> tuple[np.ndarray, str]:
    """DR-stage policy (arm per test row, default arm) for the rows ``te``, learned on the rows ``tr`` only.

    ``models``: name -> (``fit_predict``, outer ``(test samples, times, arms)`` or None to fit them); the
    first is the main model (its inner out-of-fold curves feed the AIPW scores).
    """
    arms = list(cohort.arms or [])
    inner_mu, test_mu = [], []
    curves = grid = None
    for fp, test_curves in models.values():
        inner, outputs = _inner_crossfit(cohort, tr, fp, n_inner, seed)
        grid_m = np.unique(np.concatenate([o[4] for o in outputs] + [[0.0, tau]]))
        curves_m = np.ones((len(tr), len(arms), len(grid_m)))
        for g, (_, s_b, _, _, times, fold_arms) in enumerate(outputs):
            cols = [arms.index(a) for a in fold_arms]
            curves_m[np.ix_(np.flatnonzero(inner == g), cols)] = _on_grid(s_b.mean(axis=0), times, grid_m)
        if curves is None:
            curves, grid = curves_m, grid_m
        # a fold's grid may end at its last event before tau; the curves are flat from there (no more
        # events), and tau lies within the cohort's follow-up (checked in cross_fitted_policy)
        inner_mu.append(rmst_from_curves(curves_m, grid_m, tau, extrapolate=True))
        if kind in ("calibrated", "select"):
            if test_curves is None:
                _, s_te, _, _, times, fold_arms = fp(tr, te)
            else:
                s_te, times, fold_arms = test_curves
            mu = np.full((len(te), len(arms)), np.nan)
            mu[:, [arms.index(a) for a in fold_arms]] = rmst_from_curves(
                s_te.mean(axis=0), times, tau, extrapolate=True
            )
            test_mu.append(mu)
    part = cohort.subset(tr)
    received = np.array([arms.index(a) for a in part.treatment.to_numpy().astype(str)])
    prop = evaluation_propensity(part, seed=seed)
    scores = aipw_rmst_scores(part.time, part.event, received, prop, curves, grid, tau)
    default = int(np.argmax(scores.mean(axis=0)))
    if kind == "calibrated":
        c_tr = np.stack([m - m[:, [default]] for m in inner_mu])
        c_te = np.stack([m - m[:, [default]] for m in test_mu])
        picks = CalibratedContrastPolicy(default).fit(c_tr, scores).predict_arm(c_te)
    elif kind == "select":
        picks = select_policy(scores, default, inner_mu, test_mu, list(models))
    else:
        frame = cohort.features(include_treatment=False)
        numeric, categorical = cohort.feature_types(include_treatment=False)
        prep = TabularPreprocessor(numeric=numeric, categorical=categorical, strict=False)
        x_tr = prep.fit(frame.iloc[tr]).transform(frame.iloc[tr])
        x_te = prep.transform(frame.iloc[te])
        if kind == "tree":
            picks = policy_tree_arms(x_tr, scores, x_te, default, seed)
        else:
            picks = DRContrastPolicy(default).fit(x_tr, scores).predict_arm(x_te)
    logger.info(
        "DR stage: default %s, %d of %d test patients deviate",
        arms[default],
        int((picks != default).sum()),
        len(te),
    )
    return np.asarray(arms, dtype=object)[picks], arms[default]


def _personalizing_pays(
    cohort: Cohort, tr: np.ndarray, fp: Callable, n_inner: int, seed: int, rule: dict
) -> bool:
    """Inner cross-fit on the training rows ``tr``: does the personalised policy beat treat-all-default?"""
    part = cohort.subset(tr)
    inner = cross_fit_folds(len(tr), n_inner, seed + 1, stratify=part.treatment.to_numpy())
    rec = np.empty(len(tr), dtype=object)
    fallback = np.empty(len(tr), dtype=object)
    for g in range(n_inner):
        a, b = np.flatnonzero(inner != g), np.flatnonzero(inner == g)
        s_a, s_b, prop, ood, times, fold_arms = fp(tr[a], tr[b])
        rec[b], _, _, fallback[b] = _fold_policy(s_a, s_b, prop, ood, times, fold_arms, **rule)
    default = pd.Series(fallback).mode().iloc[0]
    received = part.treatment.to_numpy().astype(str)
    p = evaluation_propensity(part, seed=seed)
    p_received = p[np.arange(len(tr)), [list(part.arms).index(a) for a in received]]
    value = {}
    for name, policy in (("personalized", rec.astype(str)), ("treat_all", np.full(len(tr), str(default)))):
        value[name] = policy_value_ipw(part.time, part.event, received, policy, p_received, rule["tau"])
    logger.info(
        "inner check: personalized %.1f vs treat-all %s %.1f",
        value["personalized"],
        default,
        value["treat_all"],
    )
    return bool(value["personalized"] > value["treat_all"])


def _on_grid(curves: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(times, grid, side="right") - 1
    out = curves[..., np.clip(idx, 0, None)]
    return np.where(idx >= 0, out, 1.0)


def _net_fit_predict(
    cohort: Cohort, tr: np.ndarray, te: np.ndarray, params: Mapping | None, seed: int
) -> tuple:
    prep, model = fit_effect_estimator(cohort, tr, params, seed, strict=False)
    x_tr = prep.transform(cohort.subset(tr).features(include_treatment=False))
    x_te = prep.transform(cohort.subset(te).features(include_treatment=False))
    return (
        model.predict_counterfactual(x_tr),
        model.predict_counterfactual(x_te),
        model.predict_propensity(x_te),
        model.is_ood(x_te),
        model.times_,
        list(model.arms_),
    )


def evaluation_propensity(cohort: Cohort, seed: int = 0, n_folds: int = 5, kind: str = "auto") -> np.ndarray:
    """Propensities ``(n, n_arms)`` of the IPW / DR policy values.

    ``kind="logistic"``: cross-fitted logistic regression on the preprocessed covariates; ``"auto"``
    (default): the arm frequencies for a cohort whose spec declares ``assignment="randomised"``, the
    logistic model for ``"observational"``; when unknown, the logistic model unless it predicts the received
    arm no better than the arm frequencies out of fold (a randomised trial), then the frequencies
    (:func:`~oncoplan.models.effects_weights.frequencies_unless_predictive`); ``"frequencies"``: the arm
    frequencies.
    """
    if kind not in ("auto", "logistic", "frequencies"):
        raise ConfigError(f"propensity kind must be auto, logistic or frequencies, got {kind!r}")
    arms = list(cohort.arms or [])
    codes = np.array([arms.index(a) for a in cohort.treatment.to_numpy().astype(str)])
    if kind == "auto" and cohort.spec.assignment != "unknown":  # the design is declared in the spec
        kind = "frequencies" if cohort.spec.assignment == "randomised" else "logistic"
    if kind == "frequencies":
        return np.tile(np.bincount(codes, minlength=len(arms)) / len(codes), (len(codes), 1))
    frame = cohort.features(include_treatment=False)
    numeric, categorical = cohort.feature_types(include_treatment=False)
    X = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(frame).transform(frame)
    p = estimate_propensity(X, cohort.treatment.to_numpy(), cohort.arms, n_folds=n_folds, seed=seed)
    if kind == "auto":
        p, _ = frequencies_unless_predictive(p, codes)
    return np.clip(p, 1e-3, 1.0)


def evaluate_cross_fitted(
    cohort: Cohort,
    result: CrossFitResult,
    tau: float,
    propensity: np.ndarray | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """Policy-evaluation table (:func:`~oncoplan.evaluate.policy.evaluate_policies`) of a crossfit policy."""
    prop = evaluation_propensity(cohort, seed) if propensity is None else propensity
    return evaluate_policies(
        cohort.time,
        cohort.event,
        cohort.treatment.to_numpy(),
        result.recommended,
        prop,
        cohort.arms,
        tau,
        survival_pred=np.clip(result.survival_mean, 0.0, 1.0),
        times=result.times,
        n_boot=n_boot,
        seed=seed,
    )
