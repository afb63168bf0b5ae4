"""Shared CLI plumbing: error handling (exit code 2, no traceback), rich console, progress bars.

Example:
    >>> @handle_errors
    ... def command() -> None:
    ...     raise OncoplanError("bad input")
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from oncoplan.data.cohort import Cohort
from oncoplan.data.splits import holdout_split
from oncoplan.errors import ConfigError, OncoplanError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable)


#: shared command-line parameters (one definition, same help everywhere)
COHORT_ARGUMENT = typer.Argument(..., help="survset:NAME, deepsurv:NAME, a CSV/Parquet file or a spec file.")
OUT_OPTION = typer.Option(..., "--out", "-o", help="Folder for the model bundle.")
SPEC_OPTION = typer.Option(None, "--spec", help="Cohort spec (YAML/TOML) for a CSV/Parquet file.")


def debug_enabled() -> bool:
    """``--debug`` (or ONCOPLAN_DEBUG=1) shows tracebacks."""
    return os.environ.get("ONCOPLAN_DEBUG", "") not in ("", "0")


def handle_errors(func: F) -> F:
    """Turn :class:`OncoplanError` into a readable message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except OncoplanError as exc:
            if debug_enabled():
                raise
            err_console.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False, markup=True)
            if exc.hint:
                err_console.print(f"[yellow]hint:[/yellow] {exc.hint}", highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def counter_progress(description: str, unit: str, enabled: bool = True) -> Iterator[Callable]:
    """A rich progress bar counting ``unit`` (epoch, trial); yields ``update(done, total, note)``."""
    if not enabled:
        yield lambda *a: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(unit + " {task.completed}/{task.total}"),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(description, total=1, note="")

        def update(done: int, total: int, note: str = "") -> None:
            progress.update(task, completed=done, total=total, note=note)

        yield update


@contextmanager
def epoch_progress(description: str, enabled: bool = True) -> Iterator[Callable]:
    """A rich progress bar fed by the trainer's ``progress(epoch, max_epochs, train, val)`` callback."""
    with counter_progress(description, "epoch", enabled) as update:

        def on_epoch(epoch: int, max_epochs: int, train_loss: float, val_loss: float | None) -> None:
            loss = f"loss {train_loss:.4f}" + ("" if val_loss is None else f" / val {val_loss:.4f}")
            update(epoch, max_epochs, loss)

        yield on_epoch


def holdout_training_rows(data: Cohort, out: Path, holdout: float, seed: int):
    """Training rows of ``data`` after keeping ``holdout`` of the patients out (split written to
    ``out/split.json``); None (all rows) when ``holdout`` is 0.

    Example:
        >>> holdout_training_rows(cohort, Path("model"), 0.0, seed=0) is None  # doctest: +SKIP
        True
    """
    if not 0 <= holdout < 1:
        raise ConfigError(f"--holdout must be in [0, 1), got {holdout}")
    out.mkdir(parents=True, exist_ok=True)
    if holdout == 0:
        return None
    split = holdout_split(data, (1 - holdout, holdout), seed=seed)
    split.to_json(out / "split.json")
    return split.parts["train"]
