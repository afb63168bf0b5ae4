"""``oncoplan datasets``: list the built-in cohorts."""

from __future__ import annotations

import typer
from rich.table import Table

from oncoplan.cli.common import console, handle_errors
from oncoplan.data.sources import list_datasets


@handle_errors
def datasets(
    search: str = typer.Option("", "--search", "-s", help="Only names containing this text."),
) -> None:
    """List built-in cohorts (SurvSet and, when present, the DeepSurv files in ../shared/data)."""
    table = list_datasets()
    if search:
        table = table[table["source"].str.contains(search, case=False)]
    out = Table(title="oncoplan cohorts")
    for col in ("source", "patients", "numeric", "categorical", "available", "description"):
        out.add_column(col)
    for row in table.itertuples():
        out.add_row(
            row.source,
            "" if row.patients is None else str(row.patients),
            str(row.numeric),
            str(row.categorical),
            "yes" if row.available else "no",
            row.description,
        )
    console.print(out)
