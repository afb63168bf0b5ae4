"""``oncoplan recommend``: per-patient treatment rankings with intervals and abstentions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from oncoplan.cli.common import console, handle_errors
from oncoplan.data.sources.tabular import read_table
from oncoplan.errors import ConfigError
from oncoplan.recommend.abstain import Abstention
from oncoplan.recommend.pipeline import recommend_patients
from oncoplan.recommend.ranking import recommendations_to_frame
from oncoplan.store.bundle import ModelBundle


def parse_band(text: str) -> tuple[float, float]:
    """``"0.05,0.95"`` -> (0.05, 0.95).

    Example:
        >>> parse_band("0.1,0.9")
        (0.1, 0.9)
    """
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--overlap-band must be two comma-separated numbers, got {text!r}") from None
    if not 0 <= low < high <= 1:
        raise ConfigError(f"--overlap-band must satisfy 0 <= low < high <= 1, got {text!r}")
    return low, high


def parse_penalties(text: str | None) -> dict[str, float] | None:
    """``"Lev+5FU=30,Lev=10"`` -> {"Lev+5FU": 30.0, "Lev": 10.0} (time units of RMST per arm).

    Example:
        >>> parse_penalties("A=5")
        {'A': 5.0}
    """
    if not text:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        arm, sep, value = part.rpartition("=")
        try:
            if not sep or not arm:
                raise ValueError
            out[arm.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--toxicity must look like 'ARM=DAYS,ARM=DAYS', got {text!r}") from None
    return out


def _ranking_cell(result) -> str:
    return "\n".join(f"{r.arm}: {r.expected_value:.0f} [{r.low:.0f}, {r.high:.0f}]" for r in result.ranking)


@handle_errors
def recommend(
    model: Path = typer.Argument(..., help="Treatment-effect model bundle folder."),
    patients: Path = typer.Argument(..., help="CSV/Parquet with the model's covariate columns."),
    tau: float = typer.Option(None, help="RMST horizon (default: the model's, in the cohort's time unit)."),
    level: float = typer.Option(0.9, help="Level of the ensemble intervals."),
    overlap_band: str = typer.Option("0.05,0.95", help="Propensity band outside which oncoplan abstains."),
    toxicity: str = typer.Option(None, help="Utility penalty per arm, e.g. 'Lev+5FU=30' (time units)."),
    arms: str = typer.Option(None, help="Compare only these comma-separated arms."),
    out: Path = typer.Option(None, "--out", "-o", help="Write one row per patient to this CSV."),
) -> None:
    """Rank the treatment arms for each patient in PATIENTS by RMST, with intervals and abstentions."""
    bundle = ModelBundle.load(model)
    frame = bundle.frame_from_table(read_table(patients))
    requested = [a.strip() for a in arms.split(",") if a.strip()] if arms else None
    results, pred = recommend_patients(
        bundle,
        frame,
        tau=tau,
        level=level,
        overlap_band=parse_band(overlap_band),
        toxicity_penalty=parse_penalties(toxicity),
        requested_arms=requested,
    )
    horizon = float(bundle.metadata.get("tau") if tau is None else tau)
    unit = bundle.spec.time_unit
    if out is not None:
        table_out = recommendations_to_frame(results)
        table_out["ood_score"] = pred.ood_score
        table_out.to_csv(out, index=False)
        console.print(f"wrote {len(table_out)} recommendations to {out}")
    table = Table(
        title=f"treatment ranking by RMST({horizon:g} {unit}), {round(level * 100)}% ensemble intervals "
        f"({bundle.spec.name} model)"
    )
    for col in (
        "patient",
        "decision",
        f"gain vs runner-up ({unit})",
        f"ranking: RMST [interval] ({unit})",
        "reason",
    ):
        table.add_column(col, overflow="fold")  # wrap, never cut: the reason must stay readable
    for r in results[:200]:
        if isinstance(r, Abstention):
            table.add_row(str(r.patient), "abstain", "-", _ranking_cell(r), f"{r.reason.value}: {r.detail}")
        else:
            g = r.gain_vs_next
            table.add_row(
                str(r.patient),
                f"recommend {r.best_arm}",
                f"{g.value:.0f} [{g.low:.0f}, {g.high:.0f}]",
                _ranking_cell(r),
                "",
            )
    console.print(table)
    if bundle.metadata.get("anchored_to_kaplan_meier"):
        console.print(
            "Each arm's average outcome is anchored to its Kaplan-Meier curve in the randomised training "
            "data; the model adds the differences between patients."
        )
    total_abstain = sum(not r.recommended for r in results)
    console.print(
        f"{len(results)} patients: {len(results) - total_abstain} recommendations, "
        f"{total_abstain} abstentions"
    )
