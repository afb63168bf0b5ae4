"""Table 1, correlations and Kaplan-Meier by group against scipy / lifelines / scikit-survival on colon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy import stats
from sksurv.nonparametric import kaplan_meier_estimator

from oncoplan.evaluate.stats import correlation_matrix, is_normal, kaplan_meier_by_group, table_one

pytest.importorskip("tableone")


def _frame(colon: pd.DataFrame) -> pd.DataFrame:
    df = colon.copy()
    df["normal_marker"] = np.random.default_rng(0).normal(50, 10, len(df))
    return df


def test_table_one_p_values_match_scipy(colon) -> None:
    df = _frame(colon)
    tab = table_one(
        df, groupby="fac_sex", categorical=["fac_rx", "fac_perfor"], continuous=["num_age", "normal_marker"]
    )
    rows = tab.index.get_level_values(0)

    def row(prefix: str) -> pd.Series:
        return tab[rows.str.startswith(prefix)].iloc[0]

    g0, g1 = (df[df.fac_sex == s] for s in (0, 1))
    # normal marker -> mean (SD) and Welch's t-test
    assert "mean (SD)" in tab[rows.str.startswith("normal_marker")].index[0][0]
    p_t = stats.ttest_ind(g0.normal_marker, g1.normal_marker, equal_var=False).pvalue
    assert float(row("normal_marker")["P-Value"]) == pytest.approx(p_t, abs=0.0015)
    # age is not normal (Shapiro-Wilk) -> median [Q1,Q3] and Mann-Whitney U
    assert not is_normal(g0.num_age)
    assert "median" in tab[rows.str.startswith("num_age")].index[0][0]
    p_mw = stats.mannwhitneyu(g0.num_age, g1.num_age, alternative="two-sided").pvalue
    assert float(row("num_age")["P-Value"]) == pytest.approx(p_mw, abs=0.0015)
    assert row("num_age")["Test"] == "Mann-Whitney U"
    # categorical -> chi-square on the contingency table
    p_chi = stats.chi2_contingency(pd.crosstab(df.fac_rx, df.fac_sex))[1]
    assert float(row("fac_rx")["P-Value"]) == pytest.approx(p_chi, abs=0.0015)
    assert any(c.startswith("SMD") for c in tab.columns)


def test_table_one_uses_fisher_for_small_2x2() -> None:
    df = pd.DataFrame(
        {"arm": ["a"] * 20 + ["b"] * 20, "rare": ["y"] * 1 + ["n"] * 19 + ["y"] * 6 + ["n"] * 14}
    )
    tab = table_one(df, groupby="arm", categorical=["rare"])
    row = tab[tab.index.get_level_values(0).str.startswith("rare")].iloc[0]
    assert row["Test"] == "Fisher's exact"
    p = stats.fisher_exact([[19, 1], [14, 6]])[1]
    assert float(row["P-Value"]) == pytest.approx(p, abs=0.0015)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_matrix_matches_scipy(colon, method: str) -> None:
    df = colon[["num_age", "num_nodes", "time"]]
    r, p = correlation_matrix(df, method=method)
    both = df[["num_age", "num_nodes"]].dropna()
    ref = (stats.pearsonr if method == "pearson" else stats.spearmanr)(both.num_age, both.num_nodes)
    assert r.loc["num_age", "num_nodes"] == pytest.approx(ref.statistic, abs=1e-10)
    assert p.loc["num_age", "num_nodes"] == pytest.approx(ref.pvalue, rel=1e-8)
    assert np.allclose(np.diag(r), 1.0) and (p.to_numpy() == p.to_numpy().T).all()


def test_kaplan_meier_by_group_matches_references(colon) -> None:
    t, e, g = colon.time.to_numpy(float), colon.event.to_numpy(), colon.fac_rx.to_numpy()
    km = kaplan_meier_by_group(t, e, g, times_at_risk=[0, 500, 1000, 2000])
    assert list(km.curves) == ["Lev", "Lev+5FU", "Obs"]
    for lv, curve in km.curves.items():
        m = g == lv
        t_ref, s_ref = kaplan_meier_estimator(e[m].astype(bool), t[m])
        np.testing.assert_allclose(np.interp(t_ref, curve.time, curve.survival), s_ref, atol=1e-10)
        assert km.at_risk.loc[lv, 1000] == np.sum(t[m] >= 1000)
        kmf = KaplanMeierFitter().fit(t[m], e[m])
        assert km.medians.loc[lv, "median"] == pytest.approx(kmf.median_survival_time_)
    two = np.isin(g, ["Lev", "Obs"])
    km2 = kaplan_meier_by_group(t[two], e[two], g[two])
    ref = logrank_test(
        t[two & (g == "Lev")], t[two & (g == "Obs")], e[two & (g == "Lev")], e[two & (g == "Obs")]
    )
    assert km2.logrank_p == pytest.approx(ref.p_value, rel=1e-10)
    assert km.logrank_df == 2 and 0 < km.logrank_p < 1


def test_table_one_unrounded_p_values_and_smds_equal_scipy(colon) -> None:
    """The raw statistics behind Table 1 (``attrs['tests']``) equal scipy and the SMD formulas to 1e-6."""
    df = _frame(colon)
    df["fac_perfor"] = df["fac_perfor"].astype(str)
    tab = table_one(
        df,
        groupby="fac_sex",
        categorical=["fac_rx", "fac_perfor"],
        continuous=["num_age", "normal_marker"],
    )
    tests = tab.attrs["tests"]
    g0, g1 = (df[df.fac_sex == s] for s in (0, 1))
    welch = stats.ttest_ind(g0.normal_marker, g1.normal_marker, equal_var=False).pvalue
    assert tests["normal_marker"]["p_value"] == pytest.approx(welch, abs=1e-6)
    mwu = stats.mannwhitneyu(g0.num_age, g1.num_age, alternative="two-sided").pvalue
    assert tests["num_age"]["p_value"] == pytest.approx(mwu, abs=1e-6)
    assert tests["num_age"]["test"] == "Mann-Whitney U"
    chi = stats.chi2_contingency(pd.crosstab(df.fac_rx, df.fac_sex))[1]
    assert tests["fac_rx"]["p_value"] == pytest.approx(chi, abs=1e-6)
    # SMD of a continuous variable: |mean difference| / pooled SD (sample variances)
    a, b = g0.normal_marker, g1.normal_marker
    smd = abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
    assert abs(tests["normal_marker"]["smd"]["SMD (0,1)"]) == pytest.approx(smd, abs=1e-6)
    # SMD of a binary variable: |p1 - p0| / sqrt((p1 (1 - p1) + p0 (1 - p0)) / 2)
    p0, p1 = (g.fac_perfor.astype(float).mean() for g in (g0, g1))
    smd_bin = abs(p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert abs(tests["fac_perfor"]["smd"]["SMD (0,1)"]) == pytest.approx(smd_bin, abs=1e-6)


def test_table_one_fisher_p_value_unrounded() -> None:
    df = pd.DataFrame(
        {"arm": ["a"] * 20 + ["b"] * 20, "rare": ["y"] * 1 + ["n"] * 19 + ["y"] * 6 + ["n"] * 14}
    )
    tests = table_one(df, groupby="arm", categorical=["rare"]).attrs["tests"]
    assert tests["rare"]["p_value"] == pytest.approx(stats.fisher_exact([[19, 1], [14, 6]])[1], abs=1e-6)
    assert table_one(df, categorical=["rare"]).attrs["tests"] == {}
