"""Model-card limitations: test patients with exact copies among the training patients are called out."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from oncoplan.report.build import _limitations
from oncoplan.report.evaluation_set import EvaluationSet


def _perf():
    return SimpleNamespace(
        horizon_table=pd.DataFrame(columns=["horizon", "predicted", "observed"]), main_horizon=1.0
    )


def test_copied_test_patients_are_a_stated_limitation(colon):
    train = colon.subset(np.arange(0, 600))
    clean = EvaluationSet(train, colon.subset(np.arange(600, 929)), "holdout", "")
    assert not any("exact copy" in x for x in _limitations(clean, _perf(), pd.DataFrame()))
    leaked = EvaluationSet(train, colon.subset(np.r_[np.arange(600, 929), np.arange(0, 7)]), "holdout", "")
    notes = [x for x in _limitations(leaked, _perf(), pd.DataFrame()) if "exact copy" in x]
    assert notes == [
        "7 of the 336 test patients have an exact copy (covariates, treatment and outcome) among the "
        "training patients: the performance shown is optimistic."
    ]
