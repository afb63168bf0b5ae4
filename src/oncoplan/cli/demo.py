"""``oncoplan demo``: the main job on the colon-cancer trial (no arguments needed)."""

from __future__ import annotations

from pathlib import Path

import typer

from oncoplan.cli.common import console, epoch_progress, err_console, handle_errors
from oncoplan.report.demo import run_demo


@handle_errors
def demo(
    out: Path = typer.Option(Path("oncoplan-demo"), "--out", "-o", help="Output folder."),
    quick: bool = typer.Option(False, "--quick", help="Few epochs and resamples (for tests)."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Train, evaluate, recommend and report on the colon adjuvant-chemotherapy trial."""
    with epoch_progress("training on survset:colon") as progress:
        result = run_demo(
            out,
            quick=quick,
            seed=seed,
            progress=progress,
            stage=lambda text: err_console.print(f"[dim]... {text}[/dim]"),
        )
    for line in result.lines:
        console.print(line, highlight=False, markup=False)
