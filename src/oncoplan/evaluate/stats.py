"""Descriptive statistics for a cohort: Table 1, correlation matrices, Kaplan-Meier curves by group.

* :func:`table_one` wraps the ``tableone`` package (Pollard et al. 2018, JAMIA Open; well kept, MIT). It
  gives counts/%, mean (SD) or median [Q1,Q3], Welch's t-test / one-way ANOVA / Kruskal-Wallis, chi-square
  or Fisher's exact test (2x2 tables with expected counts < 5) and standardized mean differences. We add
  the choice of mean vs median by a Shapiro-Wilk test and use Mann-Whitney U for non-normal variables
  with two groups.
* :func:`correlation_matrix` uses pandas for r and scipy for the p-values.
* :func:`kaplan_meier_by_group` uses lifelines (Kaplan-Meier, multivariate log-rank test, median CIs).

Example:
    >>> import numpy as np, pandas as pd
    >>> km = kaplan_meier_by_group([1.0, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0], ["a", "a", "a", "b", "b", "b"])
    >>> km.medians["median"].tolist()
    [2.0, 5.0]
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.survival import check_event_time

logger = logging.getLogger(__name__)


def is_normal(values: Any, alpha: float = 0.05, seed: int = 0, max_n: int = 5000) -> bool:
    """Shapiro-Wilk test (scipy): True unless normality is rejected at ``alpha``.

    Samples larger than ``max_n`` are subsampled (seeded) because scipy's p-value is unreliable beyond
    5000; fewer than 3 values count as normal (nothing to test).

    Example:
        >>> is_normal(np.random.default_rng(0).normal(size=200))
        True
        >>> is_normal(np.random.default_rng(0).exponential(size=200))
        False
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 3 or np.ptp(x) == 0:
        return True
    if len(x) > max_n:
        x = np.random.default_rng(seed).choice(x, size=max_n, replace=False)
    return bool(sps.shapiro(x).pvalue >= alpha)


def mann_whitney_u(*groups: Any) -> float:
    """Two-sided Mann-Whitney U p-value (scipy), in the ``htest`` form ``tableone`` expects.

    Example:
        >>> round(mann_whitney_u([1, 2, 3, 4], [5, 6, 7, 8]), 4)
        0.0286
    """
    if len(groups) != 2:
        raise ConfigError("Mann-Whitney U compares exactly two groups")
    a, b = (np.asarray(g, dtype=float) for g in groups)
    return float(sps.mannwhitneyu(a[np.isfinite(a)], b[np.isfinite(b)], alternative="two-sided").pvalue)


def _MANN_WHITNEY(*groups: Any) -> float:  # noqa: N802 - tableone shows __name__ in the Test column
    return mann_whitney_u(*groups)


_MANN_WHITNEY.__name__ = "Mann-Whitney U"


def table_one(
    frame: pd.DataFrame,
    groupby: str | None = None,
    categorical: list[str] | None = None,
    continuous: list[str] | None = None,
    normality_alpha: float = 0.05,
    decimals: int = 1,
) -> pd.DataFrame:
    """Table 1 of a cohort, optionally by group, with p-values and standardized mean differences.

    Continuous variables are summarised as mean (SD) when Shapiro-Wilk does not reject normality in any
    group (at ``normality_alpha``), else as median [Q1,Q3]; tests: Welch's t-test (2 groups) or one-way
    ANOVA for normal variables, Mann-Whitney U (2 groups) or Kruskal-Wallis otherwise; categorical
    variables: chi-square, or Fisher's exact for a 2x2 table with an expected count < 5 (larger tables
    with small counts are flagged in the ``Test`` column). Built on the ``tableone`` package.

    Returns:
        The formatted table (rows: variable and level; columns: Missing, Overall, each group, P-Value, Test,
        SMD (g1,g2)...). With ``groupby``, ``table.attrs["tests"]`` holds the unrounded numbers per variable:
        ``{"p_value": float, "test": str, "smd": {"SMD (g1,g2)": float, ...}}``.

    Example:
        >>> df = pd.DataFrame({"age": np.arange(40.0), "arm": ["a", "b"] * 20,
        ...                    "sex": ["f"] * 10 + ["m"] * 30})
        >>> tab = table_one(df, groupby="arm", categorical=["sex"], continuous=["age"])
        >>> "P-Value" in tab.columns
        True
    """
    try:
        from tableone import TableOne
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ConfigError("table_one needs the 'tableone' package", hint="pip install tableone") from exc
    categorical = list(categorical or [])
    continuous = list(continuous or [])
    missing_cols = [c for c in [*categorical, *continuous, *([groupby] if groupby else [])] if c not in frame]
    if missing_cols:
        raise CohortError(f"table_one: columns not in the frame: {', '.join(missing_cols)}")
    if not categorical and not continuous:
        raise ConfigError("table_one needs at least one categorical or continuous column")
    data = frame[[*categorical, *continuous, *([groupby] if groupby else [])]].copy()
    parts = [data] if groupby is None else [g for _, g in data.groupby(groupby, observed=True)]
    nonnormal = [c for c in continuous if not all(is_normal(p[c], normality_alpha) for p in parts)]
    n_groups = 0 if groupby is None else data[groupby].nunique()
    htest = {c: _MANN_WHITNEY for c in nonnormal} if n_groups == 2 else None
    for c in categorical:
        data[c] = data[c].astype(str).where(data[c].notna())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = TableOne(
            data,
            columns=[*categorical, *continuous],
            categorical=categorical,
            continuous=continuous,
            groupby=groupby,
            nonnormal=nonnormal,
            pval=groupby is not None,
            htest=htest,
            htest_name=groupby is not None,
            smd=groupby is not None and n_groups >= 2,
            decimals=decimals,
        )
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, FutureWarning)):
            logger.warning("table_one: %s", w.message)
    out = table.tableone.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = out.columns.get_level_values(-1)
    out.attrs["tests"] = _raw_tests(table) if groupby is not None else {}
    return out


