"""Shared fixtures of the model tests."""

import pytest

from oncoplan.preprocess.tabular import TabularPreprocessor


@pytest.fixture(scope="module")
def xy():
    """GBSG2 (686 patients) preprocessed with the arm as an input, and its structured survival target."""
    from oncoplan.data import load_cohort

    cohort = load_cohort("survset:GBSG2")
    numeric, categorical = cohort.feature_types()
    X = TabularPreprocessor(numeric, categorical).fit_transform(cohort.features())
    return X, cohort.y
