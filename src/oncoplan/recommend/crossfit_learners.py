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
from oncoplan.models.effects_baselines import SLearnerSurvival, TLearnerSurvival
from oncoplan.preprocess.tabular import TabularPreprocessor

LEARNERS = {"t": TLearnerSurvival, "s": SLearnerSurvival}


def meta_learner_fit_predict(cohort: Cohort, base: str = "rsf", kind: str = "t", seed: int = 0) -> Callable:
    """``fit_predict`` of a T- (``kind="t"``) or S-learner (``"s"``) with ``base`` ``"rsf"`` or ``"cox"``.

    Example:
        >>> fp = meta_learner_fit_predict(cohort, "cox", "s")  # doctest: +SKIP
    """
    if kind not in LEARNERS:
        raise ConfigError(f"kind must be one of {sorted(LEARNERS)}, got {kind!r}")
    numeric, categorical = cohort.feature_types(include_treatment=False)
    frame = cohort.features(include_treatment=False)
    arms = list(cohort.arms or [])
    treatment = cohort.treatment.to_numpy()

    def fit_predict(tr: np.ndarray, te: np.ndarray) -> tuple:
        prep = TabularPreprocessor(numeric=numeric, categorical=categorical, strict=False)
        x_tr = prep.fit(frame.iloc[tr]).transform(frame.iloc[tr])
        x_te = prep.transform(frame.iloc[te])
        present = [a for a in arms if (treatment[tr] == a).any()]
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
