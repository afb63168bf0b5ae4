"""Cohort sources: SurvSet, the DeepSurv files, user tables; one entry point, :func:`load_cohort`.

Example:
    >>> cohort = load_cohort("survset:GBSG2")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.data.sources.deepsurv import DEEPSURV_COHORTS, load_deepsurv
from oncoplan.data.sources.survset import DESCRIPTIONS, load_survset, survset_table
from oncoplan.data.sources.tabular import load_table
from oncoplan.data.spec import CohortSpec
from oncoplan.errors import DataSourceError


def load_cohort(source: str | Path, spec: CohortSpec | str | Path | None = None) -> Cohort:
    """Load a cohort from ``survset:NAME``, ``deepsurv:NAME``, a table file (+ spec) or a spec file."""
    text = str(source)
    if text.startswith("survset:"):
        return load_survset(text.split(":", 1)[1])
    if text.startswith("deepsurv:"):
        return load_deepsurv(text.split(":", 1)[1])
    if ":" in text and not Path(text).exists() and len(text.split(":", 1)[0]) > 1:
        raise DataSourceError(
            f"unknown cohort source {text!r}", hint="use survset:NAME, deepsurv:NAME or a file"
        )
    return load_table(text, spec)


def list_datasets() -> pd.DataFrame:
    """Built-in cohorts: every SurvSet dataset and the DeepSurv files (with availability)."""
    from oncoplan.data.paths import shared_data_dir

    table = survset_table()
    rows = [
        {
            "source": f"survset:{r.ds}",
            "patients": int(r.n),
            "numeric": int(r.n_num),
            "categorical": int(r.n_fac),
            "description": DESCRIPTIONS.get(r.ds, ""),
            "available": True,
        }
        for r in table.itertuples()
    ]
    root = shared_data_dir()
    for key, (filename, cols, cats, _treat, _unit, desc) in DEEPSURV_COHORTS.items():
        available = root is not None and (root / "deepsurv" / filename).exists()
        rows.append(
            {
                "source": f"deepsurv:{key}",
                "patients": None,
                "numeric": len(cols) - len(cats),
                "categorical": len(cats),
                "description": desc,
                "available": available,
            }
        )
    return pd.DataFrame(rows)


__all__ = ["load_cohort", "list_datasets", "load_survset", "load_deepsurv", "load_table"]
