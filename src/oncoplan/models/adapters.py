"""Head adapters: what the survival estimator needs from each survival head.

An adapter turns (time, event) into training targets, gives the loss, and turns network outputs into
survival curves. Its fitted state is plain numbers and lists, saved as JSON. Losses and survival formulas
come from :mod:`oncoplan.models.heads` / :mod:`oncoplan.models.losses`; an adapter only adds what an
estimator needs around them (time grid, time scaling, Breslow baseline, persistence). The registry
:data:`HEADS` is an explicit dict.

Heads: ``cox`` (partial likelihood, ``ties='breslow' | 'efron'``, Breslow baseline), ``logistic_hazard``,
``pc_hazard``, ``deephit`` (on a quantile :class:`~oncoplan.models.time_grid.TimeGrid`), ``weibull`` and
``lognormal`` (AFT, times divided by their median for stable training).

Example:
    >>> import numpy as np
    >>> adapter = make_adapter("logistic_hazard", n_cuts=5)
    >>> adapter.prepare(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, True]))
    >>> adapter.n_outputs
    4
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from sksurv.linear_model.coxph import BreslowEstimator

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.heads.registry import make_head
from oncoplan.models.heads.registry import n_outputs as head_n_outputs
from oncoplan.models.losses.cox import cox_partial_likelihood
from oncoplan.models.time_grid import TimeGrid


class HeadAdapter(Protocol):
    """Contract between a survival head and :class:`~oncoplan.models.survival.DeepSurvival`."""

    name: str
    n_outputs: int

    def prepare(self, time: np.ndarray, event: np.ndarray) -> None: ...
    def targets(self, time: np.ndarray, event: np.ndarray) -> dict[str, torch.Tensor]: ...
    def loss(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor: ...
    def finalize(self, outputs: np.ndarray, time: np.ndarray, event: np.ndarray) -> None: ...
    def survival(self, outputs: np.ndarray, times: np.ndarray) -> np.ndarray: ...
    def state(self) -> dict: ...
    def load_state(self, state: dict) -> None: ...


def step_function_at(x: np.ndarray, y: np.ndarray, times: np.ndarray, before: float = 1.0) -> np.ndarray:
    """Evaluate the right-continuous step function through (x, y) at ``times`` (``before`` left of x[0]).

    >>> step_function_at(np.array([1.0, 3.0]), np.array([0.9, 0.5]), np.array([0.5, 1.0, 2.0, 4.0]))
    array([1. , 0.9, 0.9, 0.5])
    """
    pos = np.searchsorted(x, times, side="right") - 1
    out = np.where(pos >= 0, y[np.clip(pos, 0, None)], before)
    return out


class CoxAdapter:
    """Continuous-time Cox head: one output (log-hazard ratio) + Breslow baseline hazard.

    ``ties`` ('breslow' or 'efron') chooses the partial likelihood's tie handling during training.

    Example:
        >>> CoxAdapter(ties="efron").n_outputs
        1
    """

    name = "cox"

    def __init__(self, ties: str = "breslow") -> None:
        if ties not in ("breslow", "efron"):
            raise ConfigError(f"cox head option 'ties' must be 'breslow' or 'efron', got {ties!r}")
        self.ties = ties
        self.n_outputs = 1
        self.baseline_times_: np.ndarray | None = None
        self.baseline_survival_: np.ndarray | None = None

    def prepare(self, time: np.ndarray, event: np.ndarray) -> None:
        """Nothing to fit before training for Cox."""

    def targets(self, time: np.ndarray, event: np.ndarray) -> dict[str, torch.Tensor]:
        return {
            "time": torch.as_tensor(time, dtype=torch.float32),
            "event": torch.as_tensor(event, dtype=torch.float32),
        }

    def loss(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return cox_partial_likelihood(outputs[:, 0], targets["time"], targets["event"], ties=self.ties)

    def finalize(self, outputs: np.ndarray, time: np.ndarray, event: np.ndarray) -> None:
        """Fit the Breslow baseline hazard on the training predictions (scikit-survival's estimator)."""
        breslow = BreslowEstimator().fit(outputs[:, 0].astype(float), event.astype(bool), time.astype(float))
        self.baseline_times_ = np.asarray(breslow.baseline_survival_.x, dtype=float)
        self.baseline_survival_ = np.asarray(breslow.baseline_survival_.y, dtype=float)

    def survival(self, outputs: np.ndarray, times: np.ndarray) -> np.ndarray:
        base = step_function_at(self.baseline_times_, self.baseline_survival_, np.asarray(times, dtype=float))
        return np.power(base[None, :], np.exp(outputs[:, :1].astype(float)))

    def risk(self, outputs: np.ndarray) -> np.ndarray:
        return outputs[:, 0].astype(float)

    def state(self) -> dict:
        return {
            "ties": self.ties,
            "baseline_times": self.baseline_times_.tolist(),
            "baseline_survival": self.baseline_survival_.tolist(),
        }

    def load_state(self, state: dict) -> None:
        self.ties = state["ties"]
        self.baseline_times_ = np.asarray(state["baseline_times"], dtype=float)
        self.baseline_survival_ = np.asarray(state["baseline_survival"], dtype=float)


class _HeadModuleAdapter:
    """Shared plumbing: a head module from the registry used for its ``targets``/``loss``/``survival``.

    The estimator's network produces the raw outputs; the head module's own linear layer is unused.
    Targets are packed in a dict ``{"t0": ..., "t1": ...}`` so the trainer can slice rows.
    """

    name = ""

    def __init__(self, **head_kwargs: Any) -> None:
        self.head_kwargs = dict(head_kwargs)
        self.n_outputs = 0
        self._head: Any = None

    def _time(self, time: np.ndarray) -> np.ndarray:
        return np.asarray(time, dtype=np.float64)

    def targets(self, time: np.ndarray, event: np.ndarray) -> dict[str, torch.Tensor]:
        parts = self._head.targets(self._time(time), np.asarray(event, dtype=np.float64))
        return {f"t{k}": t for k, t in enumerate(parts)}

    def loss(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._head.loss(outputs, *(targets[f"t{k}"] for k in range(len(targets))))

    def finalize(self, outputs: np.ndarray, time: np.ndarray, event: np.ndarray) -> None:
        """Nothing to fit after training."""

    def survival(self, outputs: np.ndarray, times: np.ndarray) -> np.ndarray:
        out = torch.as_tensor(np.asarray(outputs, dtype=np.float64))
        with torch.no_grad():
            surv = self._head.survival(out, self._time(np.asarray(times, dtype=np.float64)))
        surv = surv.cpu().numpy().astype(np.float64)
        return np.clip(np.minimum.accumulate(surv, axis=1), 0.0, 1.0)


class GridAdapter(_HeadModuleAdapter):
    """Discrete-time heads (``logistic_hazard``, ``pc_hazard``, ``deephit``) on a fitted time grid.

    Args:
        name: head name.
        n_cuts: grid size (cut points including the start).
        scheme: 'quantiles' (equal Kaplan-Meier steps, pycox's default) or 'equidistant'.
        head_kwargs: extra head options (e.g. DeepHit ``alpha``, ``sigma``).

    Example:
        >>> a = GridAdapter("pc_hazard", n_cuts=4)
        >>> a.prepare(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 0, 1]))
        >>> a.n_outputs
        3
    """

    def __init__(self, name: str, n_cuts: int = 20, scheme: str = "quantiles", **head_kwargs: Any) -> None:
        super().__init__(**head_kwargs)
        self.name = name
        self.n_cuts = int(n_cuts)
        self.scheme = scheme
        self.grid_: TimeGrid | None = None

    def _build(self, grid: TimeGrid) -> None:
        self.grid_ = grid
        self._head = make_head(self.name, in_features=1, grid=grid, **self.head_kwargs)
        self.n_outputs = head_n_outputs(self.name, grid)

    def prepare(self, time: np.ndarray, event: np.ndarray) -> None:
        """Fit the time grid on the training times (fewer cuts when there are few distinct event times)."""
        n_event_times = len(np.unique(np.asarray(time)[np.asarray(event, dtype=bool)]))
        n_cuts = max(2, min(self.n_cuts, n_event_times + 1))
        self._build(TimeGrid(n_cuts=n_cuts, scheme=self.scheme).fit(time, event))  # type: ignore[arg-type]

    def state(self) -> dict:
        return {"grid": self.grid_.to_dict(), "head_kwargs": self.head_kwargs}

    def load_state(self, state: dict) -> None:
        self.head_kwargs = dict(state.get("head_kwargs", {}))
        self._build(TimeGrid.from_dict(state["grid"]))


class ParametricAdapter(_HeadModuleAdapter):
    """AFT heads (``weibull``, ``lognormal``): times are divided by the training median for training.

    Zero times are moved to half the smallest positive time (the likelihood needs ``t > 0``).

    Example:
        >>> a = ParametricAdapter("weibull")
        >>> a.prepare(np.array([2.0, 4.0, 6.0]), np.array([1, 0, 1]))
        >>> a.time_scale_, a.n_outputs
        (4.0, 2)
    """

    def __init__(self, name: str, **head_kwargs: Any) -> None:
        super().__init__(**head_kwargs)
        self.name = name
        self.time_scale_ = 1.0
        self.min_time_ = 1e-6

    def _time(self, time: np.ndarray) -> np.ndarray:
        return np.maximum(np.asarray(time, dtype=np.float64), self.min_time_) / self.time_scale_

    def _build(self) -> None:
        self._head = make_head(self.name, in_features=1, **self.head_kwargs)
        self.n_outputs = 2

    def prepare(self, time: np.ndarray, event: np.ndarray) -> None:
        positive = np.asarray(time, dtype=float)[np.asarray(time) > 0]
        if positive.size == 0:
            raise ModelError("all follow-up times are 0: a parametric head cannot be fitted")
        self.time_scale_ = float(np.median(positive))
        self.min_time_ = float(positive.min()) / 2.0
        self._build()

    def survival(self, outputs: np.ndarray, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=np.float64)
        surv = super().survival(outputs, np.maximum(times, 0.0))
        surv[:, times <= 0] = 1.0
        return surv

    def state(self) -> dict:
        return {"time_scale": self.time_scale_, "min_time": self.min_time_, "head_kwargs": self.head_kwargs}

    def load_state(self, state: dict) -> None:
        self.time_scale_ = float(state["time_scale"])
        self.min_time_ = float(state["min_time"])
        self.head_kwargs = dict(state.get("head_kwargs", {}))
        self._build()


def _grid(name: str):
    def factory(**kwargs: Any) -> GridAdapter:
        return GridAdapter(name, **kwargs)

    return factory


def _parametric(name: str):
    def factory(**kwargs: Any) -> ParametricAdapter:
        return ParametricAdapter(name, **kwargs)

    return factory


HEADS: dict[str, Any] = {
    "cox": CoxAdapter,
    "logistic_hazard": _grid("logistic_hazard"),
    "pc_hazard": _grid("pc_hazard"),
    "deephit": _grid("deephit"),
    "weibull": _parametric("weibull"),
    "lognormal": _parametric("lognormal"),
}


def make_adapter(name: str, **kwargs: object) -> HeadAdapter:
    """Instantiate the adapter registered under ``name``.

    Example:
        >>> make_adapter("cox", ties="efron").ties
        'efron'
    """
    if name not in HEADS:
        raise ConfigError(f"unknown survival head {name!r}", hint=f"one of {', '.join(sorted(HEADS))}")
    try:
        return HEADS[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"invalid option for survival head {name!r}: {exc}") from None
