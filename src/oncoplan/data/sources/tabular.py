"""User cohorts from CSV / Parquet files described by a cohort spec.

Example:
    >>> cohort = load_table("patients.csv", spec="patients.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.data.spec import CohortSpec
from oncoplan.errors import CohortError, DataSourceError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet", ".pq"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file into a DataFrame with clear errors."""
    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix in {".csv", ".tsv", ".txt"}:
            return pd.read_csv(path, sep=None if suffix != ".csv" else ",", engine="python")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataSourceError(f"could not read {path}: {exc}") from None
    raise DataSourceError(f"unsupported file type {suffix!r} for {path}", hint="use .csv, .tsv or .parquet")


def load_table(path: str | Path, spec: CohortSpec | str | Path | None = None) -> Cohort:
    """Load a cohort from a table and its spec (a spec object or a YAML/TOML file).

    ``path`` may also be a spec file whose ``path`` key names the table.
    """
    path = Path(path)
    if path.suffix.lower() in {".yaml", ".yml", ".toml"}:
        spec = CohortSpec.from_file(path)
        if spec.path is None:
            raise CohortError(f"cohort spec {path} has no 'path' key naming the data file")
        path = Path(spec.path)
    if spec is None:
        raise CohortError(
            f"no cohort spec given for {path}",
            hint="pass --spec spec.yaml naming the id, time, event, treatment and covariate columns",
        )
    if not isinstance(spec, CohortSpec):
        spec = CohortSpec.from_file(spec)
    df = read_table(path)
    return Cohort.from_frame(df, spec, source=str(path))
