"""TimeGrid against pycox's LabTransDiscreteTime / LabTransPCHazard on GBSG2 (SurvSet) and brute force."""

from __future__ import annotations

import importlib.util
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
from SurvSet.data import SurvLoader

from oncoplan.errors import CohortError, ConfigError, ModelError
from oncoplan.models.time_grid import TimeGrid

_path = Path(__file__).with_name("_pycox_reference.py")
_spec = importlib.util.spec_from_file_location("_pycox_reference", _path)
_ref = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_ref)  # type: ignore[union-attr]

# LabTransDiscreteTime(n, scheme='quantiles').fit(time, event).cuts on SurvSet GBSG2, from pycox 0.3.0
PYCOX_QUANTILE_CUTS = {
    10: [0.0, 344.0, 491.0, 615.0, 828.0, 1119.0, 1449.0, 1905.0, 2271.0, 2659.0],
    25: [
        0.0,
        223.0,
        296.0,
        358.0,
        417.0,
        476.0,
        533.0,
        553.0,
        615.0,
        712.0,
        779.0,
        858.0,
        945.0,
        1093.0,
        1185.0,
        1323.0,
        1449.0,
        1600.0,
        1791.0,
        1976.0,
        2017.0,
        2065.0,
        2370.0,
        2449.0,
        2659.0,
    ],
}


@pytest.fixture(scope="module")
def gbsg2() -> tuple[np.ndarray, np.ndarray]:
    df, _ = SurvLoader().load_dataset("GBSG2").values()
    return df["time"].to_numpy(float), df["event"].to_numpy(float)


def brute_transform(cuts, time, event):
    idx, ev = [], []
    for t, d in zip(time, event, strict=True):
        if t > cuts[-1]:
            idx.append(len(cuts) - 1)
            ev.append(0.0)
        elif d:
            idx.append(min(j for j, c in enumerate(cuts) if c >= t))
            ev.append(1.0)
        else:
            idx.append(max(j for j, c in enumerate(cuts) if c <= t))
            ev.append(0.0)
    return np.array(idx), np.array(ev)


def brute_transform_pc(cuts, time, event):
    idx, ev, frac = [], [], []
    for t, d in zip(time, event, strict=True):
        d = bool(d) and t <= cuts[-1]
        t = min(t, cuts[-1])
        if t == cuts[0]:
            idx.append(-1), ev.append(0.0), frac.append(0.0)
            continue
        j = min(j for j, c in enumerate(cuts) if c >= t) - 1
        idx.append(j), ev.append(float(d)), frac.append((t - cuts[j]) / (cuts[j + 1] - cuts[j]))
    return np.array(idx), np.array(ev), np.array(frac)


@pytest.mark.parametrize("n_cuts", [10, 25])
def test_quantile_cuts_match_pycox_values(gbsg2, n_cuts):
    grid = TimeGrid(n_cuts, scheme="quantiles").fit(*gbsg2)
    np.testing.assert_array_equal(grid.cuts, PYCOX_QUANTILE_CUTS[n_cuts])


def test_equidistant_cuts(gbsg2):
    grid = TimeGrid(7, scheme="equidistant", min_time=0.0).fit(*gbsg2)
    np.testing.assert_allclose(grid.cuts, np.linspace(0.0, gbsg2[0].max(), 7), rtol=0, atol=0)


@pytest.mark.parametrize("scheme", ["quantiles", "equidistant"])
def test_transforms_match_brute_force(gbsg2, scheme):
    time, event = gbsg2
    grid = TimeGrid(12, scheme=scheme).fit(time, event)
    # include times past the grid, exactly at cuts and at the start
    extra_t = np.array([grid.cuts[-1] + 10.0, grid.cuts[3], grid.cuts[3], 0.0, 0.0])
    extra_e = np.array([1.0, 1.0, 0.0, 1.0, 0.0])
    t, e = np.concatenate([time, extra_t]), np.concatenate([event, extra_e])
    idx, ev = grid.transform(t, e)
    want_idx, want_ev = brute_transform(grid.cuts.tolist(), t, e)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(ev, want_ev)
    assert idx.dtype == np.int64
    pidx, pev, pfrac = grid.transform_pc(t, e)
    want = brute_transform_pc(grid.cuts.tolist(), t, e)
    np.testing.assert_array_equal(pidx, want[0])
    np.testing.assert_array_equal(pev, want[1])
    np.testing.assert_allclose(pfrac, want[2], rtol=1e-14, atol=1e-15)
    assert ((pfrac >= 0) & (pfrac <= 1)).all()


