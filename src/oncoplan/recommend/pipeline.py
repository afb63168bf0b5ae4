"""Glue from a trained treatment-effect bundle to recommendations and cross-fitted policy evaluation.

* :func:`train_effect_model`: preprocessing + :class:`~oncoplan.models.effects.TreatmentEffectNet` fitted on
  training rows of a cohort, returned as a :class:`~oncoplan.store.bundle.ModelBundle` (the received arm is
  not an input; the network forecasts every arm). Metadata records ``tau`` and the arm that is best on
  average in the training data (``default_arm``).
* :func:`predict_counterfactuals`: per-arm survival curves of every ensemble member, RMST(tau) with
  intervals, propensities of the propensity head and out-of-distribution flags for a patient table.
* :func:`recommend_patients`: the above fed to the pure rule :func:`oncoplan.recommend.ranking.recommend`.
Cross-fitted policy evaluation lives in :mod:`oncoplan.recommend.crossfit_policy`, the demo entry point
in :mod:`oncoplan.recommend.pipeline_demo`.

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
from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.preprocess.tabular import TabularPreprocessor
from oncoplan.recommend.abstain import Abstention
from oncoplan.recommend.ranking import Recommendation, recommend
from oncoplan.recommend.rmst import EnsembleRMST, rmst_ensemble
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)

YEAR = {"days": 365.25, "weeks": 365.25 / 7, "months": 12.0, "years": 1.0}
#: TreatmentEffectNet settings this survival pipeline uses unless ``model_params`` overrides them:
#: inverse-propensity re-weighting of the factual loss (a no-op when the arm is not predictable from the
#: covariates, e.g. in a randomised trial)
SURVIVAL_DEFAULTS = {"ipw": "logistic"}


def design_defaults(cohort: Cohort) -> dict:
    """TreatmentEffectNet settings implied by the cohort's declared ``assignment`` (its spec).

    A randomised trial: no inverse-propensity weighting (the arm does not depend on the covariates) and each
    arm's average anchored to its plain Kaplan-Meier curve; observational data: never anchored; unknown:
    the estimator's own checks decide.

    Example:
        >>> from oncoplan.data import load_cohort
        >>> design_defaults(load_cohort("survset:colon"))  # doctest: +SKIP
        {'ipw': 'none', 'anchor': 'randomised'}
    """
    assignment = getattr(cohort.spec, "assignment", "unknown")
    if assignment == "randomised":
        return {"ipw": "none", "anchor": "randomised"}
    if assignment == "observational":
        return {"anchor": "none"}
    return {}


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
    params = {
        **SURVIVAL_DEFAULTS,
        **design_defaults(cohort),
        **dict(model_params or {}),
        "random_state": seed,
    }
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
    if not 0 < tau <= float(train.time.max()):  # checked before training, not after
        raise ConfigError(
            f"tau={tau:g} must lie within the training follow-up (0, {float(train.time.max()):g}]",
            hint=f"leave it out for 5 years in the cohort's time unit ({cohort.spec.time_unit})",
        )
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
        # arm averages anchored to each arm's Kaplan-Meier curve (randomised data, TreatmentEffectNet anchor)
        "anchored_to_kaplan_meier": bool(getattr(model, "anchored_", False)),
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
