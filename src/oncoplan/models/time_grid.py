"""Time grids: discretize continuous survival times for discrete-time and piecewise heads.

A :class:`TimeGrid` holds sorted cut points ``cuts = [t_0 = min_time, t_1, ..., t_{m-1}]``. It reproduces
pycox's label transforms (``LabTransDiscreteTime`` and ``LabTransPCHazard``, Kvamme & Borgan 2019), which
nobody packages for current numpy/scipy, so they are written here by hand:

* :meth:`TimeGrid.transform` (logistic hazard, DeepHit / PMF heads, ``m`` outputs): an **event** at time ``t``
  moves to the first cut ``>= t`` (the right end of its interval); a **censoring** moves to the last cut
  ``<= t`` (the left end). Times past the last cut become censorings at the last cut.
* :meth:`TimeGrid.transform_pc` (PC-hazard head, ``m - 1`` outputs, one per interval ``(t_j, t_{j+1}]``):
  returns the interval index, the event and the fraction of the interval lived through.

Cut points come from ``scheme='quantiles'`` (equal steps in the Kaplan-Meier survival curve of the training
data, as pycox; the Kaplan-Meier curve comes from scikit-survival) or ``scheme='equidistant'``
(``linspace(min_time, max(time), n_cuts)``), or are given explicitly with :meth:`TimeGrid.from_cuts`.

Example:
    >>> import numpy as np
    >>> grid = TimeGrid(n_cuts=4, scheme="equidistant").fit(np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]))
    >>> grid.cuts.tolist()
    [0.0, 1.0, 2.0, 3.0]
    >>> grid.transform(np.array([1.5, 1.5]), np.array([1, 0]))
    (array([2, 1]), array([1., 0.]))
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from sksurv.nonparametric import kaplan_meier_estimator

from oncoplan.errors import CohortError, ConfigError, ModelError, describe_rows

logger = logging.getLogger(__name__)

Scheme = Literal["quantiles", "equidistant"]
_SCHEMES = ("quantiles", "equidistant")


def _as_time_event(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``time`` (float >= 0, finite) and ``event`` (0/1 or bool) to numpy arrays."""
    time_arr = np.asarray(time, dtype=np.float64).reshape(-1)
    event_arr = np.asarray(event).reshape(-1)
    if time_arr.shape != event_arr.shape:
        raise CohortError(
            f"'time' has {time_arr.size} values but 'event' has {event_arr.size}",
            hint="pass one time and one event indicator per patient",
        )
    bad = np.flatnonzero(~np.isfinite(time_arr) | (time_arr < 0))
    if bad.size:
        raise CohortError(
            f"'time' must be finite and >= 0; bad values in {describe_rows(bad.tolist())}",
            hint="drop or fix these patients before discretizing",
        )
    if event_arr.dtype != bool:
        ev = event_arr.astype(np.float64)
        bad = np.flatnonzero((ev != 0) & (ev != 1))
        if bad.size:
            raise CohortError(
                f"'event' must be 0/1 or bool; bad values in {describe_rows(bad.tolist())}",
                hint="use 1 for an observed event and 0 for a censoring",
            )
        event_arr = ev.astype(bool)
    return time_arr, event_arr


def _quantile_cuts(time: np.ndarray, event: np.ndarray, n_cuts: int, min_time: float) -> np.ndarray:
    """Cuts at equal steps of the Kaplan-Meier curve (pycox ``cuts_quantiles``)."""
    km_time, km_surv = kaplan_meier_estimator(event, time)
    if min_time < km_time.min():
        km_time = np.concatenate([[min_time], km_time])
        km_surv = np.concatenate([[1.0], km_surv])
    s_cuts = np.linspace(km_surv.min(), km_surv.max(), n_cuts)
    cuts_idx = np.searchsorted(km_surv[::-1], s_cuts)[::-1]
    cuts = np.unique(km_time[::-1][cuts_idx])
    if len(cuts) != n_cuts:
        logger.warning(
            "quantile cuts are not unique: continuing with %d cuts instead of %d", len(cuts), n_cuts
        )
    cuts[0] = min_time
    return cuts


