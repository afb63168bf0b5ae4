"""fit_predict adapters of the cross-fitted policy: the network + Cox effect-modifier stage."""

from __future__ import annotations

import numpy as np

from oncoplan.recommend.crossfit_learners import modifier_stage_fit_predict, prognostic_score
from oncoplan.recommend.pipeline_demo import QUICK_PARAMS


def test_prognostic_score_orders_patients_by_risk():
    times = np.array([1.0, 2.0])
    s = np.ones((2, 3, 2, 2))
    s[..., 1] = np.array([0.9, 0.5, 0.2])[None, :, None]  # patient 2 worst at t = 2
    score = prognostic_score(s, times, 2.0)
    assert np.all(np.diff(score) > 0)
    np.testing.assert_allclose(score[0], np.log(-np.log(0.9)))


def test_modifier_stage_gives_curves_for_every_arm_on_colon(colon):
    fp = modifier_stage_fit_predict(colon, {**QUICK_PARAMS, "n_ensemble": 2, "max_epochs": 3}, n_members=3)
    rows = np.arange(colon.n_patients)
    tr, te = rows[rows % 4 != 0], rows[rows % 4 == 0]
    s_tr, s_te, prop, ood, times, arms = fp(tr, te)
    assert arms == list(colon.arms)
    assert s_tr.shape == (3, len(tr), 3, len(times)) and s_te.shape == (3, len(te), 3, len(times))
    assert prop.shape == (len(te), 3) and ood.shape == (len(te),)
    assert np.all(np.diff(s_te, axis=-1) <= 1e-12) and s_te.min() >= 0 and s_te.max() <= 1
    again = modifier_stage_fit_predict(colon, {**QUICK_PARAMS, "n_ensemble": 2, "max_epochs": 3}, n_members=3)
    np.testing.assert_array_equal(again(tr, te)[1], s_te)  # seeded: identical on CPU
