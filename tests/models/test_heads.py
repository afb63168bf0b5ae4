"""Survival heads: shapes, the common train/predict protocol, survival curves, Cox head vs scikit-survival."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sksurv.datasets import load_gbsg2
from sksurv.linear_model import CoxPHSurvivalAnalysis

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.heads.cox import CoxHead, cox_survival
from oncoplan.models.heads.deephit import DeepHitHead, cif_deephit, survival_deephit
from oncoplan.models.heads.discrete import (
    interpolate_survival,
    survival_logistic_hazard,
    survival_pc_hazard,
)
from oncoplan.models.heads.parametric import survival_lognormal, survival_weibull
from oncoplan.models.heads.registry import HEADS, make_head, n_outputs
from oncoplan.models.time_grid import TimeGrid


@pytest.fixture(scope="module")
def gbsg2() -> dict[str, np.ndarray]:
    x, y = load_gbsg2()
    num = x.select_dtypes("number").to_numpy(float)
    return {
        "x": (num - num.mean(0)) / num.std(0),
        "time": y["time"].astype(float),
        "event": y["cens"].astype(float),
    }


@pytest.mark.parametrize("name", sorted(HEADS))
def test_protocol_end_to_end(gbsg2, name):
    grid = TimeGrid(10).fit(gbsg2["time"], gbsg2["event"])
    torch.manual_seed(0)
    head = make_head(name, in_features=gbsg2["x"].shape[1], grid=grid).double()
    z = torch.tensor(gbsg2["x"])
    out = head(z)
    expected_width = n_outputs(name, grid)
    assert out.shape == ((len(z),) if name == "cox" else (len(z), expected_width))
    targets = head.targets(gbsg2["time"], gbsg2["event"])
    assert all(len(t) == len(z) for t in targets)
    batch = torch.arange(0, len(z), 3)  # a mini-batch is a row subset of outputs and targets
    loss = head.loss(out[batch], *(t[batch] for t in targets))
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())
    if name == "cox":
        uniq = np.unique(gbsg2["time"])
        head.set_baseline(uniq, np.linspace(0.01, 1.0, len(uniq)))
    times = np.array([0.0, 100.0, 365.0, 1000.0, 2659.0, 4000.0])
    with torch.no_grad():
        surv = head.survival(out, times)
    assert surv.shape == (len(z), len(times))
    assert bool(((surv >= 0) & (surv <= 1)).all())
    assert bool((surv.diff(dim=1) <= 1e-12).all())


def test_n_outputs_per_head():
    grid = TimeGrid.from_cuts([0.0, 1.0, 2.0, 5.0])
    assert n_outputs("logistic_hazard", grid) == 4
    assert n_outputs("pc_hazard", grid) == 3
    assert n_outputs("deephit", grid) == 4
    assert n_outputs("deephit", grid, n_risks=2) == 8
    assert (n_outputs("weibull"), n_outputs("lognormal"), n_outputs("cox")) == (2, 2, 1)
    with pytest.raises(ConfigError, match="unknown head"):
        make_head("mtlr", 3, grid)
    with pytest.raises(ConfigError, match="TimeGrid"):
        make_head("deephit", 3)


def test_cox_head_matches_sksurv(gbsg2):
    x, time, event = gbsg2["x"], gbsg2["time"], gbsg2["event"].astype(bool)
    from sksurv.util import Surv

    model = CoxPHSurvivalAnalysis().fit(x, Surv.from_arrays(event, time))
    head = CoxHead(x.shape[1]).double()
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor(model.coef_).view(1, -1))
    cum = model.cum_baseline_hazard_
    head.set_baseline(cum.x, cum.y)
    times = np.array([cum.x[0] - 1.0, cum.x[0], 300.0, 777.7, 1500.0, cum.x[-1]])
    with torch.no_grad():
        got = head.survival(head(torch.tensor(x[:30])), times).numpy()
    want = np.array([[1.0, *fn(times[1:])] for fn in model.predict_survival_function(x[:30])])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    state = head.state_dict()
    again = CoxHead(x.shape[1]).double()
    again.load_state_dict(state)
    torch.testing.assert_close(again.baseline_cumhaz, head.baseline_cumhaz)


def test_interpolation_schemes_exact_values():
    s = torch.tensor([[0.8, 0.4, 0.2]], dtype=torch.float64)
    cuts = [0.0, 1.0, 3.0]
    times = [-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 9.0]
    lin = interpolate_survival(s, cuts, times, "linear")[0].tolist()
    assert lin == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.2])
    step = interpolate_survival(s, cuts, times, "step")[0].tolist()
    assert step == pytest.approx([1.0, 0.8, 0.8, 0.4, 0.4, 0.2, 0.2])
    ch = interpolate_survival(s, cuts, times, "const_hazard")[0].tolist()
    assert ch == pytest.approx([1.0, 0.8, np.sqrt(0.8 * 0.4), 0.4, np.sqrt(0.4 * 0.2), 0.2, 0.2])
    nan = interpolate_survival(s, cuts, times, beyond="nan")[0]
    assert bool(torch.isnan(nan[-1])) and not bool(torch.isnan(nan[:-1]).any())
    with pytest.raises(ModelError, match="scheme"):
        interpolate_survival(s, cuts, times, "cubic")  # type: ignore[arg-type]


def test_survival_formulas_at_cuts():
    g = torch.Generator().manual_seed(1)
    phi = torch.randn(5, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(survival_logistic_hazard(phi), torch.cumprod(1 - torch.sigmoid(phi), 1))
    pc = survival_pc_hazard(phi)
    torch.testing.assert_close(pc[:, 1:], torch.exp(-torch.cumsum(torch.nn.functional.softplus(phi), 1)))
    torch.testing.assert_close(pc[:, 0], torch.ones(5, dtype=torch.float64))
    cr = torch.randn(5, 2, 6, generator=g, dtype=torch.float64)
    total = cif_deephit(cr).sum(1) + survival_deephit(cr)
    torch.testing.assert_close(total, torch.ones_like(total))
    head = DeepHitHead(3, TimeGrid.from_cuts(np.arange(6.0)), n_risks=2).double()
    out = head(torch.randn(4, 3, generator=g, dtype=torch.float64))
    t = np.array([0.5, 2.5, 5.0])
    torch.testing.assert_close(
        head.cumulative_incidence(out, t).sum(1) + head.survival(out, t), torch.ones(4, 3).double()
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(0.1, 20.0),
    times=st.lists(st.floats(0.0, 30.0, allow_nan=False), min_size=1, max_size=15),
)
def test_survival_curves_monotone_in_unit_interval(seed, scale, times):
    g = torch.Generator().manual_seed(seed)
    t = np.sort(np.asarray(times))
    cuts = np.array([0.0, 1.0, 2.5, 4.0, 8.0, 20.0])
    phi = scale * torch.randn(4, 6, generator=g, dtype=torch.float64)
    params = torch.stack(
        [torch.randn(4, generator=g, dtype=torch.float64), 0.5 * torch.randn(4, generator=g).double()], 1
    )
    curves = [
        interpolate_survival(survival_logistic_hazard(phi), cuts, t, scheme)
        for scheme in ("step", "linear", "const_hazard")
    ]
    curves.append(interpolate_survival(survival_pc_hazard(phi[:, :-1]), cuts, t, "const_hazard"))
    curves.append(interpolate_survival(survival_deephit(phi), cuts, t, "linear"))
    curves.append(interpolate_survival(survival_deephit(phi.view(4, 2, 3)), cuts[:3], t, "linear"))
    curves += [survival_weibull(params, t), survival_lognormal(params, t)]
    curves.append(cox_survival(phi[:, 0], cuts[1:], np.cumsum(np.abs(phi[0, 1:].numpy())), t))
    for surv in curves:
        assert bool(((surv >= 0) & (surv <= 1)).all())
        assert bool((surv.diff(dim=1) <= 1e-12).all())


def test_grid_heads_keep_cuts_in_state_dict():
    grid = TimeGrid.from_cuts([0.0, 2.0, 7.0])
    head = make_head("logistic_hazard", 3, grid)
    again = make_head("logistic_hazard", 3, TimeGrid.from_cuts([0.0, 1.0, 2.0]))
    again.load_state_dict(head.state_dict())
    np.testing.assert_array_equal(again.grid.cuts, [0.0, 2.0, 7.0])
