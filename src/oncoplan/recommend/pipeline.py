"""Glue from a trained treatment-effect bundle to recommendations and cross-fitted policy evaluation.

* :func:`train_effect_model`: preprocessing + :class:`~oncoplan.models.effects.TreatmentEffectNet` fitted on
  training rows of a cohort, returned as a :class:`~oncoplan.store.bundle.ModelBundle` (the received arm is
  not an input; the network forecasts every arm). Metadata records ``tau`` and the arm that is best on
  average in the training data (``default_arm``).
* :func:`predict_counterfactuals`: per-arm survival curves of every ensemble member, RMST(tau) with
  intervals, propensities of the propensity head and out-of-distribution flags for a patient table.
* :func:`recommend_patients`: the above fed to the pure rule :func:`oncoplan.recommend.ranking.recommend`.
* :func:`cross_fitted_policy` / :func:`evaluate_cross_fitted`: out-of-fold recommendations (every patient is
  scored by a model that never saw them) and the policy-evaluation table (recommended policy, treat-all-k,
  observed; IPW Kaplan-Meier and doubly robust, bootstrap CIs). Abstentions fall back to the training
  folds' best-on-average arm, explicitly, so the policy is defined for everyone.

The demo entry point :func:`run_treatment_demo` lives in :mod:`oncoplan.recommend.pipeline_demo`.

Example:
    >>> from oncoplan.data import load_cohort
    >>> cohort = load_cohort("survset:colon")  # doctest: +SKIP
    >>> bundle = train_effect_model(cohort, model_params={"max_epochs": 30})  # doctest: +SKIP
    >>> new_patients = cohort.features(include_treatment=False).head()  # doctest: +SKIP
    >>> results = recommend_patients(bundle, new_patients)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.errors import CohortError, ConfigError, ModelError
from oncoplan.evaluate.overlap import estimate_propensity
from oncoplan.evaluate.policy import cross_fit_folds, evaluate_policies
from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.preprocess.tabular import TabularPreprocessor
from oncoplan.recommend.abstain import Abstention
from oncoplan.recommend.ranking import Recommendation, policy_arms, recommend
from oncoplan.recommend.rmst import EnsembleRMST, rmst_ensemble
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)

YEAR = {"days": 365.25, "weeks": 365.25 / 7, "months": 12.0, "years": 1.0}


def default_tau(time: np.ndarray, time_unit: str = "days", years: float = 5.0) -> float:
    """``years`` in the cohort's time unit, capped at the 90th percentile of follow-up.

    Example:
        >>> default_tau(np.array([100.0, 3000.0, 4000.0]), "days")
        1826.0
    """
    horizon = round(years * YEAR.get(time_unit, 365.25))
    return float(min(horizon, np.quantile(np.asarray(time, dtype=float), 0.9)))


def _train_part(cohort: Cohort, train_rows: np.ndarray | None) -> Cohort:
    if cohort.treatment is None or not cohort.has_survival:
        raise CohortError(
            f"cohort {cohort.name!r} needs a survival outcome and a treatment column "
            "for a treatment-effect model",
            hint="declare treatment_column (and time/event) in the cohort spec",
        )
    return cohort if train_rows is None else cohort.subset(train_rows)


def fit_effect_estimator(
    cohort: Cohort,
    train_rows: np.ndarray | None = None,
    model_params: Mapping | None = None,
    seed: int = 0,
    progress: Callable | None = None,
    strict: bool = True,
) -> tuple[TabularPreprocessor, TreatmentEffectNet]:
    """Fit preprocessing (training rows only) and a :class:`TreatmentEffectNet` on ``cohort``.

    ``strict=True`` makes categories unseen in training an error at prediction time (a saved model must
    not silently encode them); cross-fitting passes ``False`` so a rare category absent from the training
    folds is encoded as all zeros (with a logged warning).

    Example:
        >>> prep, model = fit_effect_estimator(cohort, model_params={"max_epochs": 5})  # doctest: +SKIP
    """
    train = _train_part(cohort, train_rows)
    numeric, categorical = train.feature_types(include_treatment=False)
    prep = TabularPreprocessor(numeric=numeric, categorical=categorical, strict=strict)
    X = prep.fit(train.features(include_treatment=False)).transform(train.features(include_treatment=False))
    present = [a for a in cohort.arms or [] if (train.treatment == a).any()]
    params = {**dict(model_params or {}), "random_state": seed}
    model = TreatmentEffectNet(**params).fit(
        X, train.y, train.treatment.to_numpy(), arms=present, progress=progress
    )
    return prep, model


def train_effect_model(
    cohort: Cohort,
    train_rows: np.ndarray | None = None,
    model_params: Mapping | None = None,
    tau: float | None = None,
    seed: int = 0,
    progress: Callable | None = None,
) -> ModelBundle:
    """Train a treatment-effect bundle on ``train_rows`` of ``cohort`` (see the module docstring).

    Example:
        >>> bundle = train_effect_model(cohort, model_params={"max_epochs": 5})  # doctest: +SKIP
        >>> bundle.metadata["tau"]  # doctest: +SKIP
        1826.0
    """
    train = _train_part(cohort, train_rows)
    tau = default_tau(train.time, cohort.spec.time_unit) if tau is None else float(tau)
    prep, model = fit_effect_estimator(cohort, train_rows, model_params, seed, progress)
    X = prep.transform(train.features(include_treatment=False))
    mean_rmst = model.predict_rmst(X, tau).mean.mean(axis=0)
    metadata = {
        "kind": "treatment_effect",
        "cohort": cohort.name,
        "data_hash": cohort.data_hash(),
        "train_patients": int(train.n_patients),
        "train_events": int(train.event.sum()),
        "seed": seed,
        "tau": tau,
        "arms": list(model.arms_),
        "default_arm": model.arms_[int(np.argmax(mean_rmst))],
        "mean_rmst_train": {a: float(v) for a, v in zip(model.arms_, mean_rmst, strict=True)},
        "feature_names": list(prep.feature_names_out_),
        "time_range": [float(train.time.min()), float(train.time.max())],
    }
    return ModelBundle(model, prep, cohort.spec, include_treatment=False, metadata=metadata)


@dataclass(frozen=True)
class CounterfactualPrediction:
    """Per-arm predictions for a table of patients.

    Attributes:
        patient_ids: row labels.
        arms: arm names (last-but-one axis of ``survival``).
        times: time grid of ``survival``.
        survival: ``(n_members, n_patients, n_arms, n_times)``.
        rmst: RMST(tau) per member / patient / arm with intervals and differences.
        propensity: ``(n_patients, n_arms)`` from the propensity head.
        ood: ``(n_patients,)`` out-of-distribution flags; ``ood_score`` the Mahalanobis scores.
    """

    patient_ids: list[str]
    arms: list[str]
    times: np.ndarray
    survival: np.ndarray
    rmst: EnsembleRMST
    propensity: np.ndarray
    ood: np.ndarray
    ood_score: np.ndarray

    def survival_at(self, t: float) -> pd.DataFrame:
        """Ensemble-mean survival at ``t`` per patient (rows) and arm (columns)."""
        idx = int(np.searchsorted(self.times, float(t), side="right")) - 1
        values = np.ones(self.survival.shape[1:3]) if idx < 0 else self.survival[:, :, :, idx].mean(axis=0)
        return pd.DataFrame(values, index=self.patient_ids, columns=self.arms)


def _estimator(bundle: ModelBundle) -> TreatmentEffectNet:
    est = bundle.estimator
    if not hasattr(est, "predict_counterfactual") or not hasattr(est, "arms_"):
        raise ModelError(
            f"the bundle holds a {type(est).__name__}, not a treatment-effect model",
            hint="train one with oncoplan.recommend.pipeline.train_effect_model",
        )
    return est  # type: ignore[return-value]


def predict_counterfactuals(
    bundle: ModelBundle, frame: pd.DataFrame, tau: float | None = None, level: float = 0.9
) -> CounterfactualPrediction:
    """Per-arm curves, RMST(tau) with intervals, propensities and OOD flags for the patients in ``frame``.

    Example:
        >>> pred = predict_counterfactuals(bundle, frame)  # doctest: +SKIP
        >>> pred.rmst.mean.shape  # doctest: +SKIP
        (5, 3)
    """
    est = _estimator(bundle)
    tau = float(bundle.metadata.get("tau") if tau is None else tau)
    X = bundle.preprocessor.transform(frame)
    surv = est.predict_counterfactual(X)
    rmst = rmst_ensemble(surv, est.times_, tau, arm_names=est.arms_, level=level)
    score = est.ood_score(X)
    return CounterfactualPrediction(
        patient_ids=[str(i) for i in frame.index],
        arms=list(est.arms_),
        times=est.times_,
        survival=surv,
        rmst=rmst,
        propensity=est.predict_propensity(X),
        ood=score > est.ood_threshold_,
        ood_score=score,
    )


def recommend_patients(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    tau: float | None = None,
    level: float = 0.9,
    overlap_band: tuple[float, float] = (0.05, 0.95),
    toxicity_penalty: Mapping[str, float] | None = None,
    requested_arms: Sequence[str] | None = None,
) -> tuple[list[Recommendation | Abstention], CounterfactualPrediction]:
    """Rank the trained arms by RMST(tau) for every patient in ``frame``; abstain with reasons.

    Returns the per-patient results and the predictions they rest on.

    Example:
        >>> results, pred = recommend_patients(bundle, frame)  # doctest: +SKIP
    """
    est = _estimator(bundle)
    for arm in requested_arms or []:
        est.arm_index(arm)  # ModelError for an arm the model was not trained on
    pred = predict_counterfactuals(bundle, frame, tau, level)
    results = recommend(
        pred.arms,
        pred.rmst.samples,
        pred.propensity,
        pred.ood,
        trained_arms=pred.arms,
        toxicity_penalty=toxicity_penalty,
        overlap_band=overlap_band,
        interval_level=level,
        requested_arms=requested_arms,
        patient_ids=pred.patient_ids,
    )
    return results, pred


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
) -> CrossFitResult:
    """Out-of-fold recommendations of the effect network for every patient of ``cohort``.

    Per fold: fit on the other folds, take the arm with the highest mean predicted RMST(tau) on the training
    folds as the default, shrink individual contrasts (``shrinkage`` < 1), recommend with abstention on the
    test fold, and send abstaining patients to the default arm. ``fit_predict(train_rows, test_rows)`` may
    replace the network: it returns ``(train_samples, test_samples, test_propensity, test_ood, times,
    arms)`` with samples ``(n_members, n, n_arms, n_times)``.
    """
    arms = list(cohort.arms or [])
    folds = cross_fit_folds(cohort.n_patients, n_folds, seed, stratify=cohort.treatment.to_numpy())
    n, k = cohort.n_patients, len(arms)
    recommended = np.empty(n, dtype=object)
    abstained = np.zeros(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    survival_mean: np.ndarray | None = None
    times_out: np.ndarray | None = None
    defaults = []
    for f in range(n_folds):
        tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        if fit_predict is None:
            s_tr, s_te, prop, ood, times, fold_arms = _net_fit_predict(cohort, tr, te, model_params, seed)
        else:
            s_tr, s_te, prop, ood, times, fold_arms = fit_predict(tr, te)
        r_tr = rmst_ensemble(s_tr, times, tau, arm_names=fold_arms).samples
        r_te = rmst_ensemble(s_te, times, tau, arm_names=fold_arms).samples
        default = int(np.argmax(r_tr.mean(axis=(0, 1))))
        defaults.append(fold_arms[default])
        average = (r_tr - r_tr[:, :, [default]]).mean(axis=1)
        r_te = shrink_toward_average(r_te, average, default, shrinkage)
        if r_te.shape[0] >= 2:
            results = recommend(
                fold_arms,
                r_te,
                prop,
                ood,
                trained_arms=fold_arms,
                overlap_band=overlap_band,
                interval_level=level,
            )
            recommended[te] = policy_arms(results, fallback=fold_arms[default])
            abstained[te] = [not r.recommended for r in results]
            for i, r in zip(te, results, strict=True):
                reasons[i] = None if r.recommended else str(r.reason.value)
        else:
            recommended[te] = np.asarray(fold_arms, dtype=object)[r_te[0].argmax(axis=1)]
        mean_curves = s_te.mean(axis=0)
        if survival_mean is None:
            times_out = times
            survival_mean = np.ones((n, k, len(times)))
        cols = [arms.index(a) for a in fold_arms]
        survival_mean[np.ix_(te, cols)] = _on_grid(mean_curves, times, times_out)
    return CrossFitResult(recommended, abstained, reasons, survival_mean, times_out, folds, defaults)


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


def evaluation_propensity(cohort: Cohort, seed: int = 0, n_folds: int = 5) -> np.ndarray:
    """Cross-fitted logistic propensities ``(n, n_arms)`` on the preprocessed covariates (IPW/DR values)."""
    frame = cohort.features(include_treatment=False)
    numeric, categorical = cohort.feature_types(include_treatment=False)
    X = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(frame).transform(frame)
    p = estimate_propensity(X, cohort.treatment.to_numpy(), cohort.arms, n_folds=n_folds, seed=seed)
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


def run_treatment_demo(cohort: Cohort, out_dir, quick: bool = False, seed: int = 0) -> tuple[list[str], dict]:
    """Train, recommend for held-out patients and evaluate the cross-fitted policy (see
    :func:`oncoplan.recommend.pipeline_demo.run_treatment_demo`).

    Example:
        >>> lines, payload = run_treatment_demo(cohort, "out", quick=True)  # doctest: +SKIP
    """
    from oncoplan.recommend.pipeline_demo import run_treatment_demo as _run

    return _run(cohort, out_dir, quick=quick, seed=seed)
