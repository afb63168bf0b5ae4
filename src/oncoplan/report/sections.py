"""The numbers behind each report section: evaluation set, horizons, Table 1, Kaplan-Meier, model performance
next to baselines, and subgroups.

Every statistic comes from :mod:`oncoplan.evaluate` (which wraps scikit-survival, lifelines, scikit-learn
and tableone); this module only decides *what* to compute on *which* patients. Baselines are
scikit-survival's ``CoxPHSurvivalAnalysis`` and ``RandomSurvivalForest`` fitted on the model's training rows
with the model's own preprocessing, so every model sees the same inputs.

Example:
    >>> choose_horizons(np.arange(1.0, 3000), np.arange(1.0, 3000), np.ones(2999, bool), "days")
    [365.25, 1095.75, 1826.25]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from oncoplan.data.cohort import Cohort
from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.binary import auc_roc
from oncoplan.evaluate.calibration import survival_calibration
from oncoplan.evaluate.compare import paired_difference
from oncoplan.evaluate.fairness import age_bands, subgroup_metrics
from oncoplan.evaluate.horizon import horizon_labels
from oncoplan.evaluate.stats import KaplanMeierByGroup, kaplan_meier_by_group, table_one
from oncoplan.evaluate.survival import (
    brier_score,
    cumulative_auc,
    evaluation_times,
    survival_at,
)
from oncoplan.evaluate.survival_bootstrap import (
    HARRELL_C,
    survival_report,
)
from oncoplan.report.evaluation_set import (  # noqa: F401 - re-exported for the report modules
    EvaluationSet,
    drop_unscorable,
    find_split_file,
    resolve_evaluation_set,
    threshold_source,
    unscorable_patients,
)
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)

PER_YEAR = {"days": 365.25, "weeks": 365.25 / 7, "months": 12.0, "years": 1.0}
MODEL_NAME = "oncoplan model"
METRIC_LABELS = {
    "harrell_c": "C-index (Harrell)",
    "uno_c": "C-index (Uno, censoring-weighted)",
    "antolini_c": "Time-dependent C-index (Antolini)",
    "mean_cumulative_auc": "Mean time-dependent AUC",
    "integrated_brier_score": "Integrated Brier score (lower is better)",
}


def format_time(value: float, unit: str) -> str:
    """A time for people: ``format_time(1826.25, "days") == "5 years (1826 days)"``.

    Example:
        >>> format_time(400.0, "days")
        '400 days'
    """
    years = value / PER_YEAR[unit]
    if unit != "years" and abs(years - round(years)) < 1e-6 and round(years) >= 1:
        y = int(round(years))
        return f"{y} year{'s' if y > 1 else ''} ({value:.0f} {unit})"
    return f"{value:.0f} {unit}" if unit != "years" else f"{value:.1f} years"


def choose_horizons(
    train_time: np.ndarray,
    test_time: np.ndarray,
    test_event: np.ndarray,
    time_unit: str,
    horizons: Sequence[float] | None = None,
    min_at_risk: float = 0.1,
    min_events: int = 10,
) -> list[float]:
    """Clinical horizons (1, 3, 5 years; else 2, 10 years; else event-time quartiles) the data can support.

    A horizon is kept when at least ``min_at_risk`` of the test patients are still followed after it, at
    least ``min_events`` test events happen before it, and it lies inside the training follow-up.
    """
    if horizons:
        h = sorted(float(x) for x in horizons)
        if h[0] <= 0:
            raise ConfigError(f"horizons must be positive, got {h}")
        return h
    limit = min(float(np.max(train_time)), float(np.max(test_time)))

    def supported(h: float) -> bool:
        return (
            h < limit
            and np.mean(test_time > h) >= min_at_risk
            and int(np.sum(test_event & (test_time <= h))) >= min_events
        )

    year = PER_YEAR[time_unit]
    chosen = [y * year for y in (1, 3, 5) if supported(y * year)]
    for y in (2, 10):
        if len(chosen) < 3 and supported(y * year):
            chosen.append(y * year)
    if not chosen:
        quart = np.quantile(test_time[test_event], [0.25, 0.5, 0.75]) if test_event.any() else []
        chosen = [float(np.round(q)) for q in quart if supported(float(np.round(q)))]
    if not chosen:
        raise CohortError(
            "no prediction horizon is supported by the test data (too few events or too short follow-up)",
            hint="pass horizons explicitly, or evaluate on a larger cohort",
        )
    return sorted(chosen)


def at_risk_times(max_time: float, time_unit: str) -> np.ndarray:
    """Number-at-risk columns: whole years when follow-up spans 2-15 years, else 6 even times."""
    year = PER_YEAR[time_unit]
    if 2 * year <= max_time <= 15 * year:
        return np.arange(0, int(max_time // year) + 1) * year
    return np.linspace(0, max_time, 6).round()


def describe_frame(cohort: Cohort) -> tuple[pd.DataFrame, str | None]:
    """The Table 1 input: covariates plus a grouping column (treatment arm, or outcome when no arm)."""
    frame = cohort.covariates.reset_index(drop=True).copy()
    if cohort.treatment is not None:
        frame["Treatment arm"] = pd.Categorical(cohort.treatment.to_numpy(), categories=cohort.arms)
        return frame, "Treatment arm"
    if cohort.event is not None:
        frame["Outcome"] = np.where(cohort.event, "event observed", "censored")
        return frame, "Outcome"
    return frame, None


def cohort_table_one(cohort: Cohort) -> tuple[pd.DataFrame, str | None]:
    """Table 1 of the whole cohort, by arm (or by outcome), from :func:`oncoplan.evaluate.stats.table_one`."""
    frame, group = describe_frame(cohort)
    cat = [c for c in cohort.spec.categorical if c in frame and frame[c].notna().any()]
    num = [c for c in cohort.spec.numeric if c in frame and frame[c].notna().any()]
    if group is not None and frame[group].nunique() < 2:
        group = None
    return table_one(frame, groupby=group, categorical=cat, continuous=num), group


def km_by_arm(cohort: Cohort) -> KaplanMeierByGroup:
    """Kaplan-Meier of the whole cohort by received arm (one curve "all patients" without a treatment)."""
    group = cohort.treatment.to_numpy() if cohort.treatment is not None else np.full(cohort.n_patients, "all")
    ticks = at_risk_times(float(cohort.time.max()), cohort.spec.time_unit)
    return kaplan_meier_by_group(cohort.time, cohort.event, group, times_at_risk=ticks)


def km_by_risk_group(test: Cohort, risk: np.ndarray, n_groups: int = 3) -> KaplanMeierByGroup:
    """Kaplan-Meier of the test patients by tertile of predicted risk (low / intermediate / high)."""
    names = {3: ["1 low risk", "2 intermediate risk", "3 high risk"]}.get(
        n_groups, [f"group {k + 1}" for k in range(n_groups)]
    )
    codes = pd.qcut(pd.Series(risk).rank(method="first"), n_groups, labels=False).to_numpy()
    labels = np.asarray(names, dtype=object)[codes]
    ticks = at_risk_times(float(test.time.max()), test.spec.time_unit)
    return kaplan_meier_by_group(test.time, test.event, labels, times_at_risk=ticks)


@dataclass
class ModelPredictions:
    """One model's predictions on the test patients: risk score and survival curves on ``grid``."""

    name: str
    risk: np.ndarray
    survival: np.ndarray


