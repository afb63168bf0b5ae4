"""Validation of cohort tables with specific messages: which column, which rows, what to do.

All problems found are gathered and reported together in one :class:`~oncoplan.errors.CohortError`.

Example:
    >>> import pandas as pd
    >>> from oncoplan.data.spec import CohortSpec
    >>> spec = CohortSpec(id_column="id", time_column="t", event_column="e", numeric=["age"])
    >>> df = pd.DataFrame({"id": [1, 2], "t": [5.0, -1.0], "e": [1, 0], "age": [50, 60]})
    >>> find_problems(df, spec)
    ["column 't' has negative times in row 2 (ids: 2); survival times must be >= 0"]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncoplan.data.spec import CohortSpec
from oncoplan.errors import CohortError, describe_rows


def _ids_of(df: pd.DataFrame, spec: CohortSpec, mask: np.ndarray, limit: int = 5) -> str:
    if spec.id_column not in df.columns:
        return ""
    ids = df.loc[mask, spec.id_column].astype(str).tolist()
    shown = ", ".join(ids[:limit]) + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")
    return f" (ids: {shown})"


def _row_numbers(mask: np.ndarray) -> list[int]:
    """1-based data-row numbers (header excluded) for messages about files."""
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def _where(df: pd.DataFrame, spec: CohortSpec, mask: np.ndarray) -> str:
    return describe_rows(_row_numbers(mask)) + _ids_of(df, spec, mask)


def _missing_columns(df: pd.DataFrame, spec: CohortSpec) -> list[str]:
    wanted = {
        "id_column": spec.id_column,
        "time_column": spec.time_column,
        "event_column": spec.event_column,
        "response_column": spec.response_column,
        "treatment_column": spec.treatment_column,
    }
    problems = [
        f"{role} {col!r} is not in the table (columns are: {', '.join(map(str, df.columns[:12]))}"
        f"{', ...' if len(df.columns) > 12 else ''})"
        for role, col in wanted.items()
        if col is not None and col not in df.columns
    ]
    absent = [c for c in spec.covariates if c not in df.columns]
    if absent:
        problems.append(f"covariate columns missing from the table: {', '.join(map(repr, absent))}")
    return problems


def _time_problems(df: pd.DataFrame, spec: CohortSpec) -> list[str]:
    col = spec.time_column
    raw = df[col]
    times = pd.to_numeric(raw, errors="coerce")
    problems = []
    bad = (times.isna() & raw.notna()).to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].astype(str).unique()[:3])
        problems.append(f"column {col!r} has non-numeric times in {_where(df, spec, bad)}, e.g. {examples}")
    missing = raw.isna().to_numpy()
    if missing.any():
        problems.append(
            f"column {col!r} has missing times in {_where(df, spec, missing)}; drop these patients"
        )
    neg = (times < 0).to_numpy()
    if neg.any():
        problems.append(
            f"column {col!r} has negative times in {_where(df, spec, neg)}; survival times must be >= 0"
        )
    return problems


def _binary_problems(df: pd.DataFrame, spec: CohortSpec, col: str, what: str) -> list[str]:
    raw = df[col]
    values = pd.to_numeric(
        raw.map(lambda v: int(v) if isinstance(v, bool | np.bool_) else v), errors="coerce"
    )
    bad = ~values.isin([0, 1]).to_numpy()
    if not bad.any():
        return []
    examples = ", ".join(repr(v) for v in raw[bad].astype(str).unique()[:3])
    return [f"column {col!r} ({what}) must be 0 or 1; found {examples} in {_where(df, spec, bad)}"]


def _treatment_problems(df: pd.DataFrame, spec: CohortSpec) -> list[str]:
    col = spec.treatment_column
    raw = df[col]
    problems = []
    missing = raw.isna().to_numpy()
    if missing.any():
        problems.append(
            f"treatment column {col!r} is empty in {_where(df, spec, missing)}; oncoplan never fills in a "
            "treatment: remove these patients or record their treatment"
        )
    values = raw[~missing].astype(str)
    if spec.arms is not None:
        unknown = sorted(set(values) - set(spec.arms))
        if unknown:
            problems.append(
                f"treatment column {col!r} has values not among the declared arms {spec.arms}: {unknown}"
            )
    counts = values.value_counts()
    small = counts[counts < spec.min_arm_size]
    for arm, n in small.items():
        problems.append(
            f"treatment arm {arm!r} has only {n} patients (minimum {spec.min_arm_size}); merge or drop it, "
            "or lower min_arm_size in the spec"
        )
    if spec.arms is not None:
        for arm in spec.arms:
            if arm not in counts.index:
                problems.append(f"declared treatment arm {arm!r} has no patients")
    return problems


def _covariate_problems(df: pd.DataFrame, spec: CohortSpec) -> list[str]:
    problems = []
    for col in spec.covariates:
        if df[col].isna().all():
            problems.append(f"column {col!r} is missing for every patient; remove it from the spec")
    for col in spec.numeric:
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = (num.isna() & raw.notna()).to_numpy()
        if bad.any():
            examples = ", ".join(repr(v) for v in raw[bad].astype(str).unique()[:3])
            problems.append(
                f"numeric column {col!r} has non-numeric values in {_where(df, spec, bad)}, e.g. {examples}; "
                "declare it categorical or clean the values"
            )
    return problems


def find_problems(df: pd.DataFrame, spec: CohortSpec) -> list[str]:
    """Every problem of ``df`` under ``spec``, as human-readable sentences (empty list = valid)."""
    if len(df) == 0:
        return ["the table has no rows"]
    problems = _missing_columns(df, spec)
    if problems:
        return problems
    ids = df[spec.id_column]
    if ids.isna().any():
        problems.append(
            f"id column {spec.id_column!r} is empty in {describe_rows(_row_numbers(ids.isna().to_numpy()))}"
        )
    dup = ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy()
    if dup.any():
        problems.append(
            f"id column {spec.id_column!r} has duplicate ids {sorted(set(ids[dup].astype(str)))[:5]} in "
            f"{describe_rows(_row_numbers(dup))}; each patient must appear once"
        )
    if spec.time_column is not None:
        problems += _time_problems(df, spec)
        problems += _binary_problems(df, spec, spec.event_column, "event indicator: 1 = event, 0 = censored")
    if spec.response_column is not None:
        problems += _binary_problems(df, spec, spec.response_column, "binary response")
    if spec.treatment_column is not None:
        problems += _treatment_problems(df, spec)
    problems += _covariate_problems(df, spec)
    return problems


def check_table(df: pd.DataFrame, spec: CohortSpec, source: str = "the cohort table") -> None:
    """Raise one :class:`CohortError` listing every problem of ``df`` under ``spec``."""
    problems = find_problems(df, spec)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise CohortError(f"{source} ({spec.name}) has {len(problems)} problem(s):\n{listing}")
