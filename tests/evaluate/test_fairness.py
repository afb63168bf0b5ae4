"""Subgroup metrics: values equal the metric on each subgroup, gaps are paired, small groups are flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.fairness import age_bands, subgroup_metrics
from oncoplan.evaluate.survival import harrell_c


def test_age_bands() -> None:
    bands = age_bands([30, 49.9, 50, 64, 65, 75, 90, None], edges=(50, 65, 75))
    assert bands.tolist() == ["<50", "<50", "50-<65", "50-<65", "65-<75", ">=75", ">=75", "missing"]
    with pytest.raises(ConfigError):
        age_bands([1, 2], edges=(60, 50))


def test_subgroup_values_gaps_and_flags(colon) -> None:
    df = colon.dropna(subset=["num_nodes"]).reset_index(drop=True)
    e, t = df.event.to_numpy(), df.time.to_numpy(float)
    risk = df.num_nodes.to_numpy(float) + 0.01 * df.num_age.to_numpy()
    groups = {
        "sex": df.fac_sex.to_numpy(),
        "age": age_bands(df.num_age, edges=(40, 70)),
        "perfor": df.fac_perfor,
    }
    tab = subgroup_metrics(harrell_c, e, t, risk, groups=groups, event=e, n_boot=20, seed=0)
    sub = tab[tab.kind == "subgroup"]
    for _, row in sub.iterrows():
        m = np.asarray(groups[row.variable]).astype(str) == row.group
        assert row.n == m.sum() and row.n_events == e[m].sum()
        assert row.value == pytest.approx(harrell_c(e[m], t[m], risk[m]))
        assert row.gap == pytest.approx(row.value - harrell_c(e[~m], t[~m], risk[~m]))
    small = sub[(sub.variable == "perfor") & (sub.group == "1")].iloc[0]
    assert small.too_small and "patients < 30" in small.reason
    assert not sub[(sub.variable == "sex")].too_small.any()
    mm = tab[(tab.variable == "sex") & (tab.kind == "max_min")].iloc[0]
    vals = sub[sub.variable == "sex"].value
    assert mm.gap == pytest.approx(vals.max() - vals.min())
    assert mm.gap_ci_low <= mm.gap <= mm.gap_ci_high
    # perfor has one eligible subgroup only -> no max-min comparison, with a reason
    assert tab[(tab.variable == "perfor") & (tab.kind == "max_min")].iloc[0].too_small
    again = subgroup_metrics(harrell_c, e, t, risk, groups=groups, event=e, n_boot=20, seed=0)
    assert again.equals(tab)


def test_subgroup_gap_ci_detects_a_real_difference() -> None:
    rng = np.random.default_rng(0)
    n = 400
    site = np.repeat(["good", "bad"], n // 2)
    r = rng.normal(size=n)
    t = rng.exponential(np.exp(-np.where(site == "good", 1.5, 0.0) * r))
    e = np.ones(n, dtype=int)
    tab = subgroup_metrics(harrell_c, e, t, r, groups={"site": site}, event=e, n_boot=60, seed=1)
    good = tab[tab.group == "good"].iloc[0]
    assert good.gap_ci_low > 0 and good.gap_p_value < 0.05


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(CohortError):
        subgroup_metrics(np.mean, np.ones(5), groups={"g": ["a"] * 4})


def test_vectorised_harrell_gives_the_loop_values(colon) -> None:
    """HARRELL_C (scored on all resamples at once) and plain harrell_c give the same subgroup table."""
    from oncoplan.evaluate.survival_bootstrap import HARRELL_C

    df = colon.dropna(subset=["num_nodes"]).reset_index(drop=True)
    e, t = df.event.to_numpy(), df.time.to_numpy(float)
    risk = df.num_nodes.to_numpy(float) + 0.01 * df.num_age.to_numpy()
    groups = {"sex": df.fac_sex.to_numpy(), "age": age_bands(df.num_age, edges=(40, 70))}
    slow = subgroup_metrics(harrell_c, e, t, risk, groups=groups, event=e, n_boot=15, seed=4)
    fast = subgroup_metrics(HARRELL_C, e, t, risk, groups=groups, event=e, n_boot=15, seed=4)
    pd.testing.assert_frame_equal(slow, fast, atol=1e-10, rtol=0)
