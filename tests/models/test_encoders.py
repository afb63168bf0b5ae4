"""Encoders: piecewise-linear encoding (PLE) of numeric inputs and the tabular network around it."""

import numpy as np
import pytest
import torch

from oncoplan.errors import ConfigError
from oncoplan.models.encoders.numeric import PiecewiseLinearEncoding, quantile_bin_edges
from oncoplan.models.encoders.tabular import TabularSurvivalNet


def test_bin_edges_are_numpy_quantiles_and_merge_repeats():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=500), rng.integers(0, 2, 500), np.full(500, 3.0)])
    edges = quantile_bin_edges(X, n_bins=4)
    assert edges.shape == (3, 5)
    np.testing.assert_allclose(edges[0], np.quantile(X[:, 0], [0, 0.25, 0.5, 0.75, 1.0]), rtol=0, atol=0)
    assert np.isfinite(edges[1]).sum() >= 2 and np.all(np.diff(edges[1][np.isfinite(edges[1])]) > 0)
    assert np.isnan(edges[2]).all()  # constant column: no bins
    with pytest.raises(ConfigError):
        quantile_bin_edges(X, n_bins=0)


def test_ple_values_shapes_and_extrapolation():
    enc = PiecewiseLinearEncoding(np.array([[0.0, 1.0, 3.0], [10.0, 20.0, np.nan]]))
    x = torch.tensor([[0.5, 15.0], [2.0, 25.0], [-1.0, 5.0], [4.0, 10.0]])
    out = enc(x)
    assert out.shape == (4, 4) and enc.out_features == 4
    expected = [
        [0.5, 0.0, 0.5, 0.0],  # second feature has one bin; its padded slot is always 0
        [1.0, 0.5, 1.5, 0.0],  # single bin is open on both sides
        [-1.0, 0.0, -0.5, 0.0],  # first bin open below
        [1.0, 1.5, 0.0, 0.0],  # last bin open above
    ]
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)


def test_ple_is_monotone_and_continuous_in_each_input():
    rng = np.random.default_rng(1)
    edges = quantile_bin_edges(rng.normal(size=(300, 2)), n_bins=6)
    enc = PiecewiseLinearEncoding(edges)
    grid = torch.linspace(-4, 4, 2001)
    out = enc(torch.stack([grid, grid], dim=1)).numpy()
    assert np.all(np.diff(out, axis=0) >= -1e-7)  # every bin activation is non-decreasing in x
    assert np.max(np.abs(np.diff(out, axis=0))) < 0.05  # no jumps


def test_edges_fitted_on_training_rows_only():
    rng = np.random.default_rng(2)
    train, test = rng.normal(size=(200, 3)), rng.normal(loc=5.0, size=(50, 3))
    edges = quantile_bin_edges(train, n_bins=5)
    np.testing.assert_array_equal(edges, quantile_bin_edges(train.copy(), n_bins=5))
    assert not np.allclose(edges, quantile_bin_edges(np.vstack([train, test]), n_bins=5))
    enc = PiecewiseLinearEncoding(edges)
    assert enc(torch.as_tensor(test, dtype=torch.float32)).shape == (50, 15)  # unseen range: no error


def test_network_with_embedding_is_deterministic_and_keeps_linear_path():
    edges = quantile_bin_edges(np.random.default_rng(3).normal(size=(100, 4)), n_bins=5)

    def build():
        torch.manual_seed(0)
        return TabularSurvivalNet(4, 1, hidden=(8,), embedding=PiecewiseLinearEncoding(edges)).eval()

    a, b = build(), build()
    x = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    assert a(x).shape == (7, 1)
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    a.load_linear(torch.ones(1, 4), torch.zeros(1))
    torch.testing.assert_close(a(x)[:, 0], x.sum(1))  # starts at the linear model on raw inputs
    assert a.encoder.layers[0].in_features == 20
