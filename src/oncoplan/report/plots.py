"""Plotly figures for the report: Kaplan-Meier with number at risk, ROC, calibration, time-dependent AUC,
Brier score over time, subgroup forest plot, propensity overlap and policy values.

Every function takes already computed, aggregate numbers (curves, tables) and returns a
``plotly.graph_objects.Figure``; nothing here computes a statistic or sees a patient identifier.
:func:`figure_div` turns a figure into an HTML ``<div>`` without plotly.js (the report embeds plotly.js
once, see :func:`plotly_js`).

Example:
    >>> import pandas as pd
    >>> fig = forest_figure(pd.DataFrame({"variable": ["sex"], "kind": ["subgroup"], "group": ["1"],
    ...     "n": [50], "value": [0.6], "ci_low": [0.5], "ci_high": [0.7], "too_small": [False]}), 0.62)
    >>> len(fig.data) >= 1
    True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

logger = logging.getLogger(__name__)

#: Okabe-Ito colour-blind safe palette.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
TEMPLATE = "plotly_white"
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def color(k: int) -> str:
    """The k-th palette colour (cycled)."""
    return PALETTE[k % len(PALETTE)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, title: str, height: int = 420, left: int = 70, **kwargs) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": left, "r": 30, "t": 60, "b": 60},
        legend={"orientation": "h", "y": -0.18, "x": 0.0},
        font={"family": "Helvetica, Arial, sans-serif", "size": 12},
        **kwargs,
    )
    return fig


def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (embedded once per report, no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_div(fig: go.Figure, div_id: str) -> str:
    """HTML ``<div>`` + ``<script>`` drawing ``fig`` (plotly.js itself not included; stable ``div_id``)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG)


def km_figure(
    curves: Mapping[str, pd.DataFrame],
    at_risk: pd.DataFrame,
    time_label: str,
    title: str = "Kaplan-Meier survival",
    time_scale: float = 1.0,
) -> go.Figure:
    """Kaplan-Meier step curves with pointwise CI bands and a number-at-risk table underneath.

    Args:
        curves: group -> DataFrame with ``time``, ``survival``, ``ci_low``, ``ci_high``
            (as :func:`oncoplan.evaluate.stats.kaplan_meier_by_group` returns).
        at_risk: rows = groups, columns = times, values = patients at risk.
        time_label: x-axis label (e.g. ``"Years since randomization"``).
        time_scale: divide times by this (e.g. 365.25 to show days as years).
    """
    groups = list(curves)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.12)
    for k, name in enumerate(groups):
        c = curves[name]
        x = c["time"].to_numpy(dtype=float) / time_scale
        col = color(k)
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([x, x[::-1]]),
                y=np.concatenate([c["ci_high"].to_numpy(), c["ci_low"].to_numpy()[::-1]]),
                fill="toself",
                fillcolor=_rgba(col, 0.12),
                line={"width": 0, "shape": "hv"},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=c["survival"],
                mode="lines",
                name=str(name),
                legendgroup=name,
                line={"color": col, "shape": "hv", "width": 2},
                hovertemplate=f"{name}<br>time %{{x:.2f}}<br>survival %{{y:.1%}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    ticks = np.asarray(at_risk.columns, dtype=float) / time_scale
    for k, name in enumerate(groups):
        fig.add_trace(
            go.Scatter(
                x=ticks,
                y=[str(name)] * len(ticks),
                mode="text",
                text=[str(int(v)) for v in at_risk.loc[name].to_numpy()],
                textfont={"color": color(k), "size": 12},
                showlegend=False,
                hoverinfo="skip",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(title_text="Survival probability", range=[0, 1.02], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(
        title_text="At risk",
        type="category",
        categoryorder="array",
        categoryarray=[str(g) for g in groups][::-1],
        range=[-0.6, len(groups) - 0.4],
        showgrid=False,
        row=2,
        col=1,
    )
    fig.update_xaxes(title_text=time_label, tickvals=ticks, row=2, col=1)
    fig.update_xaxes(tickvals=ticks, row=1, col=1)
    return _layout(fig, title, height=560)


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], title: str) -> go.Figure:
    """ROC curves: model name -> ``(false positive rate, true positive rate, AUC)``."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999"}, name="chance (AUC 0.5)"
        )
    )
    for k, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        fig.add_trace(
            go.Scatter(
                x=fpr,
                y=tpr,
                mode="lines",
                name=f"{name} (AUC {auc:.3f})",
                line={"color": color(k), "shape": "hv", "width": 2},
                hovertemplate="1 - specificity %{x:.2f}<br>sensitivity %{y:.2f}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="1 - specificity (false positive rate)", range=[0, 1])
    fig.update_yaxes(title_text="Sensitivity (true positive rate)", range=[0, 1.01])
    return _layout(fig, title, height=460)


def calibration_figure(tables: Mapping[str, pd.DataFrame], title: str) -> go.Figure:
    """Predicted vs Kaplan-Meier observed survival by risk group, one series per model.

    ``tables``: model name -> DataFrame from :func:`oncoplan.evaluate.calibration.survival_calibration`.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"dash": "dot", "color": "#999"},
            name="perfect calibration",
        )
    )
    for k, (name, tab) in enumerate(tables.items()):
        obs = tab["observed"].to_numpy()
        fig.add_trace(
            go.Scatter(
                x=tab["predicted"],
                y=obs,
                mode="lines+markers",
                name=name,
                line={"color": color(k), "width": 1.5},
                marker={"size": 8},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": tab["observed_ci_high"].to_numpy() - obs,
                    "arrayminus": obs - tab["observed_ci_low"].to_numpy(),
                    "thickness": 1,
                },
                customdata=np.stack([tab["n"], tab["n_events"]], axis=1),
                hovertemplate=(
                    "predicted %{x:.1%}<br>observed %{y:.1%}<br>%{customdata[0]} patients, "
                    "%{customdata[1]} events<extra>" + name + "</extra>"
                ),
            )
        )
    fig.update_xaxes(title_text="Predicted survival probability", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="Observed survival (Kaplan-Meier)", range=[0, 1.02], tickformat=".0%")
    return _layout(fig, title, height=460)


