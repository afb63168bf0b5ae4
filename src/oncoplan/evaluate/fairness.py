"""Subgroup (fairness) analysis: any metric per subgroup, gaps with paired bootstrap CIs, small-group flags.

Written by hand (a few lines over :mod:`oncoplan.evaluate.bootstrap`); fairlearn's ``MetricFrame`` has no
confidence intervals and no survival metrics.

Example:
    >>> import numpy as np
    >>> from oncoplan.evaluate.binary import auc_roc
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 400); s = y + rng.normal(size=400)
    >>> sex = rng.choice(["F", "M"], 400)
    >>> tab = subgroup_metrics(auc_roc, y, s, groups={"sex": sex}, event=y, n_boot=50)
    >>> tab["group"].tolist()
    ['F', 'M', 'max - min']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.bootstrap import WeightedMetric, resample_counts, resample_indices
from oncoplan.evaluate.compare import bootstrap_p_value

logger = logging.getLogger(__name__)

_CAUGHT = (ValueError, ZeroDivisionError, FloatingPointError, ArithmeticError, CohortError)


def age_bands(age: Any, edges: Sequence[float] = (50, 65, 75)) -> np.ndarray:
    """Age bands labelled ``<50``, ``50-<65``, ``65-<75``, ``>=75`` (left-closed); missing -> ``missing``.

    Example:
        >>> age_bands([42, 50, 70, 80, np.nan]).tolist()
        ['<50', '50-<65', '65-<75', '>=75', 'missing']
    """
    a = np.asarray(age, dtype=float)
    e = np.asarray(edges, dtype=float)
    if len(e) == 0 or np.any(np.diff(e) <= 0):
        raise ConfigError("age band edges must be a non-empty increasing sequence, e.g. (50, 65, 75)")
    names = (
        [f"<{e[0]:g}"] + [f"{lo:g}-<{hi:g}" for lo, hi in zip(e[:-1], e[1:], strict=True)] + [f">={e[-1]:g}"]
    )
    idx = np.searchsorted(e, np.nan_to_num(a, nan=0.0), side="right")
    out = np.array(names, dtype=object)[idx]
    out[~np.isfinite(a)] = "missing"
    return out.astype(str)


def _safe(metric_fn: Callable[..., float], arrays: Sequence[np.ndarray], rows: np.ndarray) -> float:
    try:
        value = float(metric_fn(*(a[rows] for a in arrays)))
    except _CAUGHT:
        return float("nan")
    return value if np.isfinite(value) else float("nan")


def _size_reason(n: int, n_events: int | None, min_patients: int, min_events: int) -> str:
    reasons = []
    if n < min_patients:
        reasons.append(f"{n} patients < {min_patients}")
    if n_events is not None and n_events < min_events:
        reasons.append(f"{n_events} events < {min_events}")
    return "; ".join(reasons)


def _interval(reps: np.ndarray, level: float) -> tuple[float, float]:
    reps = reps[np.isfinite(reps)]
    if len(reps) < 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _weighted_replicates(
    metric_fn: WeightedMetric,
    arrays: list[np.ndarray],
    labels: np.ndarray,
    levels: list[str],
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Subgroup and complement replicates from draw counts (same resamples as the loop)."""
    n = len(labels)
    counts = resample_counts([resample_indices(n, rng, labels) for _ in range(n_boot)], n)

    def score(members: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(metric_fn.weighted(counts[:, members], *(a[members] for a in arrays)), float)
        except _CAUGHT:
            return np.full(n_boot, np.nan)

    reps = np.column_stack([score(labels == lv) for lv in levels])
    if len(levels) > 1:
        rest = np.column_stack([score(labels != lv) for lv in levels])
    else:
        rest = np.full((n_boot, 1), np.nan)
    return reps, rest


def _one_variable(
    metric_fn: Callable[..., float],
    arrays: list[np.ndarray],
    labels: np.ndarray,
    event: np.ndarray | None,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
    min_patients: int,
    min_events: int,
) -> list[dict[str, Any]]:
    levels = sorted(np.unique(labels))
    n = len(labels)
    values = np.array([_safe(metric_fn, arrays, np.flatnonzero(labels == lv)) for lv in levels])
    rests = np.array([_safe(metric_fn, arrays, np.flatnonzero(labels != lv)) for lv in levels])
    if isinstance(metric_fn, WeightedMetric):
        reps, rest_reps = _weighted_replicates(metric_fn, arrays, labels, levels, n_boot, rng)
    else:
        reps = np.full((n_boot, len(levels)), np.nan)
        rest_reps = np.full((n_boot, len(levels)), np.nan)
        for b in range(n_boot):
            idx = resample_indices(n, rng, labels)  # group sizes fixed in every resample
            lab = labels[idx]
            for k, lv in enumerate(levels):
                reps[b, k] = _safe(metric_fn, arrays, idx[lab == lv])
                rest_reps[b, k] = _safe(metric_fn, arrays, idx[lab != lv]) if len(levels) > 1 else np.nan
    rows = []
    eligible = []
    for k, lv in enumerate(levels):
        members = labels == lv
        n_ev = None if event is None else int(event[members].sum())
        reason = _size_reason(int(members.sum()), n_ev, min_patients, min_events)
        if not np.isfinite(values[k]):
            reason = "; ".join(filter(None, [reason, "metric undefined in this group"]))
        if not reason:
            eligible.append(k)
        gap_reps = reps[:, k] - rest_reps[:, k]
        rows.append(
            {
                "kind": "subgroup",
                "group": str(lv),
                "n": int(members.sum()),
                "n_events": n_ev,
                "value": values[k],
                **dict(zip(("ci_low", "ci_high"), _interval(reps[:, k], level), strict=True)),
                "gap": values[k] - rests[k],
                **dict(zip(("gap_ci_low", "gap_ci_high"), _interval(gap_reps, level), strict=True)),
                "gap_p_value": bootstrap_p_value(gap_reps),
                "too_small": bool(reason),
                "reason": reason,
            }
        )
    if len(eligible) >= 2:
        mm_reps = np.nanmax(reps[:, eligible], axis=1) - np.nanmin(reps[:, eligible], axis=1)
        mm = float(np.max(values[eligible]) - np.min(values[eligible]))
        mm_ci = _interval(mm_reps, level)
        mm_reason = ""
    else:
        mm, mm_ci, mm_reps = float("nan"), (float("nan"), float("nan")), np.array([])
        mm_reason = "fewer than two subgroups large enough to compare"
    rows.append(
        {
            "kind": "max_min",
            "group": "max - min",
            "n": n,
            "n_events": None if event is None else int(event.sum()),
            "value": float("nan"),
            "ci_low": float("nan"),
            "ci_high": float("nan"),
            "gap": mm,
            "gap_ci_low": mm_ci[0],
            "gap_ci_high": mm_ci[1],
            "gap_p_value": float("nan"),
            "too_small": bool(mm_reason),
            "reason": mm_reason,
        }
    )
    return rows


def subgroup_metrics(
    metric_fn: Callable[..., float],
    *arrays: Any,
    groups: dict[str, Any],
    event: Any = None,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    min_patients: int = 30,
    min_events: int = 10,
) -> pd.DataFrame:
    """``metric_fn(*arrays)`` in every subgroup, with the gap to the rest of the cohort and the max-min gap.

    For each grouping variable (e.g. ``{"sex": sex, "age": age_bands(age)}``) the cohort is resampled
    ``n_boot`` times, keeping every subgroup's size (stratified bootstrap); in each resample the metric is
    computed in each subgroup and in its complement, so gap CIs are paired (a
    :class:`~oncoplan.evaluate.bootstrap.WeightedMetric` such as ``survival_bootstrap.HARRELL_C`` scores all
    resamples at once, with the same values). The ``max - min`` row is the
    spread between subgroups that are large enough (biased upwards in small samples: a max over noisy
    values); ``gap_p_value`` is the bootstrap p-value of "gap = 0".

    Args:
        metric_fn: e.g. ``auc_roc`` with ``arrays = (y, score)``, or ``harrell_c`` with
            ``(event, time, risk)``.
        arrays: row-aligned inputs of ``metric_fn``.
        groups: name -> one label per patient (missing values become the label ``"missing"``).
        event: optional event / positive-class indicator, to count events per subgroup.
        min_patients, min_events: below these a subgroup is flagged ``too_small`` with a ``reason``.

    Returns:
        Tidy DataFrame: ``variable, kind, group, n, n_events, value, ci_low, ci_high, gap, gap_ci_low,
        gap_ci_high, gap_p_value, too_small, reason`` (``gap`` = subgroup minus rest, or max - min).

    Example:
        >>> from oncoplan.evaluate.binary import auc_roc
        >>> y = np.tile([0, 1], 50); s = np.linspace(0, 1, 100); site = np.repeat(["a", "b"], 50)
        >>> tab = subgroup_metrics(auc_roc, y, s, groups={"site": site}, event=y, n_boot=20)
        >>> bool(tab.loc[0, "too_small"]), tab.loc[0, "reason"]
        (False, '')
    """
    arrs = [np.asarray(a) for a in arrays]
    if not arrs:
        raise ConfigError("subgroup_metrics needs the metric's input arrays")
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise CohortError("all arrays passed to subgroup_metrics must have one row per patient")
    ev = None if event is None else np.asarray(event).astype(float)
    if ev is not None and len(ev) != n:
        raise CohortError(f"event has {len(ev)} rows but there are {n} patients")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows = []
    for var, labels in groups.items():
        lab = pd.Series(np.asarray(labels, dtype=object)).fillna("missing").astype(str).to_numpy()
        if len(lab) != n:
            raise CohortError(f"group {var!r} has {len(lab)} labels but there are {n} patients")
        for row in _one_variable(metric_fn, arrs, lab, ev, n_boot, level, rng, min_patients, min_events):
            rows.append({"variable": var, **row})
    for row in rows:
        if row["too_small"] and row["kind"] == "subgroup":
            logger.info("subgroup %s=%s flagged: %s", row["variable"], row["group"], row["reason"])
    return pd.DataFrame(rows)
