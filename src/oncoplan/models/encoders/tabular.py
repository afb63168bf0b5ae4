"""Tabular encoder: an MLP with normalisation, dropout and an optional linear path beside it.

Plain ``nn.Module``s, free of data loading and device logic.

Example:
    >>> import torch
    >>> net = TabularSurvivalNet(n_features=8, n_outputs=1, hidden=(16, 16))
    >>> net(torch.zeros(4, 8)).shape
    torch.Size([4, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

Norm = Literal["batch", "layer", "none"]


class MLPEncoder(nn.Module):
    """Stack of Linear -> norm -> ReLU -> Dropout blocks.

    Shapes: input (batch, n_features) -> output (batch, hidden[-1]) (or n_features with no hidden layers).

    Example:
        >>> MLPEncoder(4, (8,))(torch.zeros(3, 4)).shape
        torch.Size([3, 8])
    """

    def __init__(
        self, n_features: int, hidden: Sequence[int] = (32, 32), dropout: float = 0.1, norm: Norm = "batch"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif norm == "layer":
                layers.append(nn.LayerNorm(h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def first_layer(self) -> nn.Linear | None:
        """The first linear layer (for input penalties), or None without hidden layers."""
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                return layer
        return None


class TabularSurvivalNet(nn.Module):
    """MLP encoder + linear output layer, plus an optional linear path from the inputs.

    An optional ``embedding`` (e.g. :class:`~oncoplan.models.encoders.numeric.PiecewiseLinearEncoding`)
    maps the inputs before the MLP; the linear path always sees the raw inputs.

    With ``linear_skip`` the output is ``head(mlp(x)) + linear(x)``: the network contains the linear
    (Cox) model and only has to learn what it lacks. :meth:`load_linear` starts the network *at* a fitted
    linear model (the MLP branch's output layer set to zero), so training begins from the linear model.

    Shapes: input (batch, n_features) -> output (batch, n_outputs).

    Example:
        >>> net = TabularSurvivalNet(3, 1, hidden=(4,))
        >>> net.load_linear(torch.ones(1, 3), torch.zeros(1))
        >>> float(net.eval()(torch.ones(2, 3))[0, 0].detach())
        3.0
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden: Sequence[int] = (32, 32),
        dropout: float = 0.1,
        norm: Norm = "batch",
        linear_skip: bool = True,
        embedding: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.embedding = embedding
        width = n_features if embedding is None else int(embedding.out_features)
        self.encoder = MLPEncoder(width, hidden, dropout, norm)
        self.head = nn.Linear(self.encoder.out_features, n_outputs)
        self.linear = nn.Linear(n_features, n_outputs, bias=False) if linear_skip else None
        if self.linear is not None:
            nn.init.zeros_(self.linear.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x if self.embedding is None else self.embedding(x)
        out = self.head(self.encoder(z))
        if self.linear is not None:
            out = out + self.linear(x)
        return out

    def load_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Start from a linear model ``x @ weight.T + bias``: linear path = weight, MLP output = 0 + bias."""
        if self.linear is None:
            raise ValueError("load_linear needs linear_skip=True")
        with torch.no_grad():
            self.linear.weight.copy_(weight)
            self.head.weight.zero_()
            self.head.bias.copy_(bias)

    def input_l1(self) -> torch.Tensor:
        """Group-lasso penalty on the inputs: sum over features of the L2 norm of their outgoing weights.

        Driving a feature's whole column (MLP first layer and linear path) to zero removes it, so this acts
        as a learned feature selection for high-dimensional inputs.
        """
        cols = []
        first = self.encoder.first_layer()
        if first is not None:
            cols.append(first.weight)
        if self.linear is not None:
            cols.append(self.linear.weight)
        if not cols:
            return self.head.weight.abs().sum()
        stacked = torch.cat(cols, dim=0)
        return stacked.pow(2).sum(0).add(1e-12).sqrt().sum()
