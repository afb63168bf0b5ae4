"""Piecewise-linear encoding (PLE) of numeric inputs, with quantile bins fitted on training rows.

Gorishniy, Rubachev and Babenko (2022), "On embeddings for numerical features in tabular deep learning":
each scalar ``x_j`` becomes a vector of ``T_j`` bin activations ``e_t = clip((x - b_{t-1}) / (b_t - b_{t-1}),
0, 1)`` over bin edges ``b_0 < ... < b_T`` (the first bin is open below, the last open above, so values
outside the training range extrapolate linearly). Bins are the feature's training quantiles. An MLP on
these features can fit step-like effects and thresholds, which closes much of the gap to tree ensembles on
tabular data. Written by hand: neither scikit-learn nor PyTorch ships PLE (``rtdl_num_embeddings`` does,
but would add a dependency for ~60 lines).

Example:
    >>> import numpy as np, torch
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> enc = PiecewiseLinearEncoding(quantile_bin_edges(X, n_bins=4))
    >>> enc(torch.as_tensor(X, dtype=torch.float32)).shape
    torch.Size([100, 12])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from oncoplan.errors import ConfigError


def quantile_bin_edges(X: np.ndarray, n_bins: int = 8) -> np.ndarray:
    """Quantile bin edges per column of training rows ``X``: array (n_features, n_bins + 1), NaN padded.

    Repeated quantiles (discrete columns) are merged, so a binary column gets one bin and a constant
    column none (all NaN); the unused slots at the end are NaN.

    Example:
        >>> quantile_bin_edges(np.array([[0.0], [1.0], [1.0], [2.0]]), n_bins=2).tolist()
        [[0.0, 1.0, 2.0]]
    """
    if int(n_bins) < 1:
        raise ConfigError(f"n_bins must be >= 1, got {n_bins}")
    X = np.asarray(X, dtype=np.float64)
    qs = np.linspace(0.0, 1.0, int(n_bins) + 1)
    edges = np.full((X.shape[1], int(n_bins) + 1), np.nan)
    for j in range(X.shape[1]):
        uniq = np.unique(np.quantile(X[:, j], qs))
        if len(uniq) >= 2:
            edges[j, : len(uniq)] = uniq
    return edges


class PiecewiseLinearEncoding(nn.Module):
    """Fixed (parameter-free) piecewise-linear encoding of every input column.

    Args:
        edges: (n_features, n_bins + 1) bin edges from :func:`quantile_bin_edges` (NaN = unused slot).

    Shapes: input (batch, n_features) -> output (batch, n_features * n_bins); unused bins output 0.

    Example:
        >>> enc = PiecewiseLinearEncoding(np.array([[0.0, 1.0, 2.0]]))
        >>> enc(torch.tensor([[0.5], [1.5], [3.0]])).tolist()
        [[0.5, 0.0], [1.0, 0.5], [1.0, 2.0]]
    """

    def __init__(self, edges: np.ndarray) -> None:
        super().__init__()
        edges = np.asarray(edges, dtype=np.float64)
        if edges.ndim != 2 or edges.shape[1] < 2:
            raise ConfigError(f"edges must be (n_features, n_bins + 1), got shape {edges.shape}")
        lo, hi = edges[:, :-1], edges[:, 1:]
        used = np.isfinite(lo) & np.isfinite(hi)
        width = np.where(used, hi - lo, 1.0)
        n_used = used.sum(axis=1)
        last = np.zeros_like(used)
        last[np.arange(len(n_used))[n_used > 0], n_used[n_used > 0] - 1] = True
        self.register_buffer("lower", torch.as_tensor(np.where(used, lo, 0.0), dtype=torch.float32))
        self.register_buffer("width", torch.as_tensor(width, dtype=torch.float32))
        self.register_buffer("used", torch.as_tensor(used, dtype=torch.float32))
        first = np.zeros_like(used)
        first[:, 0] = used[:, 0]
        self.register_buffer("first", torch.as_tensor(first, dtype=torch.bool))
        self.register_buffer("last", torch.as_tensor(last, dtype=torch.bool))
        self.n_features = edges.shape[0]
        self.out_features = edges.shape[0] * (edges.shape[1] - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = (x.unsqueeze(-1) - self.lower) / self.width  # (batch, d, n_bins)
        low = torch.where(self.first, torch.full_like(t, -torch.inf), torch.zeros_like(t))  # open below
        high = torch.where(self.last, torch.full_like(t, torch.inf), torch.ones_like(t))  # open above
        return (torch.minimum(torch.maximum(t, low), high) * self.used).flatten(1)
