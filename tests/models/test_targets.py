import numpy as np
import pytest
from sksurv.util import Surv

from oncoplan.errors import ModelError
from oncoplan.models.baselines import CoxPHBaseline
from oncoplan.models.effects_baselines import TLearnerSurvival
from oncoplan.models.targets import survival_target


def test_valid_target_is_returned_as_bool_and_float():
    event, time = survival_target(np.zeros((3, 2)), Surv.from_arrays([1, 0, 1], [5, 3, 4]))
    assert event.dtype == bool and time.dtype == np.float64
    assert event.tolist() == [True, False, True] and time.tolist() == [5.0, 3.0, 4.0]


@pytest.mark.parametrize(
    "y, message",
    [
        (np.array([1.0, 2.0, 3.0]), "invalid survival target"),
        (
            np.array([(False, 1.0), (False, 2.0), (False, 3.0)], dtype=[("event", "?"), ("time", "<f8")]),
            "no events",
        ),
    ],
)
def test_bad_targets_raise_model_error_everywhere(y, message):
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ModelError, match=message):
        survival_target(X, y)
    with pytest.raises(ModelError, match=message):
        CoxPHBaseline().fit(X, y)
    with pytest.raises(ModelError, match=message):
        TLearnerSurvival().fit(X, y, ["a", "b", "a"])
