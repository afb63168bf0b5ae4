"""Build the tumor-board report: one self-contained HTML file with interactive Plotly figures.

:func:`collect_report` computes every number (via :mod:`oncoplan.evaluate`, see
:mod:`oncoplan.report.sections`), :func:`render_report` turns them into HTML with the Jinja2 template
``templates/report.html`` (plotly.js embedded once, so the file opens without a network), and
:func:`build_report` does both and writes the file. The report holds aggregate statistics only: no patient
identifier, no per-patient row.

Example:
    >>> path = build_report("oncoplan-demo/model", "survset:colon", "r.html", n_boot=200)  # doctest: +SKIP
    >>> path.stat().st_size > 1_000_000  # doctest: +SKIP
    True
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.data.sources import load_cohort
from oncoplan.data.splits import Split
from oncoplan.errors import CohortError, ConfigError
from oncoplan.evaluate.stats import KaplanMeierByGroup
from oncoplan.report import sections as sec
from oncoplan.report.classification import (
    HorizonClassification,
    d_calibration_table,
    horizon_classification,
)
from oncoplan.report.model_card import ModelCard, model_card
from oncoplan.report.policy_section import PolicySection, label_policy_table, policy_section
from oncoplan.report.render import render_report
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)

__all__ = ["ReportData", "build_report", "collect_report", "render_report"]


@dataclass
class ReportData:
    """Everything the report shows, computed once (aggregates only)."""

    cohort_summary: dict
    evaluation: sec.EvaluationSet
    time_unit: str
    table_one: pd.DataFrame
    table_one_group: str | None
    km_arm: KaplanMeierByGroup
    km_risk: KaplanMeierByGroup
    performance: sec.Performance
    classification: HorizonClassification
    subgroups: pd.DataFrame
    policy: PolicySection | None
    card: ModelCard
    n_boot: int
    seed: int
    baselines_note: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def _as_bundle(bundle: ModelBundle | str | Path) -> tuple[ModelBundle, Path | None]:
    if isinstance(bundle, ModelBundle):
        return bundle, None
    return ModelBundle.load(bundle), Path(bundle)


def _as_split(split: Split | str | Path | None, folder: Path | None, bundle: ModelBundle, cohort: Cohort):
    if isinstance(split, Split):
        return split
    if split is not None:
        path = Path(split)
        if not path.exists():
            raise ConfigError(f"split file {path} does not exist")
        return Split.from_json(path, cohort)
    found = sec.find_split_file(folder) if folder is not None else None
    if found is None:
        return None
    if bundle.metadata.get("data_hash") != cohort.data_hash():
        logger.info("ignoring %s: the cohort is not the model's training data", found)
        return None
    return Split.from_json(found, cohort)


def _limitations(
    ev: sec.EvaluationSet, perf: sec.Performance, subgroups: pd.DataFrame, n_left_out: int = 0
) -> list[str]:
    out = []
    if n_left_out:
        out.append(
            f"{n_left_out} test patients could not be scored (a category unseen in training) and are not "
            "in the evaluation; the model cannot be used for such patients without retraining."
        )
    if ev.kind == "apparent":
        out.append("Performance shown is apparent (on the training patients) and therefore optimistic.")
    else:
        copies = int(ev.test.copies_in(ev.train).sum())
        if copies:
            out.append(
                f"{copies} of the {ev.test.n_patients} test patients have an exact copy (covariates, "
                "treatment and outcome) among the training patients: the performance shown is optimistic."
            )
    if ev.kind == "external":
        out.append("Evaluated on a cohort other than the training data; check that its population matches.")
    if ev.test.n_patients < 300 or int(ev.test.event.sum()) < 100:
        out.append(
            f"The test set is small ({ev.test.n_patients} patients, {int(ev.test.event.sum())} events): "
            "confidence intervals are wide."
        )
    if not subgroups.empty:
        small = subgroups[(subgroups["kind"] == "subgroup") & subgroups["too_small"].astype(bool)]
        if len(small):
            names = "; ".join(f"{r.variable} {r.group} (n={r.n})" for r in small.itertuples())
            out.append(f"Subgroups too small to judge the model in: {names}.")
    main = perf.horizon_table[perf.horizon_table["horizon"] == perf.main_horizon]
    if len(main):
        gap = float(main["predicted"].iloc[0] - main["observed"].iloc[0])
        if abs(gap) > 0.05:
            out.append(
                f"At the main horizon the model's mean predicted survival differs from the observed "
                f"(Kaplan-Meier) survival by {gap:+.1%}: check calibration before quoting absolute risks."
            )
    return out


def _headline_metrics(perf: sec.Performance, time_unit: str) -> dict[str, str]:
    m = perf.metrics[perf.metrics["model"] == sec.MODEL_NAME].set_index("metric")
    out = {}
    for key in ("harrell_c", "integrated_brier_score"):
        if key in m.index:
            r = m.loc[key]
            out[sec.METRIC_LABELS[key]] = f"{r['value']:.3f} (95% CI {r['ci_low']:.3f} to {r['ci_high']:.3f})"
    roc = perf.roc.get(sec.MODEL_NAME)
    if roc is not None:
        out[f"AUC at {sec.format_time(perf.main_horizon, time_unit)}"] = f"{roc[2]:.3f}"
    return out


def collect_report(
    bundle: ModelBundle | str | Path,
    cohort: Cohort | str | Path,
    baselines: bool = True,
    policy: pd.DataFrame | None = None,
    n_boot: int = 200,
    seed: int = 0,
    *,
    split: Split | str | Path | None = None,
    horizons: Sequence[float] | None = None,
    subgroups: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReportData:
    """Compute every section of the report (see :func:`build_report` for the arguments).

    ``ReportData.timings`` holds the seconds spent per stage (``cohort``, ``predictions``, ``performance``,
    ``classification``, ``subgroups``, ``policy``), as :mod:`benchmarks.report` records them.
    """
    if n_boot < 10:
        raise ConfigError(f"n_boot must be at least 10 for a confidence interval, got {n_boot}")
    step = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        logger.info("report: %s done in %.1f s", name, timings[name])

    model, folder = _as_bundle(bundle)
    data = cohort if isinstance(cohort, Cohort) else load_cohort(cohort)
    if not data.has_survival:
        raise CohortError(
            f"cohort {data.name!r} has no survival outcome; the report needs time and event columns",
            hint="oncoplan models and reports survival; a cohort with only a binary response can be scored "
            "with oncoplan.evaluate.binary (thresholds chosen on validation data)",
        )
    ev = sec.resolve_evaluation_set(model, data, _as_split(split, folder, model, data))
    ev, n_left_out = sec.drop_unscorable(model, ev)
    test, train = ev.test, ev.train
    unit = data.spec.time_unit
    chosen = sec.choose_horizons(train.time, test.time, test.event, unit, horizons)
    step("cohort description (Table 1, Kaplan-Meier)")
    t1, t1_group = sec.cohort_table_one(data)
    km_arm = sec.km_by_arm(data)
    lap("cohort")
    step("model predictions and baselines")
    eval_times = sec.evaluation_times(train.time, test.time, test.event, n=20)
    grid = np.unique(np.concatenate([test.time[test.event], eval_times, chosen]))
    models = [sec.predict_bundle(model, test, grid)]
    note = ""
    if baselines and ev.kind != "external":
        models += sec.fit_baselines(model, train, test, grid, seed=seed)
    elif baselines:
        note = "Baselines are not shown: they need the model's training patients (external validation)."
    else:
        note = "Baselines were switched off for this report."
    lap("predictions")
    step("performance with bootstrap confidence intervals")
    perf = sec.model_performance(models, ev, grid, chosen, n_boot=n_boot, seed=seed)
    km_risk = sec.km_by_risk_group(test, models[0].risk)
    lap("performance")
    step("event by the main horizon: classification metrics and calibration")
    classification = horizon_classification(
        model, test, models[0].survival, grid, perf.main_horizon, sec.threshold_source(ev), n_boot, seed
    )
    classification.d_calibration = d_calibration_table(
        test.event, test.time, {m.name: m.survival for m in models}, grid
    )
    lap("classification")
    step("subgroups")
    sub = sec.subgroup_table(test, models[0].risk, n_boot=n_boot, seed=seed, extra=subgroups)
    lap("subgroups")
    pol = None
    if policy is not None:
        pol = PolicySection(label_policy_table(policy), perf.main_horizon, precomputed=True)
    elif data.treatment is not None:
        step("treatment policies")
        pol = policy_section(model, test, grid, perf.main_horizon, n_boot=n_boot, seed=seed)
        lap("policy")
    card = model_card(model, _headline_metrics(perf, unit), _limitations(ev, perf, sub, n_left_out))
    return ReportData(
        cohort_summary=data.summary() | {"description": data.spec.description},
        evaluation=ev,
        time_unit=unit,
        table_one=t1,
        table_one_group=t1_group,
        km_arm=km_arm,
        km_risk=km_risk,
        performance=perf,
        classification=classification,
        subgroups=sub,
        policy=pol,
        card=card,
        n_boot=n_boot,
        seed=seed,
        baselines_note=note,
        timings=timings,
    )


def build_report(
    bundle: ModelBundle | str | Path,
    cohort: Cohort | str | Path,
    out_path: str | Path,
    baselines: bool = True,
    policy: pd.DataFrame | None = None,
    n_boot: int = 200,
    seed: int = 0,
    *,
    split: Split | str | Path | None = None,
    horizons: Sequence[float] | None = None,
    subgroups: Sequence[str] | None = None,
    title: str | None = None,
    generated: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Evaluate ``bundle`` on ``cohort`` and write the self-contained HTML report to ``out_path``.

    Args:
        bundle: a :class:`ModelBundle`, or its folder (then a ``split.json`` in it, or one level up as the
            demo writes it, selects the held-out test patients when the cohort is the training cohort).
        cohort: a :class:`Cohort` or a source for :func:`oncoplan.data.load_cohort` (``survset:colon``).
        out_path: the ``.html`` file to write (folders are created).
        baselines: also fit scikit-survival CoxPH and random survival forest on the training rows.
        policy: a precomputed policy table (:func:`oncoplan.evaluate.policy.evaluate_policies` columns)
            to show instead of computing one; when None and the cohort has arms, treat-all and model
            policies are evaluated on the test patients.
        n_boot: bootstrap resamples for every confidence interval.
        seed: seed of every random step (same seed, same report).
        split: a :class:`Split` or split file, overriding the one found next to the bundle.
        horizons: prediction horizons in the cohort's time unit (default 1/3/5 years when supported).
        subgroups: further categorical covariates for the subgroup table (sex, age band and arm are
            always included when present).
        title: report title; generated: timestamp text (default: now, UTC).
        progress: called with a short description before each step.

    Returns:
        the path written.
    """
    out = Path(out_path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"the report is an HTML file; got {out}", hint="use a name ending in .html")
    data = collect_report(
        bundle,
        cohort,
        baselines=baselines,
        policy=policy,
        n_boot=n_boot,
        seed=seed,
        split=split,
        horizons=horizons,
        subgroups=subgroups,
        progress=progress,
    )
    stamp = generated or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    html = render_report(data, title=title, generated=stamp)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    logger.info("report written to %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out