def predict_bundle(bundle: ModelBundle, test: Cohort, grid: np.ndarray) -> ModelPredictions:
    """The bundle's risk and survival curves (received arm as input when the model uses it)."""
    frame = bundle.frame_from_cohort(test)
    return ModelPredictions(MODEL_NAME, bundle.predict_risk(frame), bundle.predict_survival(frame, grid))


def fit_baselines(
    bundle: ModelBundle, train: Cohort, test: Cohort, grid: np.ndarray, seed: int = 0, n_trees: int = 100
) -> list[ModelPredictions]:
    """scikit-survival CoxPH (ridge 0.01, Efron ties) and a random survival forest, on the model's inputs.

    The forest's leaves hold at least ``max(15, n_train // 100)`` patients, which bounds its memory on
    large cohorts (scikit-survival stores a survival curve per leaf).
    """
    from sksurv.ensemble import RandomSurvivalForest
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    x_train = bundle.design_matrix(bundle.frame_from_cohort(train))
    x_test = bundle.design_matrix(bundle.frame_from_cohort(test))
    out = []
    cox = CoxPHSurvivalAnalysis(alpha=1e-2, ties="efron").fit(x_train, train.y)
    out.append(
        ModelPredictions(
            "CoxPH (baseline)",
            cox.predict(x_test),
            survival_at(cox.predict_survival_function(x_test, return_array=True), cox.unique_times_, grid),
        )
    )
    rsf = RandomSurvivalForest(
        n_estimators=n_trees,
        min_samples_leaf=max(15, train.n_patients // 100),
        max_features="sqrt",
        n_jobs=-1,
        random_state=seed,
    ).fit(x_train, train.y)
    out.append(
        ModelPredictions(
            "Random survival forest (baseline)",
            rsf.predict(x_test),
            survival_at(rsf.predict_survival_function(x_test, return_array=True), rsf.unique_times_, grid),
        )
    )
    return out


@dataclass
class Performance:
    """Everything the performance section shows (all on the test patients)."""

    metrics: pd.DataFrame
    comparisons: pd.DataFrame
    eval_times: np.ndarray
    td_auc: dict[str, np.ndarray]
    brier: dict[str, np.ndarray]
    horizons: list[float]
    main_horizon: float
    horizon_table: pd.DataFrame
    roc: dict[str, tuple[np.ndarray, np.ndarray, float]]
    roc_counts: dict[str, int]
    calibration: dict[float, dict[str, pd.DataFrame]] = field(default_factory=dict)


def _horizon_rows(
    models: list[ModelPredictions], ev: EvaluationSet, grid: np.ndarray, horizons: list[float]
) -> pd.DataFrame:
    from lifelines import KaplanMeierFitter

    test, train = ev.test, ev.train
    km = KaplanMeierFitter().fit(test.time, test.event, timeline=horizons)
    observed = km.survival_function_.iloc[:, 0].to_numpy()
    rows = []
    for m in models:
        s_h = survival_at(m.survival, grid, horizons)
        aucs, _ = cumulative_auc(train.event, train.time, test.event, test.time, 1.0 - s_h, horizons)
        briers = brier_score(train.event, train.time, test.event, test.time, s_h, horizons)
        for j, h in enumerate(horizons):
            rows.append(
                {
                    "model": m.name,
                    "horizon": h,
                    "auc": float(aucs[j]),
                    "brier": float(briers[j]),
                    "predicted": float(s_h[:, j].mean()),
                    "observed": float(observed[j]),
                }
            )
    return pd.DataFrame(rows)


def model_performance(
    models: list[ModelPredictions],
    ev: EvaluationSet,
    grid: np.ndarray,
    horizons: list[float],
    n_boot: int = 200,
    seed: int = 0,
) -> Performance:
    """Bootstrap CIs of every survival metric per model, paired C-index differences, horizon metrics."""
    test, train = ev.test, ev.train
    eval_times = evaluation_times(train.time, test.time, test.event, n=20)
    rows = []
    for m in models:
        rep = survival_report(
            train.event,
            train.time,
            test.event,
            test.time,
            risk_score=m.risk,
            survival_prob=m.survival,
            curve_times=grid,
            times=eval_times,
            n_boot=n_boot,
            seed=seed,
        )
        for key, res in rep.items():
            rows.append(
                {
                    "model": m.name,
                    "metric": key,
                    "value": res.value,
                    "ci_low": res.ci_low,
                    "ci_high": res.ci_high,
                }
            )
    comparisons = []
    for other in models[1:]:
        cmp = paired_difference(
            HARRELL_C,
            models[0].risk,
            other.risk,
            test.event,
            test.time,
            n_boot=n_boot,
            seed=seed,
            stratify=test.event,
        )
        d = cmp.difference
        comparisons.append(
            {
                "baseline": other.name,
                "difference": d.value,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
                "p_value": cmp.p_value,
            }
        )
    td_auc, brier = {}, {}
    for m in models:
        s_eval = survival_at(m.survival, grid, eval_times)
        td_auc[m.name] = cumulative_auc(
            train.event, train.time, test.event, test.time, 1 - s_eval, eval_times
        )[0]
        brier[m.name] = brier_score(train.event, train.time, test.event, test.time, s_eval, eval_times)
    main = horizons[-1]
    labels = horizon_labels(test.event, test.time, main, censoring="exclude")
    roc = {}
    for m in models:
        y, score, _ = labels.select(1.0 - survival_at(m.survival, grid, [main])[:, 0])
        fpr, tpr, _ = roc_curve(y, score)
        roc[m.name] = (fpr, tpr, auc_roc(y, score))
    n_groups = 10 if test.n_patients >= 500 else 5
    calibration = {
        h: {
            m.name: survival_calibration(
                test.event, test.time, survival_at(m.survival, grid, [h])[:, 0], h, n_groups=n_groups
            )
            for m in models
        }
        for h in horizons
    }
    return Performance(
        metrics=pd.DataFrame(rows),
        comparisons=pd.DataFrame(comparisons),
        eval_times=eval_times,
        td_auc=td_auc,
        brier=brier,
        horizons=horizons,
        main_horizon=main,
        horizon_table=_horizon_rows(models, ev, grid, horizons),
        roc=roc,
        roc_counts={
            "events": int(labels.y[labels.mask].sum()),
            "event_free": int((labels.mask & (labels.y == 0)).sum()),
            "excluded": labels.n_unknown,
        },
        calibration=calibration,
    )


def _find_column(columns: Sequence[str], *names: str) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for name in names:
        for prefix in ("", "num_", "fac_"):
            if prefix + name in lowered:
                return lowered[prefix + name]
    return None


def subgroup_groups(test: Cohort, extra: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Grouping variables: sex, age band, treatment arm, and any covariates the user names."""
    cov = test.covariates
    groups: dict[str, np.ndarray] = {}
    sex = _find_column(list(cov.columns), "sex", "gender")
    if sex is not None:
        groups[sex] = cov[sex].to_numpy(dtype=object)
    age = _find_column(list(cov.columns), "age")
    if age is not None and pd.api.types.is_numeric_dtype(cov[age]):
        groups[f"{age} band"] = age_bands(cov[age].to_numpy())
    if test.treatment is not None:
        groups["treatment arm"] = test.treatment.to_numpy(dtype=object)
    for name in extra or []:
        if name not in cov.columns:
            raise ConfigError(
                f"subgroup column {name!r} is not a covariate of {test.name}",
                hint=f"choose from {', '.join(cov.columns)}",
            )
        if name in test.spec.numeric and cov[name].nunique() > 10:
            raise ConfigError(
                f"subgroup column {name!r} is numeric with {cov[name].nunique()} values",
                hint="name a categorical covariate (or one with at most 10 values)",
            )
        groups[name] = cov[name].to_numpy(dtype=object)
    return groups


def subgroup_table(
    test: Cohort, risk: np.ndarray, n_boot: int, seed: int, extra: Sequence[str] | None = None
) -> pd.DataFrame:
    """Harrell's C of the model per subgroup with CIs and gaps (:func:`oncoplan.evaluate.fairness`)."""
    groups = subgroup_groups(test, extra)
    if not groups:
        return pd.DataFrame()
    return subgroup_metrics(
        HARRELL_C, test.event, test.time, risk, groups=groups, event=test.event, n_boot=n_boot, seed=seed
    )
