"""The DeepSurv-style view of a policy: Kaplan-Meier of patients treated as recommended vs not,
log-rank test and hazard ratio (lifelines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oncoplan.errors import CohortError
from oncoplan.evaluate.censoring import _check_survival_data, km_rmst  # noqa: F401


@dataclass(frozen=True)
class FollowedComparison:
    """Patients treated as recommended vs not (the DeepSurv-style view; descriptive, not causal).

    ``hazard_ratio`` is followed vs not followed (below 1: followers fare better).
    """

    n_followed: int
    n_not_followed: int
    logrank_p: float
    hazard_ratio: float
    hr_ci_low: float
    hr_ci_high: float
    level: float
    km: pd.DataFrame = field(repr=False)
    rmst_followed: float | None = None
    rmst_not_followed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view (the KM curves as a list of records)."""
        out = {
            k: getattr(self, k)
            for k in (
                "n_followed",
                "n_not_followed",
                "logrank_p",
                "hazard_ratio",
                "hr_ci_low",
                "hr_ci_high",
                "level",
                "rmst_followed",
                "rmst_not_followed",
            )
        }
        out["km"] = self.km.to_dict(orient="records")
        return out


def recommended_vs_not(
    time: np.ndarray,
    event: np.ndarray,
    received: np.ndarray,
    recommended: np.ndarray,
    *,
    tau: float | None = None,
    level: float = 0.95,
) -> FollowedComparison:
    """Kaplan-Meier of patients whose received arm matched the recommendation vs the others.

    Uses lifelines: ``KaplanMeierFitter`` per group, ``logrank_test`` and ``CoxPHFitter`` on the
    followed indicator. The two groups differ in more than the treatment (confounding), so this view is
    descriptive; use :func:`evaluate_policies` for a causal policy value.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> t = rng.exponential(10, 80); e = np.ones(80, bool); a = np.repeat(["A", "B"], 40)
        >>> res = recommended_vs_not(t, e, a, np.array(["A"] * 80))
        >>> res.n_followed, res.n_not_followed
        (40, 40)
    """
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    t, e = _check_survival_data(time, event)
    followed = np.asarray(received, dtype=object) == np.asarray(recommended, dtype=object)
    if followed.all() or not followed.any():
        raise CohortError("all patients are in one group (followed or not); nothing to compare")
    curves, rmst = [], {}
    for label, mask in (("followed", followed), ("not_followed", ~followed)):
        kmf = KaplanMeierFitter(alpha=1 - level).fit(t[mask], e[mask], label=label)
        ci = kmf.confidence_interval_survival_function_
        curves.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": kmf.timeline,
                    "survival": kmf.survival_function_[label].to_numpy(),
                    "ci_low": ci.iloc[:, 0].to_numpy(),
                    "ci_high": ci.iloc[:, 1].to_numpy(),
                }
            )
        )
        rmst[label] = km_rmst(t[mask], e[mask], tau) if tau is not None else None
    lr = logrank_test(t[followed], t[~followed], e[followed], e[~followed])
    df = pd.DataFrame({"time": t, "event": e.astype(int), "followed": followed.astype(int)})
    cph = CoxPHFitter(alpha=1 - level).fit(df, duration_col="time", event_col="event")
    log_ci = cph.confidence_intervals_.loc["followed"].to_numpy()
    return FollowedComparison(
        n_followed=int(followed.sum()),
        n_not_followed=int((~followed).sum()),
        logrank_p=float(lr.p_value),
        hazard_ratio=float(cph.hazard_ratios_["followed"]),
        hr_ci_low=float(np.exp(log_ci[0])),
        hr_ci_high=float(np.exp(log_ci[1])),
        level=level,
        km=pd.concat(curves, ignore_index=True),
        rmst_followed=rmst["followed"],
        rmst_not_followed=rmst["not_followed"],
    )
