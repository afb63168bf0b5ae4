"""Head adapters: what the survival estimator needs from each survival head.

An adapter turns (time, event) into training targets, gives the loss, and turns network outputs into
survival curves. Its fitted state is plain arrays, saved as JSON. The registry is an explicit dict.

Example:
    >>> import numpy as np
    >>> adapter = CoxAdapter()
    >>> adapter.prepare(np.array([1.0, 2.0, 3.0]), np.array([True, False, True]))
    >>> adapter.n_outputs
    1
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from sksurv.linear_model.coxph import BreslowEstimator

from oncoplan.models.losses.cox import cox_partial_likelihood


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

    ``ties`` chooses the partial likelihood's tie handling during training.
    """

    name = "cox"

    def __init__(self, ties: str = "breslow") -> None:
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


HEADS: dict[str, type] = {"cox": CoxAdapter}


def make_adapter(name: str, **kwargs: object) -> HeadAdapter:
    """Instantiate the adapter registered under ``name``."""
    from oncoplan.errors import ConfigError

    if name not in HEADS:
        raise ConfigError(f"unknown survival head {name!r}", hint=f"one of {', '.join(sorted(HEADS))}")
    return HEADS[name](**kwargs)