def _raw_tests(table: Any) -> dict[str, dict[str, Any]]:
    """Unrounded p-values, test names and SMDs per variable from a fitted ``TableOne``."""
    tests: dict[str, dict[str, Any]] = {}
    htest = getattr(table, "htest_table", None)
    if isinstance(htest, pd.DataFrame) and "P-Value" in htest:
        for var, row in htest.iterrows():
            tests[str(var)] = {"p_value": float(row["P-Value"]), "test": str(row.get("Test", ""))}
    smd = getattr(table, "smd_table", None)
    if isinstance(smd, pd.DataFrame):
        for var, row in smd.iterrows():
            tests.setdefault(str(var), {})["smd"] = {str(k): float(v) for k, v in row.items()}
    return tests


def correlation_matrix(frame: pd.DataFrame, method: str = "pearson") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise correlations and their two-sided p-values (pairwise-complete rows).

    Returns ``(r, p)`` DataFrames; r from ``DataFrame.corr``, p from ``scipy.stats.pearsonr``/``spearmanr``.

    Example:
        >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [2.0, 4, 5, 4, 6]})
        >>> r, p = correlation_matrix(df)
        >>> round(float(r.loc["a", "b"]), 3)
        0.853
    """
    if method not in ("pearson", "spearman"):
        raise ConfigError(f"unknown correlation method {method!r}", hint="use 'pearson' or 'spearman'")
    num = frame.select_dtypes(include="number")
    if num.shape[1] < 2:
        raise CohortError("correlation_matrix needs at least two numeric columns")
    r = num.corr(method=method)
    test = sps.pearsonr if method == "pearson" else sps.spearmanr
    p = pd.DataFrame(np.zeros(r.shape), index=r.index, columns=r.columns)
    cols = list(num.columns)
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            both = num[[a, b]].dropna()
            ok = len(both) >= 3 and both[a].nunique() > 1 and both[b].nunique() > 1
            pv = float(test(both[a], both[b]).pvalue) if ok else float("nan")
            p.loc[a, b] = p.loc[b, a] = pv
    return r, p


@dataclass(frozen=True)
class KaplanMeierByGroup:
    """Kaplan-Meier curves by group, ready to plot.

    Attributes:
        curves: group -> DataFrame with ``time``, ``survival``, ``ci_low``, ``ci_high``.
        at_risk: number at risk (``time >= t``), rows = groups, columns = ``times_at_risk``.
        medians: per group ``n``, ``events``, ``median``, ``ci_low``, ``ci_high`` (inf = not reached).
        logrank_statistic, logrank_p, logrank_df: multivariate log-rank test across all groups.
    """

    curves: dict[str, pd.DataFrame]
    at_risk: pd.DataFrame
    medians: pd.DataFrame
    logrank_statistic: float
    logrank_p: float
    logrank_df: int


def kaplan_meier_by_group(
    time: Any,
    event: Any,
    group: Any,
    times_at_risk: Any = None,
    level: float = 0.95,
) -> KaplanMeierByGroup:
    """Per-group Kaplan-Meier curves, log-rank test, number-at-risk table and median survival (lifelines).

    ``times_at_risk`` defaults to 6 evenly spaced times from 0 to the largest follow-up time.

    Example:
        >>> km = kaplan_meier_by_group([1.0, 2, 3, 4], [1, 0, 1, 1], ["x", "x", "y", "y"],
        ...                            times_at_risk=[0, 2])
        >>> km.at_risk.loc["x"].tolist()
        [2, 1]
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    ev, t = check_event_time(event, time)
    g = np.asarray(pd.Series(np.asarray(group)).astype(str))
    if len(g) != len(t):
        raise CohortError(f"group has {len(g)} entries but there are {len(t)} patients")
    levels = sorted(np.unique(g))
    grid = np.linspace(0, t.max(), 6) if times_at_risk is None else np.asarray(times_at_risk, dtype=float)
    curves, medians, at_risk = {}, [], {}
    for lv in levels:
        m = g == lv
        kmf = KaplanMeierFitter(alpha=1 - level).fit(t[m], ev[m], label=lv)
        ci = kmf.confidence_interval_survival_function_
        curves[lv] = pd.DataFrame(
            {
                "time": kmf.survival_function_.index.to_numpy(dtype=float),
                "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
                "ci_low": ci.iloc[:, 0].to_numpy(),
                "ci_high": ci.iloc[:, 1].to_numpy(),
            }
        )
        med_ci = median_survival_times(kmf.confidence_interval_).to_numpy()[0]
        medians.append(
            {
                "group": lv,
                "n": int(m.sum()),
                "events": int(ev[m].sum()),
                "median": float(kmf.median_survival_time_),
                "ci_low": float(med_ci[0]),
                "ci_high": float(med_ci[1]),
            }
        )
        at_risk[lv] = [int(np.sum(t[m] >= s)) for s in grid]
    if len(levels) >= 2:
        lr = multivariate_logrank_test(t, g, ev)
        stat, p, df = float(lr.test_statistic), float(lr.p_value), int(lr.degrees_of_freedom)
    else:
        stat, p, df = float("nan"), float("nan"), 0
    return KaplanMeierByGroup(
        curves=curves,
        at_risk=pd.DataFrame.from_dict(at_risk, orient="index", columns=list(grid)),
        medians=pd.DataFrame(medians).set_index("group", drop=False),
        logrank_statistic=stat,
        logrank_p=p,
        logrank_df=df,
    )