def over_time_figure(
    times: np.ndarray,
    series: Mapping[str, np.ndarray],
    title: str,
    y_title: str,
    time_label: str,
    time_scale: float = 1.0,
    reference: float | None = None,
) -> go.Figure:
    """Lines of a metric over time (time-dependent AUC, Brier score), one per model."""
    fig = go.Figure()
    x = np.asarray(times, dtype=float) / time_scale
    if reference is not None:
        fig.add_hline(y=reference, line={"dash": "dot", "color": "#999"})
    for k, (name, values) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=values,
                mode="lines+markers",
                name=name,
                line={"color": color(k), "width": 2},
                marker={"size": 5},
                hovertemplate="time %{x:.2f}<br>%{y:.3f}<extra>" + name + "</extra>",
            )
        )
    fig.update_xaxes(title_text=time_label)
    fig.update_yaxes(title_text=y_title)
    return _layout(fig, title, height=400)


def forest_figure(
    table: pd.DataFrame, overall: float | None, title: str = "C-index by subgroup"
) -> go.Figure:
    """Forest plot of a subgroup table (:func:`oncoplan.evaluate.fairness.subgroup_metrics` rows).

    Subgroups flagged ``too_small`` are drawn in grey; the vertical line is the whole-cohort value.
    """
    rows = table[table["kind"] == "subgroup"].reset_index(drop=True)
    labels = [f"{r.variable}: {r.group} (n={r.n})" for r in rows.itertuples()]
    ok = ~rows["too_small"].astype(bool).to_numpy()
    fig = go.Figure()
    for mask, name, col in ((ok, "subgroup", PALETTE[0]), (~ok, "too small to interpret", "#AAAAAA")):
        if not mask.any():
            continue
        sub = rows[mask]
        val = sub["value"].to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=val,
                y=[labels[i] for i in np.flatnonzero(mask)],
                mode="markers",
                name=name,
                marker={"color": col, "size": 9, "symbol": "square"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": sub["ci_high"].to_numpy(dtype=float) - val,
                    "arrayminus": val - sub["ci_low"].to_numpy(dtype=float),
                    "color": col,
                },
                hovertemplate="%{y}<br>%{x:.3f}<extra></extra>",
            )
        )
    if overall is not None and np.isfinite(overall):
        fig.add_vline(x=overall, line={"dash": "dash", "color": "#555"})
    fig.add_vline(x=0.5, line={"dash": "dot", "color": "#bbb"})
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    fig.update_xaxes(title_text="C-index (95% CI); dashed: whole test set, dotted: chance")
    return _layout(fig, title, height=max(320, 60 + 28 * len(labels)), left=220)


def overlap_figure(hist: pd.DataFrame, title: str = "Propensity overlap") -> go.Figure:
    """Mirrored histograms of p(arm | patient) for patients who received the arm (up) vs not (down)."""
    arms = list(dict.fromkeys(hist["arm"].tolist()))
    fig = make_subplots(rows=1, cols=len(arms), shared_yaxes=True, subplot_titles=[f"P({a})" for a in arms])
    for k, arm in enumerate(arms):
        for group, sign, col, label in (
            ("received", 1.0, PALETTE[0], "received this arm"),
            ("not_received", -1.0, PALETTE[1], "received another arm"),
        ):
            h = hist[(hist["arm"] == arm) & (hist["group"] == group)]
            fig.add_trace(
                go.Bar(
                    x=(h["bin_left"] + h["bin_right"]) / 2,
                    y=sign * h["density"],
                    width=(h["bin_right"] - h["bin_left"]) * 0.95,
                    marker_color=col,
                    name=label,
                    showlegend=k == 0,
                    legendgroup=group,
                    customdata=h["count"],
                    hovertemplate="propensity %{x:.2f}<br>%{customdata} patients<extra></extra>",
                ),
                row=1,
                col=k + 1,
            )
        fig.update_xaxes(range=[0, 1], title_text="propensity", row=1, col=k + 1)
    fig.update_yaxes(title_text="density (down: other arms)", row=1, col=1)
    return _layout(fig, title, height=380, barmode="overlay")


def policy_figure(
    table: pd.DataFrame, value_label: str, title: str = "Value of treatment policies"
) -> go.Figure:
    """Point estimates with CIs of policy values (rows: ``label``, ``estimator``, ``value``, ``ci_*``)."""
    fig = go.Figure()
    for k, (est, sub) in enumerate(table.groupby("estimator", sort=False)):
        val = sub["value"].to_numpy(dtype=float)
        fig.add_trace(
            go.Scatter(
                x=val,
                y=sub["label"],
                orientation="h",
                mode="markers",
                name=str(est),
                marker={"color": color(k), "size": 9},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": sub["ci_high"].to_numpy(dtype=float) - val,
                    "arrayminus": val - sub["ci_low"].to_numpy(dtype=float),
                    "color": color(k),
                },
                hovertemplate="%{y}<br>%{x:.1f}<extra>" + str(est) + "</extra>",
            )
        )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=value_label)
    n = table["label"].nunique()
    return _layout(fig, title, height=max(300, 80 + 40 * n), left=230, scattermode="group", scattergap=0.5)
