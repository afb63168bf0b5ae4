"""Train a survival model on a cohort end to end: preprocessing fitted on training rows, the estimator,
provenance, returned as a :class:`~oncoplan.store.bundle.ModelBundle`.

Example:
    >>> from oncoplan.data import load_cohort
    >>> cohort = load_cohort("survset:GBSG2")  # doctest: +SKIP
    >>> bundle = train_survival_model(cohort, model_params={"max_epochs": 20})  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from oncoplan.data.cohort import Cohort
from oncoplan.errors import CohortError
from oncoplan.models.survival import DeepSurvival
from oncoplan.preprocess.tabular import TabularPreprocessor
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)


def train_survival_model(
    cohort: Cohort,
    train_rows: np.ndarray | None = None,
    model_params: dict | None = None,
    include_treatment: bool = True,
    seed: int = 0,
    progress: Callable[[int, int, float, float | None], None] | None = None,
) -> ModelBundle:
    """Fit preprocessing and a :class:`DeepSurvival` model on ``train_rows`` of ``cohort``.

    Args:
        cohort: a survival cohort.
        train_rows: positional rows to train on (all rows when None).
        model_params: keyword arguments of :class:`DeepSurvival`.
        include_treatment: use the received arm as an input (so the model forecasts under each arm).
        seed: random seed (overrides ``random_state`` in ``model_params``).
        progress: per-epoch callback.
    """
    if not cohort.has_survival:
        raise CohortError(f"cohort {cohort.name!r} has no survival outcome; give time and event columns")
    train = cohort if train_rows is None else cohort.subset(train_rows)
    numeric, categorical = train.feature_types(include_treatment)
    if not numeric and not categorical:
        raise CohortError(f"cohort {cohort.name!r} has no covariates to learn from")
    preprocessor = TabularPreprocessor(numeric=numeric, categorical=categorical).fit(
        train.features(include_treatment)
    )
    X = preprocessor.transform(train.features(include_treatment))
    params = {**(model_params or {}), "random_state": seed}
    estimator = DeepSurvival(**params).fit(X, train.y, progress=progress)
    metadata = {
        "cohort": cohort.name,
        "data_hash": cohort.data_hash(),
        "train_patients": int(train.n_patients),
        "train_events": int(train.event.sum()),
        "seed": seed,
        "feature_names": list(preprocessor.feature_names_out_),
        "time_range": [float(train.time.min()), float(train.time.max())],
    }
    return ModelBundle(
        estimator=estimator,
        preprocessor=preprocessor,
        spec=cohort.spec,
        include_treatment=include_treatment and cohort.treatment is not None,
        metadata=metadata,
    )
