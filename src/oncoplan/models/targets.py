"""Validation of scikit-survival structured targets, with oncoplan's clear errors instead of tracebacks.

Example:
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> event, time = survival_target(np.zeros((3, 1)), Surv.from_arrays([1, 0, 1], [2.0, 3.0, 4.0]))
    >>> event.tolist(), time.tolist()
    ([True, False, True], [2.0, 3.0, 4.0])
"""

from __future__ import annotations

import numpy as np
from sksurv.util import check_array_survival

from oncoplan.errors import ModelError


def survival_target(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event as contiguous bool, time as contiguous float64) of ``y``, checked against ``X``.

    Raises :class:`~oncoplan.errors.ModelError` for a malformed target or one without any event.
    """
    try:
        event, time = check_array_survival(X, y)
    except ValueError as exc:
        if "censored" in str(exc):
            raise ModelError("no events in the training data: a survival model cannot be fitted") from None
        raise ModelError(
            f"invalid survival target: {exc}", hint="use sksurv.util.Surv.from_arrays(event, time)"
        ) from None
    event = np.ascontiguousarray(event, dtype=bool)
    if not event.any():
        raise ModelError("no events in the training data: a survival model cannot be fitted")
    return event, np.ascontiguousarray(time, dtype=np.float64)
