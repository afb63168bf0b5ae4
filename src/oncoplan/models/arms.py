"""Arm labels of a treatment column: string names and integer codes in a fixed order.

Example:
    >>> encode_arms(["b", "a"], ["a", "b"])[1].tolist()
    [1, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from oncoplan.errors import CohortError, describe_rows


def encode_arms(treatment: Sequence | np.ndarray, arms: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    """Arm labels (str) and integer codes; ``arms`` fixes the order (default: sorted unique labels).

    Example:
        >>> encode_arms(["b", "a", "b"], None)
        (['a', 'b'], array([1, 0, 1]))
    """
    labels = np.asarray(treatment, dtype=object)
    missing = np.flatnonzero([v is None or (isinstance(v, float) and np.isnan(v)) for v in labels])
    if len(missing):
        raise CohortError(
            f"treatment is missing in {describe_rows((missing + 1).tolist())}",
            hint="every training patient needs the arm received; oncoplan never fills one in",
        )
    labels = labels.astype(str)
    arm_list = sorted(set(labels.tolist())) if arms is None else [str(a) for a in arms]
    lookup = {a: k for k, a in enumerate(arm_list)}
    unknown = np.flatnonzero([v not in lookup for v in labels])
    if len(unknown):
        raise CohortError(
            f"treatment has arms outside {arm_list} in {describe_rows((unknown + 1).tolist())}",
            hint="list every arm in `arms`",
        )
    return arm_list, np.array([lookup[v] for v in labels], dtype=np.int64)
