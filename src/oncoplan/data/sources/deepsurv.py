"""The DeepSurv HDF5 cohorts (METABRIC, SUPPORT, Rotterdam/GBSG, WHAS) from the shared data folder.

Each file holds the DeepSurv paper's train/test split; the cohort pools both and records the split in
``cohort.split`` ("train"/"test"). Column names follow the shared folder's PROVENANCE.md.

Example:
    >>> cohort = load_deepsurv("gbsg")  # doctest: +SKIP
    >>> cohort.split.value_counts().to_dict()  # doctest: +SKIP
    {'train': 1546, 'test': 686}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.data.paths import shared_data_dir
from oncoplan.data.spec import CohortSpec
from oncoplan.errors import DataSourceError

#: name -> (file, column names, categorical columns, treatment column or None, time unit, description)
DEEPSURV_COHORTS: dict[str, tuple[str, list[str], list[str], str | None, str, str]] = {
    "metabric": (
        "metabric_IHC4_clinical_train_test.h5",
        ["MKI67", "EGFR", "PGR", "ERBB2", "hormone", "radio", "chemo", "er_positive", "age"],
        ["hormone", "radio", "chemo", "er_positive"],
        None,
        "months",
        "METABRIC breast cancer (DeepSurv file; hormone/radio/chemo observational)",
    ),
    "support": (
        "support_train_test.h5",
        [
            "age",
            "sex",
            "race",
            "n_comorbidities",
            "diabetes",
            "dementia",
            "cancer",
            "meanbp",
            "hrt",
            "resp",
            "temp",
            # x11 ranges 110-181 (serum sodium, mmol/L) and x12 0-200 (white blood cells): the order in
            # PROVENANCE.md ("white blood cell count, serum sodium") is swapped against the values
            "sod",
            "wblc",
            "crea",
        ],
        ["sex", "race", "diabetes", "dementia", "cancer"],
        None,
        "days",
        "SUPPORT seriously ill hospitalized adults (DeepSurv file)",
    ),
    "gbsg": (
        "gbsg_cancer_train_test.h5",
        [
            "hormonal_therapy",
            "tumor_size_group",
            "menopausal",
            "age",
            "positive_nodes",
            "progesterone",
            "estrogen",
        ],
        ["tumor_size_group", "menopausal"],
        "hormonal_therapy",
        "months",
        "Rotterdam (train) -> GBSG (test) breast cancer; hormonal therapy (DeepSurv file)",
    ),
    "whas": (
        "whas_train_test.h5",
        # the file carries no names; PROVENANCE.md lists "age, sex, bmi, chf, miord, mitype", but the values
        # say otherwise: x1 ranges 31-104 (age) and x3 13-50 (body mass index); x0, x2, x4, x5 are 0/1.
        # Names below follow the values; the binary x0 stays unnamed rather than guessed.
        ["x0", "age", "sex", "bmi", "chf", "miord"],
        ["x0", "sex", "chf", "miord"],
        None,
        "days",
        "Worcester Heart Attack Study (DeepSurv file)",
    ),
}


def _format_level(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def load_deepsurv(name: str) -> Cohort:
    """Load DeepSurv cohort ``name`` (metabric, support, gbsg, whas) with its train/test split."""
    import h5py

    key = name.lower()
    if key not in DEEPSURV_COHORTS:
        raise DataSourceError(f"no DeepSurv cohort {name!r}", hint=f"one of {', '.join(DEEPSURV_COHORTS)}")
    filename, columns, categorical, treatment, unit, description = DEEPSURV_COHORTS[key]
    root = shared_data_dir()
    path = None if root is None else root / "deepsurv" / filename
    if path is None or not path.exists():
        raise DataSourceError(
            f"DeepSurv file {filename} not found",
            hint="these cohorts live in ../shared/data/deepsurv (or set ONCOPLAN_SHARED_DATA)",
        )
    parts = []
    with h5py.File(path, "r") as f:
        for split in ("train", "test"):
            g = f[split]
            frame = pd.DataFrame(np.asarray(g["x"], dtype=float), columns=columns)
            frame["time"] = np.asarray(g["t"], dtype=float)
            frame["event"] = np.asarray(g["e"], dtype=int)
            frame["split"] = split
            parts.append(frame)
    df = pd.concat(parts, ignore_index=True)
    df.insert(0, "pid", [f"{key}-{i}" for i in range(len(df))])
    for col in categorical + ([treatment] if treatment else []):
        df[col] = df[col].map(_format_level)
    arms = None
    if treatment is not None:
        df[treatment] = df[treatment].map({"0": "no", "1": "yes"})
        arms = ["no", "yes"]
    spec = CohortSpec(
        name=f"deepsurv-{key}",
        id_column="pid",
        time_column="time",
        event_column="event",
        treatment_column=treatment,
        arms=arms,
        numeric=[c for c in columns if c not in categorical and c != treatment],
        categorical=categorical,
        time_unit=unit,
        description=description,
    )
    cohort = Cohort.from_frame(df, spec, source=f"deepsurv:{key}")
    cohort.split = pd.Series(df["split"].to_numpy(), index=cohort.ids, name="split")
    return cohort
