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


class TabularSurvivalNet(nn.Module):
    """MLP encoder + linear output layer, plus an optional linear path from the inputs.

    With ``linear_skip`` the output is ``head(mlp(x)) + linear(x)``: the network contains the linear
    (Cox) model and only has to learn what it lacks.

    Shapes: input (batch, n_features) -> output (batch, n_outputs).
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden: Sequence[int] = (32, 32),
        dropout: float = 0.1,
        norm: Norm = "batch",
        linear_skip: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = MLPEncoder(n_features, hidden, dropout, norm)
        self.head = nn.Linear(self.encoder.out_features, n_outputs)
        self.linear = nn.Linear(n_features, n_outputs, bias=False) if linear_skip else None
        if self.linear is not None:
            nn.init.zeros_(self.linear.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.encoder(x))
        if self.linear is not None:
            out = out + self.linear(x)
        return out
