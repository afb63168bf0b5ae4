"""Render :class:`~oncoplan.report.build.ReportData` to one self-contained HTML page (Jinja2 + Plotly).

Tables are formatted for readers (estimates with their 95% CI in one cell, p-values as ``<0.001``),
figures come from :mod:`oncoplan.report.plots` and plotly.js is embedded once in the page head.
Jinja2 autoescaping is on; only HTML this module generates itself is marked safe.

Example:
    >>> fmt_ci(0.7123, 0.66, 0.75)
    '0.712 (0.660 to 0.750)'
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from oncoplan import __version__
from oncoplan.report import plots
from oncoplan.report import sections as sec
from oncoplan.report.classification import LABELS, HorizonClassification

if TYPE_CHECKING:  # pragma: no cover
    from oncoplan.report.build import ReportData

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"


def fmt_ci(value: float, low: float, high: float, digits: int = 3) -> str:
    """``value (low to high)``; a dash for a missing value."""
    if value is None or not np.isfinite(value):
        return "–"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ({low:.{digits}f} to {high:.{digits}f})"


def fmt_p(p: float) -> str:
    """A p-value as a reader expects: ``<0.001``, else 3 decimals (2 significant above 0.01).

    Example:
        >>> fmt_p(0.00002), fmt_p(0.0432)
        ('<0.001', '0.043')
    """
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def html_table(frame: pd.DataFrame, index: bool = False, classes: str = "data") -> Markup:
    """A pandas table as escaped HTML (no index unless asked, dashes for missing cells)."""
    html = frame.to_html(index=index, escape=True, border=0, classes=classes, na_rep="–", justify="left")
    return Markup(html)  # noqa: S704 - produced by pandas with escape=True


def _years_scale(unit: str, max_time: float) -> tuple[float, str]:
    per_year = sec.PER_YEAR[unit]
    if unit != "years" and max_time >= 2 * per_year:
        return per_year, "Years"
    return 1.0, unit.capitalize()


def _km_block(km, unit: str, title: str, div_id: str) -> dict:
    max_time = max(float(c["time"].max()) for c in km.curves.values())
    scale, label = _years_scale(unit, max_time)
    fig = plots.km_figure(km.curves, km.at_risk, f"{label} since start of follow-up", title, time_scale=scale)
    med = km.medians.copy()
    shown_unit = label.lower()
    digits = 1 if scale != 1.0 else 0

    def show(x: float) -> str:
        return f"{x / scale:.{digits}f}" if np.isfinite(x) else "not reached"

    med_table = pd.DataFrame(
        {
            "Group": med["group"],
            "Patients": med["n"],
            "Events": med["events"],
            f"Median survival, {shown_unit} (95% CI)": [
                "not reached" if not np.isfinite(m) else f"{show(m)} ({show(lo)} to {show(hi)})"
                for m, lo, hi in zip(med["median"], med["ci_low"], med["ci_high"], strict=True)
            ],
        }
    )
    logrank = (
        f"Log-rank test: chi-square {km.logrank_statistic:.2f} on {km.logrank_df} df, "
        f"p = {fmt_p(km.logrank_p)}"
        if km.logrank_df > 0
        else ""
    )
    return {"div": Markup(plots.figure_div(fig, div_id)), "table": html_table(med_table), "logrank": logrank}


def _performance_tables(perf: sec.Performance, unit: str) -> dict:
    m = perf.metrics
    models = list(dict.fromkeys(m["model"]))
    rows = []
    for key, label in sec.METRIC_LABELS.items():
        sub = m[m["metric"] == key].set_index("model")
        if sub.empty:
            continue
        row = {"Metric": label}
        for name in models:
            r = sub.loc[name]
            row[name] = fmt_ci(r["value"], r["ci_low"], r["ci_high"])
        rows.append(row)
    comp = None
    if not perf.comparisons.empty:
        comp = pd.DataFrame(
            {
                "Compared with": perf.comparisons["baseline"],
                "Difference in C-index (oncoplan minus baseline)": [
                    fmt_ci(r.difference, r.ci_low, r.ci_high) for r in perf.comparisons.itertuples()
                ],
                "p (paired bootstrap)": [fmt_p(p) for p in perf.comparisons["p_value"]],
            }
        )
    ht = perf.horizon_table
    horizon = pd.DataFrame(
        {
            "Model": ht["model"],
            "Horizon": [sec.format_time(h, unit) for h in ht["horizon"]],
            "AUC": ht["auc"].map("{:.3f}".format),
            "Brier score": ht["brier"].map("{:.3f}".format),
            "Mean predicted survival": ht["predicted"].map("{:.1%}".format),
            "Observed survival (Kaplan-Meier)": ht["observed"].map("{:.1%}".format),
        }
    )
    return {
        "metrics": html_table(pd.DataFrame(rows)),
        "comparisons": None if comp is None else html_table(comp),
        "horizons": html_table(horizon),
    }


def _performance_figures(perf: sec.Performance, unit: str) -> list[Markup]:
    scale, label = _years_scale(unit, float(perf.eval_times.max()))
    main = sec.format_time(perf.main_horizon, unit)
    figs = [
        ("roc", plots.roc_figure(perf.roc, f"ROC curve: death or event by {main}")),
        (
            "td-auc",
            plots.over_time_figure(
                perf.eval_times, perf.td_auc, "Time-dependent AUC", "AUC", label, scale, reference=0.5
            ),
        ),
        (
            "brier",
            plots.over_time_figure(
                perf.eval_times,
                perf.brier,
                "Prediction error over time (Brier score)",
                "Brier score",
                label,
                scale,
            ),
        ),
    ]
    for k, h in enumerate(perf.horizons):
        figs.append(
            (
                f"calibration-{k}",
                plots.calibration_figure(perf.calibration[h], f"Calibration at {sec.format_time(h, unit)}"),
            )
        )
    return [Markup(plots.figure_div(fig, f"fig-{name}")) for name, fig in figs]


def _classification_context(cls: HorizonClassification | None, unit: str) -> dict | None:
    if cls is None:
        return None
    rows = [
        {"Measure": LABELS.get(key, key), "Value (95% CI)": fmt_ci(r.value, r.ci_low, r.ci_high)}
        for key, r in cls.metrics.items()
    ]
    thr = cls.threshold
    threshold = (
        f"Patients with a predicted probability of an event of at least {thr.value:.1%} are flagged; this "
        f"threshold was {cls.threshold_note}."
        if thr is not None
        else cls.threshold_note
    )
    ctx = {
        "horizon": sec.format_time(cls.horizon, unit),
        "table": html_table(pd.DataFrame(rows)),
        "threshold": threshold,
        "counts": cls.counts,
    }
    if not cls.d_calibration.empty:
        d = cls.d_calibration
        ctx["d_calibration"] = html_table(
            pd.DataFrame(
                {
                    "Model": d["model"],
                    "Chi-square": [f"{x:.1f}" for x in d["statistic"]],
                    "df": d["df"],
                    "p": [fmt_p(x) for x in d["p_value"]],
                    "Verdict": [
                        "consistent with calibrated curves" if ok else "curves not calibrated (p < 0.05)"
                        for ok in d["calibrated"]
                    ],
                }
            )
        )
    return ctx


def _subgroup_context(sub: pd.DataFrame, overall: float) -> dict | None:
    if sub.empty:
        return None
    rows = sub[sub["kind"] == "subgroup"]
    table = pd.DataFrame(
        {
            "Variable": rows["variable"],
            "Group": rows["group"],
            "Patients": rows["n"],
            "Events": rows["n_events"].astype("Int64"),
            "C-index (95% CI)": [fmt_ci(r.value, r.ci_low, r.ci_high) for r in rows.itertuples()],
            "Difference vs rest": [fmt_ci(r.gap, r.gap_ci_low, r.gap_ci_high) for r in rows.itertuples()],
            "Note": [r.reason or "" for r in rows.itertuples()],
        }
    )
    fig = plots.forest_figure(sub, overall, "C-index by subgroup (test patients)")
    return {"table": html_table(table), "div": Markup(plots.figure_div(fig, "fig-forest"))}


def _policy_context(pol, unit: str) -> dict | None:
    if pol is None:
        return None
    ctx = {"note": pol.note, "tau": sec.format_time(pol.tau, unit), "precomputed": pol.precomputed}
    if pol.table is None:
        return ctx
    t = pol.table
    if {"label", "value", "ci_low", "ci_high"} <= set(t.columns):
        shown = pd.DataFrame(
            {
                "Policy": t["label"],
                "Estimator": t.get("estimator_label", t.get("estimator", "")),
                f"Mean survival time up to {ctx['tau']} ({unit}, 95% CI)": [
                    fmt_ci(r.value, r.ci_low, r.ci_high, 0) for r in t.itertuples()
                ],
            }
        )
        if "n_followers" in t:
            shown["Patients treated as the policy says"] = t["n_followers"]
        ctx["table"] = html_table(shown)
        fig = plots.policy_figure(
            t.assign(estimator=shown["Estimator"]),
            f"Restricted mean survival time up to {ctx['tau']}, in {unit}",
        )
        ctx["div"] = Markup(plots.figure_div(fig, "fig-policy"))
    else:
        ctx["table"] = html_table(t)
    if pol.histograms is not None:
        ctx["overlap_div"] = Markup(plots.figure_div(plots.overlap_figure(pol.histograms), "fig-overlap"))
    if pol.overlap is not None and pol.overlap.warning is not None:
        ctx["overlap_warning"] = pol.overlap.warning.message
    if pol.recommended_share:
        ctx["share"] = ", ".join(f"{a} {s:.0%}" for a, s in pol.recommended_share.items())
    return ctx


def _table_one_html(t1: pd.DataFrame) -> Markup:
    frame = t1.copy()
    frame.index = frame.index.set_names(["Variable", "Level"][: frame.index.nlevels])
    return html_table(frame, index=True, classes="data table-one")


def _headline(perf: sec.Performance, unit: str) -> list[tuple[str, str]]:
    m = perf.metrics[perf.metrics["model"] == sec.MODEL_NAME].set_index("metric")
    out = []
    if "harrell_c" in m.index:
        r = m.loc["harrell_c"]
        out.append((f"{r['value']:.3f}", f"C-index, 95% CI {r['ci_low']:.3f} to {r['ci_high']:.3f}"))
    roc = perf.roc.get(sec.MODEL_NAME)
    if roc is not None:
        out.append((f"{roc[2]:.3f}", f"AUC for an event by {sec.format_time(perf.main_horizon, unit)}"))
    return out


def render_report(data: ReportData, title: str | None = None, generated: str = "") -> str:
    """The report as an HTML string (see :func:`oncoplan.report.build.build_report`)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    unit = data.time_unit
    perf = data.performance
    overall = perf.metrics[
        (perf.metrics["model"] == sec.MODEL_NAME) & (perf.metrics["metric"] == "harrell_c")
    ]["value"]
    arm_title = "Overall survival by treatment arm" if data.km_arm.logrank_df > 0 else "Overall survival"
    context = {
        "title": title or f"Survival model report: {data.cohort_summary['name']}",
        "generated": generated,
        "version": __version__,
        "summary": data.cohort_summary,
        "evaluation": data.evaluation,
        "test_events": int(data.evaluation.test.event.sum()),
        "unit": unit,
        "table_one": _table_one_html(data.table_one),
        "table_one_group": data.table_one_group,
        "km_arm": _km_block(data.km_arm, unit, arm_title, "fig-km-arm"),
        "has_arms": data.evaluation.test.treatment is not None,
        "km_heading": "Survival by treatment arm" if data.km_arm.logrank_df > 0 else "Overall survival",
        "km_risk": _km_block(
            data.km_risk, unit, "Survival by predicted risk group (test patients)", "fig-km-risk"
        ),
        "headline": _headline(perf, unit),
        "perf": _performance_tables(perf, unit),
        "perf_figures": _performance_figures(perf, unit),
        "main_horizon": sec.format_time(perf.main_horizon, unit),
        "horizons": [sec.format_time(h, unit) for h in perf.horizons],
        "roc_counts": perf.roc_counts,
        "classification": _classification_context(getattr(data, "classification", None), unit),
        "baselines_note": data.baselines_note,
        "subgroups": _subgroup_context(data.subgroups, float(overall.iloc[0]) if len(overall) else None),
        "policy": _policy_context(data.policy, unit),
        "card": data.card,
        "n_boot": data.n_boot,
        "seed": data.seed,
        "plotly_js": Markup(plots.plotly_js()),  # noqa: S704 - the plotly package's own bundle
    }
    return env.get_template("report.html").render(**context)
