"""TreatmentEffectNet with one trunk per arm (``shared_trunk=False``): arms uncoupled, persistence."""

from __future__ import annotations

import numpy as np
import torch

from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.models.effects_net import EffectNetwork

SMALL = {"n_ensemble": 2, "max_epochs": 4, "patience": 3, "hidden": (8,), "head_hidden": (4,), "n_cuts": 8}


def test_arm_outputs_depend_only_on_their_own_trunk():
    torch.manual_seed(0)
    net = EffectNetwork(4, 3, outcome="continuous", hidden=(6,), head_hidden=(3,), shared_trunk=False)
    outcome, _, _ = net.split(net(torch.randn(5, 4)))
    outcome[:, 0].sum().backward()
    assert net.arm_trunks[0][0].weight.grad.abs().sum() > 0
    for k in (1, 2):  # arm 0's output never touches arm k's trunk
        assert float(net.arm_trunks[k][0].weight.grad.abs().sum()) == 0.0
    assert float(net.representation[0].weight.grad.abs().sum()) == 0.0  # it only feeds the propensity head


def test_default_shares_one_trunk_between_arms():
    torch.manual_seed(0)
    shared = EffectNetwork(4, 2, outcome="continuous", hidden=(6,), head_hidden=(3,))
    assert len(shared.arm_trunks) == 0  # no extra parameters: TARNet as before
    outcome, _, _ = shared.split(shared(torch.randn(5, 4)))
    outcome[:, 1].sum().backward()
    assert float(shared.representation[0].weight.grad.abs().sum()) > 0


def test_per_arm_trunks_fit_and_round_trip(colon):
    from tests.models.test_effects import _design

    X, y, a = _design(colon), colon.y, colon.treatment.to_numpy()
    model = TreatmentEffectNet(**SMALL, shared_trunk=False, random_state=1).fit(X, y, a)
    pred = model.predict_counterfactual(X[:20])
    assert pred.shape[:3] == (2, 20, 3) and np.all(np.diff(pred, axis=-1) <= 1e-12)
    state, tensors = model.export_state()
    assert state["params"]["shared_trunk"] is False
    clone = TreatmentEffectNet.from_exported_state(state, {k: v.clone() for k, v in tensors.items()})
    np.testing.assert_array_equal(clone.predict_counterfactual(X[:20]), pred)


def test_arm_skip_gives_each_arm_a_direct_path_from_the_inputs():
    torch.manual_seed(0)
    net = EffectNetwork(4, 2, outcome="continuous", hidden=(6,), head_hidden=(), dropout=0.0, arm_skip=True)
    assert net.arm_heads[0].in_features == 6 + 4
    with torch.no_grad():  # a constant representation: outcome differences can only come from the skip path
        for p in net.representation.parameters():
            p.zero_()
    with torch.no_grad():
        outcome, _, _ = net.split(net(torch.randn(5, 4)))
    assert float(outcome[:, 0, 0].std()) > 0 and float(outcome[:, 1, 0].std()) > 0
    plain = EffectNetwork(4, 2, outcome="continuous", hidden=(6,), head_hidden=(), dropout=0.0)
    with torch.no_grad():
        for p in plain.representation.parameters():
            p.zero_()
        flat, _, _ = plain.split(plain(torch.randn(5, 4)))
    assert float(flat[:, 0, 0].std()) == 0.0
