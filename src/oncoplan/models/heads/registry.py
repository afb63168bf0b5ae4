"""Build a survival head by name.

Names: 'cox' | 'logistic_hazard' | 'pc_hazard' | 'deephit' | 'weibull' | 'lognormal'.

Example:
    >>> from oncoplan.models.time_grid import TimeGrid
    >>> head = make_head("pc_hazard", in_features=16, grid=TimeGrid.from_cuts([0.0, 1.0, 2.0]))
    >>> type(head).__name__, n_outputs("deephit", TimeGrid.from_cuts([0.0, 1.0, 2.0]))
    ('PCHazardHead', 3)
"""

from __future__ import annotations

from typing import Any

from oncoplan.errors import ConfigError
from oncoplan.models.heads.base import SurvivalHead
from oncoplan.models.heads.cox import CoxHead
from oncoplan.models.heads.deephit import DeepHitHead
from oncoplan.models.heads.discrete import LogisticHazardHead, PCHazardHead
from oncoplan.models.heads.parametric import LogNormalHead, WeibullHead
from oncoplan.models.time_grid import TimeGrid

HEADS: dict[str, type[SurvivalHead]] = {
    "cox": CoxHead,
    "logistic_hazard": LogisticHazardHead,
    "pc_hazard": PCHazardHead,
    "deephit": DeepHitHead,
    "weibull": WeibullHead,
    "lognormal": LogNormalHead,
}

#: heads that need a fitted TimeGrid
GRID_HEADS = frozenset({"logistic_hazard", "pc_hazard", "deephit"})


def _head_class(name: str) -> type[SurvivalHead]:
    try:
        return HEADS[name]
    except KeyError:
        raise ConfigError(f"unknown head {name!r}", hint=f"choose one of {sorted(HEADS)}") from None


def make_head(name: str, in_features: int, grid: TimeGrid | None = None, **kwargs: Any) -> SurvivalHead:
    """Instantiate head ``name`` for ``in_features`` inputs (``grid`` needed for the discrete heads).

    Example:
        >>> type(make_head("weibull", 4)).__name__
        'WeibullHead'
    """
    if name in GRID_HEADS and (grid is None or grid.cuts is None):
        raise ConfigError(
            f"head {name!r} needs a fitted TimeGrid", hint="pass grid=TimeGrid(...).fit(time, event)"
        )
    return _head_class(name).from_grid(in_features, grid, **kwargs)


def n_outputs(name: str, grid: TimeGrid | None = None, n_risks: int = 1) -> int:
    """Number of raw outputs of head ``name`` (``n_risks`` only matters for 'deephit').

    Example:
        >>> n_outputs("logistic_hazard", TimeGrid.from_cuts([0.0, 1.0, 2.0])), n_outputs("cox")
        (3, 1)
    """
    cls = _head_class(name)
    if name in GRID_HEADS and (grid is None or grid.cuts is None):
        raise ConfigError(f"head {name!r} needs a fitted TimeGrid to count its outputs")
    if name == "deephit":
        return DeepHitHead.n_outputs(grid, n_risks)  # type: ignore[arg-type]
    return cls.n_outputs(grid)  # type: ignore[attr-defined]