class TimeGrid:
    """Cut points that discretize continuous survival time (pycox-compatible label transform).

    Args:
        n_cuts: number of cut points ``m`` including the start ``min_time`` (so ``m - 1`` intervals).
            Logistic-hazard and DeepHit heads need ``m`` outputs; the PC-hazard head needs ``m - 1``.
        scheme: ``'quantiles'`` (equal Kaplan-Meier survival steps; may give fewer than ``n_cuts`` cuts
            when event times are tied, which is logged) or ``'equidistant'``.
        min_time: the first cut (default 0).

    Example:
        >>> import numpy as np
        >>> grid = TimeGrid(n_cuts=3).fit(np.array([2.0, 4.0, 6.0, 8.0]), np.array([1, 1, 0, 1]))
        >>> TimeGrid.from_dict(grid.to_dict()).cuts.tolist() == grid.cuts.tolist()
        True
    """

    def __init__(self, n_cuts: int = 20, scheme: Scheme = "quantiles", min_time: float = 0.0) -> None:
        if int(n_cuts) != n_cuts or n_cuts < 2:
            raise ConfigError(f"'n_cuts' must be an integer >= 2, got {n_cuts!r}", hint="try n_cuts=20")
        if scheme not in _SCHEMES:
            raise ConfigError(f"'scheme' must be one of {_SCHEMES}, got {scheme!r}")
        self.n_cuts = int(n_cuts)
        self.scheme: Scheme = scheme
        self.min_time = float(min_time)
        self.cuts: np.ndarray | None = None

    @classmethod
    def from_cuts(cls, cuts: Any) -> TimeGrid:
        """A grid with given, strictly increasing cut points (the first is the start time).

        Example:
            >>> TimeGrid.from_cuts([0.0, 5.0, 10.0]).n_intervals
            2
        """
        cuts_arr = np.asarray(cuts, dtype=np.float64).reshape(-1)
        if cuts_arr.size < 2 or not np.all(np.isfinite(cuts_arr)) or np.any(np.diff(cuts_arr) <= 0):
            raise ConfigError(
                "'cuts' must hold at least 2 finite, strictly increasing values",
                hint=f"got {cuts_arr.tolist()[:10]}",
            )
        grid = cls(n_cuts=cuts_arr.size, scheme="equidistant", min_time=float(cuts_arr[0]))
        grid.scheme = "explicit"  # type: ignore[assignment]
        grid.cuts = cuts_arr
        return grid

    @property
    def n_intervals(self) -> int:
        """Number of intervals ``len(cuts) - 1`` (outputs of the PC-hazard head)."""
        return len(self._fitted_cuts()) - 1

    def _fitted_cuts(self) -> np.ndarray:
        if self.cuts is None:
            raise ModelError("this TimeGrid is not fitted", hint="call grid.fit(time, event) first")
        return self.cuts

    def fit(self, time: Any, event: Any) -> TimeGrid:
        """Choose cut points from training ``time`` and ``event``; returns ``self``.

        Example:
            >>> import numpy as np
            >>> TimeGrid(n_cuts=3, scheme="equidistant").fit(np.array([1.0, 4.0]), np.array([1, 1])).cuts
            array([0., 2., 4.])
        """
        if self.scheme == "explicit":
            logger.info("TimeGrid with explicit cuts: fit() leaves the cuts unchanged")
            return self
        time_arr, event_arr = _as_time_event(time, event)
        if time_arr.size == 0:
            raise CohortError("cannot fit a TimeGrid on zero patients", hint="pass the training cohort")
        if time_arr.max() <= self.min_time:
            raise CohortError(
                f"all times are <= min_time={self.min_time}", hint="check the time unit or lower min_time"
            )
        if self.scheme == "equidistant":
            cuts = np.linspace(self.min_time, time_arr.max(), self.n_cuts)
        else:
            cuts = _quantile_cuts(time_arr, event_arr, self.n_cuts, self.min_time)
        if np.any(np.diff(cuts) <= 0):
            raise ModelError(f"time grid cuts are not unique: {cuts.tolist()[:10]}", hint="use fewer cuts")
        self.cuts = cuts
        return self

    def transform(self, time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
        """Map to ``(interval index int64 in [0, m-1], event float64)`` for logistic-hazard / PMF losses.

        Events go to the first cut ``>= time``, censorings to the last cut ``<= time``; times beyond the last
        cut are censored at the last cut (pycox ``LabTransDiscreteTime``).

        Example:
            >>> import numpy as np
            >>> grid = TimeGrid.from_cuts([0.0, 1.0, 2.0])
            >>> grid.transform(np.array([0.5, 0.5, 9.0]), np.array([1, 0, 1]))
            (array([1, 0, 2]), array([1., 0., 0.]))
        """
        cuts = self._fitted_cuts()
        time_arr, event_arr = _as_time_event(time, event)
        event_arr = event_arr.copy()
        beyond = time_arr > cuts[-1]
        event_arr[beyond] = False
        time_arr = np.where(beyond, cuts[-1], time_arr)
        right = np.searchsorted(cuts, time_arr, side="left")  # first cut >= t
        left = np.searchsorted(cuts, time_arr, side="right") - 1  # last cut <= t
        before = np.flatnonzero(left < 0)
        if before.size:
            raise CohortError(
                f"times before the grid start {cuts[0]} in {describe_rows(before.tolist())}",
                hint="refit the grid with a lower min_time",
            )
        idx = np.where(event_arr, right, left).astype(np.int64)
        return idx, event_arr.astype(np.float64)

    def transform_pc(self, time: Any, event: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Map to ``(interval index, event, interval fraction)`` for the PC-hazard loss.

        As pycox ``LabTransPCHazard``: interval ``j`` is ``(cuts[j], cuts[j+1]]`` and the fraction is
        ``(time - cuts[j]) / (cuts[j+1] - cuts[j])``.
        Times beyond the last cut are censored at it. A time equal to the first cut gets index ``-1``
        (no information; the loss skips it, as pycox does).

        Example:
            >>> import numpy as np
            >>> TimeGrid.from_cuts([0.0, 1.0, 3.0]).transform_pc(np.array([2.0]), np.array([1]))
            (array([1]), array([1.]), array([0.5]))
        """
        cuts = self._fitted_cuts()
        time_arr, event_arr = _as_time_event(time, event)
        event_arr = event_arr.copy()
        beyond = time_arr > cuts[-1]
        event_arr[beyond] = False
        time_arr = np.where(beyond, cuts[-1], time_arr)
        before = np.flatnonzero(time_arr < cuts[0])
        if before.size:
            raise CohortError(
                f"times before the grid start {cuts[0]} in {describe_rows(before.tolist())}",
                hint="refit the grid with a lower min_time",
            )
        right = np.searchsorted(cuts, time_arr, side="left")  # first cut >= t, interval index right - 1
        at_start = right == 0
        right_safe = np.maximum(right, 1)
        frac = 1.0 - (cuts[right_safe] - time_arr) / np.diff(cuts)[right_safe - 1]
        frac[at_start] = 0.0
        event_arr[at_start] = False
        if at_start.any():
            logger.info(
                "%d patient(s) at the grid start carry no information for the PC-hazard loss",
                int(at_start.sum()),
            )
        return (right - 1).astype(np.int64), event_arr.astype(np.float64), frac

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (plain floats and strings).

        Example:
            >>> TimeGrid.from_cuts([0.0, 2.0]).to_dict()["cuts"]
            [0.0, 2.0]
        """
        return {
            "n_cuts": self.n_cuts,
            "scheme": self.scheme,
            "min_time": self.min_time,
            "cuts": None if self.cuts is None else [float(c) for c in self.cuts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimeGrid:
        """Rebuild a grid saved with :meth:`to_dict`.

        Example:
            >>> saved = {"n_cuts": 3, "scheme": "quantiles", "min_time": 0.0, "cuts": None}
            >>> TimeGrid.from_dict(saved).cuts is None
            True
        """
        try:
            if data.get("scheme") == "explicit":
                return cls.from_cuts(data["cuts"])
            grid = cls(n_cuts=data["n_cuts"], scheme=data["scheme"], min_time=data["min_time"])
        except KeyError as exc:
            raise ConfigError(f"TimeGrid dict lacks the field {exc}", hint="use TimeGrid.to_dict()") from exc
        if data.get("cuts") is not None:
            grid.cuts = np.asarray(data["cuts"], dtype=np.float64)
        return grid

    def __repr__(self) -> str:
        n = "unfitted" if self.cuts is None else f"{len(self.cuts)} cuts up to {self.cuts[-1]:g}"
        return f"TimeGrid(scheme={self.scheme!r}, {n})"