def test_matches_live_pycox(gbsg2):
    pycox = _ref.load_pycox()
    if pycox is None:
        pytest.skip("pycox not installed (pip install --no-deps pycox torchtuples to run this comparison)")
    lt = pycox["label_transforms"]
    time, event = gbsg2
    for scheme in ("quantiles", "equidistant"):
        for n_cuts in (8, 20, 40):
            grid = TimeGrid(n_cuts, scheme=scheme).fit(time, event)
            ref = lt.LabTransDiscreteTime(n_cuts, scheme=scheme)
            with warnings.catch_warnings():  # pycox warns when quantile cuts collapse (we log instead)
                warnings.simplefilter("ignore", UserWarning)
                ref_idx, ref_ev = ref.fit_transform(time, event)
            np.testing.assert_array_equal(grid.cuts, ref.cuts)
            idx, ev = grid.transform(time, event)
            np.testing.assert_array_equal(idx, ref_idx)
            np.testing.assert_array_equal(ev, ref_ev)
            ref_pc = lt.LabTransPCHazard(n_cuts - 1, scheme=scheme)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                ridx, rev, rfrac = ref_pc.fit_transform(time, event)
            np.testing.assert_array_equal(ref_pc.cuts, grid.cuts)
            pidx, pev, pfrac = grid.transform_pc(time, event)
            np.testing.assert_array_equal(pidx, ridx)
            np.testing.assert_array_equal(pev, rev)
            np.testing.assert_allclose(pfrac, rfrac, atol=1e-7)  # pycox returns float32 fractions


def test_json_round_trip(gbsg2):
    grid = TimeGrid(15).fit(*gbsg2)
    again = TimeGrid.from_dict(json.loads(json.dumps(grid.to_dict())))
    np.testing.assert_array_equal(again.cuts, grid.cuts)
    for a, b in zip(again.transform(*gbsg2), grid.transform(*gbsg2), strict=True):
        np.testing.assert_array_equal(a, b)
    explicit = TimeGrid.from_cuts([0.0, 1.5, 4.0])
    again = TimeGrid.from_dict(json.loads(json.dumps(explicit.to_dict())))
    np.testing.assert_array_equal(again.cuts, [0.0, 1.5, 4.0])
    assert TimeGrid.from_dict(TimeGrid(5).to_dict()).cuts is None


def test_tied_times_give_fewer_cuts_and_log(caplog):
    time = np.repeat([1.0, 2.0, 3.0], 10)
    with caplog.at_level(logging.WARNING, logger="oncoplan.models.time_grid"):
        grid = TimeGrid(20).fit(time, np.ones_like(time))
    assert len(grid.cuts) < 20
    assert "not unique" in caplog.text


def test_bad_input_raises_oncoplan_errors():
    with pytest.raises(ConfigError, match="n_cuts"):
        TimeGrid(1)
    with pytest.raises(ConfigError, match="scheme"):
        TimeGrid(5, scheme="log")  # type: ignore[arg-type]
    with pytest.raises(CohortError, match="row 1"):
        TimeGrid(5).fit(np.array([1.0, -2.0]), np.array([1, 1]))
    with pytest.raises(CohortError, match="'event'"):
        TimeGrid(5).fit(np.array([1.0, 2.0]), np.array([1, 2]))
    with pytest.raises(CohortError, match="2 values"):
        TimeGrid(5).fit(np.array([1.0, 2.0]), np.array([1]))
    with pytest.raises(ModelError, match="not fitted"):
        TimeGrid(5).transform(np.array([1.0]), np.array([1]))
    with pytest.raises(ConfigError, match="increasing"):
        TimeGrid.from_cuts([0.0, 2.0, 2.0])
