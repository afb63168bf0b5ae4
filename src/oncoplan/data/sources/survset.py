"""Every SurvSet dataset as a :class:`Cohort` (``survset:colon``, ``survset:GBSG2``, ...).

SurvSet names numeric columns ``num_*`` and categorical ones ``fac_*``; oncoplan reads the types from
those prefixes (declared by the package, not guessed) and strips them. Known randomized or treated
oncology cohorts get their treatment column and arms.

Example:
    >>> cohort = load_survset("colon")  # doctest: +SKIP
    >>> cohort.arms  # doctest: +SKIP
    ['Obs', 'Lev', 'Lev+5FU']
"""

from __future__ import annotations

import functools
import logging
import warnings

import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.data.spec import CohortSpec
from oncoplan.errors import DataSourceError

logger = logging.getLogger(__name__)

#: treatment column and arm order (reference first) for SurvSet cohorts with a treatment.
KNOWN_TREATMENTS: dict[str, tuple[str, list[str]]] = {
    "colon": ("rx", ["Obs", "Lev", "Lev+5FU"]),
    "GBSG2": ("horTh", ["no", "yes"]),
    "rott2": ("hormon", ["no", "yes"]),
    # further randomized trials (arm codes as SurvSet stores them; reference arm first)
    "veteran": ("trt", ["1", "2"]),
    "e1684": ("trt", ["0", "1"]),
    "prostate": ("rx", ["placebo", "0.2 mg estrogen", "1.0 mg estrogen", "5.0 mg estrogen"]),
    "d.oropha.rec": ("treatm", ["1", "2"]),
    "actg": ("tx", ["0", "1"]),
    "pbc": ("trt", ["2", "1"]),
}

#: how the arms were assigned (from the datasets' documentation); the others are "unknown" (GBSG2's hormone
#: therapy was randomised for only part of the patients)
ASSIGNMENT: dict[str, str] = {
    **{
        name: "randomised"
        for name in ("colon", "veteran", "e1684", "prostate", "d.oropha.rec", "actg", "pbc")
    },
    "rott2": "observational",
}

#: time units that are not days (from the datasets' documentation); SurvSet itself does not record them
TIME_UNITS: dict[str, str] = {
    "rott2": "months",
    "prostate": "months",
    "e1684": "years",
    "d.oropha.rec": "years",
}

DESCRIPTIONS: dict[str, str] = {
    "colon": "Adjuvant chemotherapy for stage B/C colon cancer (NCCTG trial): Obs / Lev / Lev+5FU",
    "GBSG2": "German Breast Cancer Study Group 2: hormone therapy (partly randomized)",
    "rott2": "Rotterdam tumour bank, primary breast cancer (observational hormone / chemotherapy)",
    "veteran": "Veterans' Administration lung cancer trial: standard (1) vs test (2) chemotherapy",
    "e1684": "ECOG E1684 melanoma trial: observation (0) vs high-dose interferon alfa-2b (1)",
    "prostate": "Byar & Green prostate cancer trial: placebo vs 0.2 / 1.0 / 5.0 mg estrogen",
    "d.oropha.rec": "Oropharynx carcinoma trial (Kalbfleisch & Prentice): standard (1) vs test (2) treatment",
    "actg": "ACTG 320 HIV trial: two-drug (0) vs three-drug regimen with indinavir (1)",
    "pbc": "Mayo primary biliary cholangitis trial: placebo (2) vs D-penicillamine (1)",
}


@functools.lru_cache(maxsize=1)
def _loader():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from SurvSet.data import SurvLoader
    except ImportError as exc:  # pragma: no cover - SurvSet is a core dependency
        raise DataSourceError("the SurvSet package is not installed", hint="pip install SurvSet") from exc
    return SurvLoader()


def survset_names() -> list[str]:
    """Names of all SurvSet datasets without time-dependent covariates."""
    table = _loader().df_ds
    return sorted(table.loc[~table["is_td"], "ds"].tolist(), key=str.lower)


def survset_table() -> pd.DataFrame:
    """SurvSet's own index (name, n, numeric/categorical counts), time-varying ones excluded."""
    table = _loader().df_ds
    return table.loc[~table["is_td"]].reset_index(drop=True)


def _strip(col: str) -> str:
    for prefix in ("num_", "fac_"):
        if col.startswith(prefix):
            return col[len(prefix) :]
    return col


def load_survset(name: str) -> Cohort:
    """Load SurvSet dataset ``name`` (case-insensitive) as a validated cohort."""
    names = {n.lower(): n for n in survset_names()}
    if name.lower() not in names:
        close = [n for n in names.values() if name.lower()[:3] in n.lower()][:5]
        raise DataSourceError(
            f"SurvSet has no dataset {name!r}",
            hint=f"similar: {', '.join(close)}" if close else "run `oncoplan datasets` to list them",
        )
    name = names[name.lower()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = _loader().load_dataset(name)["df"].copy()
    rename = {c: _strip(c) for c in df.columns}
    if len(set(rename.values())) != len(rename):
        rename = {c: c for c in df.columns}
    df = df.rename(columns=rename)
    numeric = [rename[c] for c in rename if c.startswith("num_")]
    categorical = [rename[c] for c in rename if c.startswith("fac_")]
    treatment, arms = KNOWN_TREATMENTS.get(name, (None, None))
    if treatment is not None and treatment not in categorical:
        treatment = f"fac_{treatment}"  # the prefixes were kept (stripped names would collide)
    if treatment is not None:
        categorical.remove(treatment)
        df[treatment] = df[treatment].astype(str)
    spec = CohortSpec(
        name=name,
        id_column="pid",
        time_column="time",
        event_column="event",
        treatment_column=treatment,
        arms=arms,
        numeric=numeric,
        categorical=categorical,
        time_unit=TIME_UNITS.get(name, "days"),
        assignment=ASSIGNMENT.get(name, "unknown"),
        description=DESCRIPTIONS.get(name, f"SurvSet dataset {name}"),
    )
    return Cohort.from_frame(df, spec, source=f"survset:{name}")
