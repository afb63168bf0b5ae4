"""Common interface of survival heads, so one estimator can train and predict with any of them.

A head is a small ``nn.Module`` mapping a representation ``z`` of shape ``(batch, in_features)`` to the
parameters of a survival distribution. Every head offers the same four steps:

1. ``head = SomeHead.from_grid(in_features, grid)`` (``grid`` is a fitted
   :class:`~oncoplan.models.time_grid.TimeGrid`; ignored by the Cox and parametric heads),
2. ``targets = head.targets(time, event)`` once per dataset: a tuple of tensors (one row per patient),
3. ``loss = head.loss(head(z), *targets_batch)`` on each mini-batch (row-subsets of every target tensor),
4. ``surv = head.survival(head(z), times)``: survival probabilities ``(batch, len(times))`` at any times.

Example:
    >>> import numpy as np, torch
    >>> from oncoplan.models.heads.discrete import LogisticHazardHead
    >>> from oncoplan.models.time_grid import TimeGrid
    >>> grid = TimeGrid.from_cuts([0.0, 1.0, 2.0])
    >>> head = LogisticHazardHead.from_grid(4, grid)
    >>> targets = head.targets(np.array([0.5, 1.5]), np.array([1, 0]))
    >>> out = head(torch.zeros(2, 4))
    >>> head.loss(out, *targets).shape, head.survival(out, torch.tensor([0.5, 3.0])).shape
    (torch.Size([]), torch.Size([2, 2]))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from oncoplan.errors import ModelError
from oncoplan.models.time_grid import TimeGrid


def as_tensor(values: Any, dtype: torch.dtype | None = None) -> Tensor:
    """``values`` (array, list or tensor) as a 1-D tensor of ``dtype`` (default float: torch's default dtype).

    Example:
        >>> as_tensor([1, 2]).dtype == torch.get_default_dtype()
        True
    """
    if isinstance(values, Tensor):
        out = values.reshape(-1)
    else:
        out = torch.as_tensor(np.asarray(values)).reshape(-1)
    return out.to(torch.get_default_dtype() if dtype is None else dtype)


class SurvivalHead(nn.Module):
    """Base class of survival heads (see the module docstring for the protocol).

    Example:
        >>> issubclass(SurvivalHead, torch.nn.Module)
        True
    """

    #: name used by :func:`oncoplan.models.heads.registry.make_head`
    name: str = ""
    #: buffers whose size is data-dependent: resized when a state dict is loaded
    resizable_buffers: tuple[str, ...] = ()

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        for buffer_name in self.resizable_buffers:
            key = prefix + buffer_name
            if key in state_dict:
                setattr(self, buffer_name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @classmethod
    def from_grid(cls, in_features: int, grid: TimeGrid | None = None, **kwargs: Any) -> SurvivalHead:
        """Build the head for ``in_features`` inputs (and the grid's cuts where the head needs them)."""
        raise NotImplementedError

    def targets(self, time: Any, event: Any) -> tuple[Tensor, ...]:
        """Loss targets for continuous ``time`` and ``event`` (one row per patient)."""
        raise NotImplementedError

    def loss(self, outputs: Tensor, *targets: Tensor, reduction: str = "mean") -> Tensor:
        """Training loss of ``outputs = self(z)`` against a row-subset of :meth:`targets`."""
        raise NotImplementedError

    def survival(self, outputs: Tensor, times: Any) -> Tensor:
        """Survival probabilities ``(batch, len(times))`` at arbitrary ``times``."""
        raise NotImplementedError


class GridHead(SurvivalHead):
    """A head on a :class:`TimeGrid`: stores the cuts as a (state-dict) buffer ``cuts``.

    Example:
        >>> GridHead(TimeGrid.from_cuts([0.0, 2.0])).cuts
        tensor([0., 2.], dtype=torch.float64)
    """

    resizable_buffers = ("cuts",)

    def __init__(self, grid: TimeGrid | None) -> None:
        super().__init__()
        if grid is None or grid.cuts is None:
            raise ModelError(
                f"the {self.name or 'grid'} head needs a fitted TimeGrid", hint="call grid.fit first"
            )
        self.register_buffer("cuts", torch.as_tensor(np.asarray(grid.cuts, dtype=np.float64)))

    @property
    def grid(self) -> TimeGrid:
        """The head's :class:`TimeGrid` rebuilt from the stored cuts."""
        return TimeGrid.from_cuts(self.cuts.detach().cpu().numpy().astype(np.float64))
