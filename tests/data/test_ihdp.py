"""IHDP loader (shared data; skipped when absent) and its metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error

from oncoplan.data.sources.ihdp import IHDP_COLUMNS, ate_error, ihdp_dir, load_ihdp, pehe
from oncoplan.errors import DataSourceError
from tests.conftest import SHARED_DATA

requires_ihdp = pytest.mark.skipif(not (SHARED_DATA / "ihdp").is_dir(), reason="shared IHDP data absent")


@requires_ihdp
@pytest.mark.parametrize("replication", [1, 10])
def test_load_matches_the_raw_csv(replication):
    rep = load_ihdp(replication, root=SHARED_DATA)
    raw = np.loadtxt(SHARED_DATA / "ihdp" / f"ihdp_npci_{replication}.csv", delimiter=",")
    assert raw.shape == (747, len(IHDP_COLUMNS)) and rep.n == 747
    np.testing.assert_array_equal(rep.treatment, raw[:, 0].astype(int))
    np.testing.assert_array_equal(rep.y_factual, raw[:, 1])
    np.testing.assert_array_equal(rep.true_effect, raw[:, 4] - raw[:, 3])
    np.testing.assert_array_equal(rep.X.to_numpy(), raw[:, 5:])
    assert list(rep.X.columns) == [f"x{i}" for i in range(1, 26)]
    assert set(np.unique(rep.treatment)) == {0, 1} and 100 < rep.treatment.sum() < 200
    # the factual outcome is the noiseless one of the received arm plus noise
    mu = np.where(rep.treatment == 1, rep.mu1, rep.mu0)
    assert np.corrcoef(mu, rep.y_factual)[0, 1] > 0.85


def test_bad_replication_and_missing_folder(tmp_path):
    with pytest.raises(DataSourceError, match="1..10, got 11"):
        load_ihdp(11)
    with pytest.raises(DataSourceError, match="IHDP files were not found"):
        ihdp_dir(tmp_path)
    (tmp_path / "ihdp").mkdir()
    with pytest.raises(DataSourceError, match="ihdp_npci_3.csv not found"):
        load_ihdp(3, root=tmp_path)
    (tmp_path / "ihdp" / "ihdp_npci_3.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(DataSourceError, match="has 3 columns, expected 30"):
        load_ihdp(3, root=tmp_path)


def test_metrics_match_scikit_learn(rng):
    truth, est = rng.normal(size=50), rng.normal(size=50)
    assert pehe(truth, est) == pytest.approx(np.sqrt(mean_squared_error(truth, est)), rel=1e-12)
    assert ate_error(truth, est) == pytest.approx(abs(est.mean() - truth.mean()), rel=1e-12)
