"""The :class:`Cohort`: one row per patient, typed covariates, outcome, treatment and modality blocks.

Example:
    >>> import pandas as pd
    >>> from oncoplan.data.spec import CohortSpec
    >>> df = pd.DataFrame({"pid": [1, 2, 3], "time": [5.0, 3.0, 9.0], "event": [1, 0, 1],
    ...                    "age": [61, 54, 70], "rx": ["A", "B", "A"]})
    >>> spec = CohortSpec(id_column="pid", time_column="time", event_column="event",
    ...                   treatment_column="rx", numeric=["age"], min_arm_size=1)
    >>> cohort = Cohort.from_frame(df, spec)
    >>> cohort.n_patients, cohort.arms
    (3, ['A', 'B'])
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sksurv.util import Surv

from oncoplan.data.spec import CohortSpec
from oncoplan.data.validate import check_table
from oncoplan.errors import CohortError

TREATMENT_FEATURE = "treatment"


def _infer_types(df: pd.DataFrame, spec: CohortSpec) -> CohortSpec:
    reserved = {
        spec.id_column,
        spec.time_column,
        spec.event_column,
        spec.response_column,
        spec.treatment_column,
    }
    numeric, categorical = list(spec.numeric), list(spec.categorical)
    for col in df.columns:
        if col in reserved or col in numeric or col in categorical:
            continue
        if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
            numeric.append(col)
        else:
            categorical.append(col)
    return spec.model_copy(update={"numeric": numeric, "categorical": categorical, "infer_types": False})


logger = logging.getLogger(__name__)


@dataclass
class Cohort:
    """A validated cohort.

    Attributes:
        spec: the column roles.
        covariates: patients x covariates, indexed by patient id (str); numeric columns float, categorical
            columns as strings (missing values kept as NaN).
        time, event: survival outcome (float days/months..., bool), or None.
        response: binary response (0/1 int), or None.
        treatment: received arm per patient (str, index = patient id), or None.
        blocks: further modality blocks (genomic, imaging, longitudinal...) keyed by patient id.
        split: optional predefined split label per patient (e.g. "train"/"test" of a published benchmark).
    """

    spec: CohortSpec
    covariates: pd.DataFrame
    time: np.ndarray | None = None
    event: np.ndarray | None = None
    response: np.ndarray | None = None
    treatment: pd.Series | None = None
    blocks: dict[str, pd.DataFrame] = field(default_factory=dict)
    split: pd.Series | None = None

    @classmethod
    def from_frame(cls, df: pd.DataFrame, spec: CohortSpec, source: str = "the cohort table") -> Cohort:
        """Validate ``df`` under ``spec`` and build a cohort (a :class:`CohortError` lists all problems)."""
        if spec.infer_types:
            spec = _infer_types(df, spec)
        check_table(df, spec, source=source)
        df = df.reset_index(drop=True)
        ids = df[spec.id_column].astype(str)
        columns: dict[str, object] = {}
        for col in spec.numeric:
            columns[col] = pd.to_numeric(df[col], errors="coerce").astype(float).to_numpy()
        for col in spec.categorical:
            values = df[col].astype(object)
            columns[col] = np.array([v if pd.isna(v) else str(v) for v in values], dtype=object)
        # one constructor call: column-by-column insertion fragments wide (gene-expression) frames
        cov = pd.DataFrame(columns, index=pd.Index(ids, name="patient_id"))
        time = event = response = treatment = None
        if spec.time_column is not None:
            time = pd.to_numeric(df[spec.time_column]).astype(float).to_numpy()
            event = pd.to_numeric(df[spec.event_column].astype(int)).to_numpy().astype(bool)
        if spec.response_column is not None:
            response = pd.to_numeric(df[spec.response_column].astype(int)).to_numpy().astype(int)
        if spec.treatment_column is not None:
            treatment = pd.Series(
                df[spec.treatment_column].astype(str).to_numpy(), index=cov.index, name=TREATMENT_FEATURE
            )
            if spec.arms is None:
                spec = spec.model_copy(update={"arms": sorted(treatment.unique().tolist())})
        cohort = cls(
            spec=spec, covariates=cov, time=time, event=event, response=response, treatment=treatment
        )
        repeated = int(cohort.repeated_rows().sum())
        if repeated:  # counts only: no patient data in logs
            logger.warning(
                "%s: %d of %d rows repeat an earlier row's covariates, treatment and outcome exactly; "
                "random cross-validation folds will then score memorisation (drop the copies or keep them "
                "in one fold)",
                source,
                repeated,
                cohort.n_patients,
            )
        return cohort

    # ------------------------------------------------------------------ views
    def repeated_rows(self) -> np.ndarray:
        """Mask of patients whose covariates, treatment and outcome all equal an earlier patient's (the
        first occurrence is not marked). Such copies under new ids (deepsurv:whas repeats 903 of 1,638 rows)
        leak between cross-validation folds.

        Example:
            >>> import pandas as pd
            >>> from oncoplan.data.spec import CohortSpec
            >>> spec = CohortSpec(id_column="id", time_column="t", event_column="e", numeric=["age"])
            >>> df = pd.DataFrame({"id": [1, 2, 3], "t": [5.0, 5.0, 2.0], "e": [1, 1, 0]})
            >>> Cohort.from_frame(df.assign(age=[50, 50, 60]), spec).repeated_rows().tolist()
            [False, True, False]
        """
        frame = self._record_frame()
        return frame.duplicated().to_numpy()

    def copies_in(self, other: Cohort) -> np.ndarray:
        """Mask of this cohort's patients whose covariates, treatment and outcome equal some patient's of
        ``other`` (e.g. test patients with an exact copy among the training patients).

        Example:
            >>> import pandas as pd
            >>> from oncoplan.data.spec import CohortSpec
            >>> spec = CohortSpec(id_column="id", time_column="t", event_column="e", numeric=["age"])
            >>> df = pd.DataFrame({"id": [1, 2, 3], "t": [5.0, 5.0, 2.0], "e": [1, 1, 0]})
            >>> c = Cohort.from_frame(df.assign(age=[50, 50, 60]), spec)
            >>> c.subset([1, 2]).copies_in(c.subset([0])).tolist()
            [True, False]
        """
        mine, theirs = self._record_frame(), other._record_frame()
        if list(mine.columns) != list(theirs.columns):
            return np.zeros(self.n_patients, dtype=bool)
        keys = set(map(tuple, theirs.astype(object).itertuples(index=False)))
        return np.array([tuple(r) in keys for r in mine.astype(object).itertuples(index=False)], dtype=bool)

    def _record_frame(self) -> pd.DataFrame:
        """Covariates, treatment and outcome of every patient, without the ids."""
        frame = self.features(include_treatment=True).reset_index(drop=True)
        outcome = {"_time": self.time, "_event": self.event, "_response": self.response}
        return frame.assign(**{k: v for k, v in outcome.items() if v is not None})

    @property
    def ids(self) -> pd.Index:
        """Patient ids (str)."""
        return self.covariates.index

    @property
    def n_patients(self) -> int:
        return len(self.covariates)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def arms(self) -> list[str] | None:
        """Treatment arms in declared order (first = reference), or None without a treatment."""
        return None if self.treatment is None else list(self.spec.arms or [])

    @property
    def has_survival(self) -> bool:
        return self.time is not None

    @property
    def y(self) -> np.ndarray:
        """Survival target as a scikit-survival structured array (fields ``event``, ``time``)."""
        if self.time is None:
            raise CohortError(f"cohort {self.name!r} has no survival outcome (time/event columns)")
        return Surv.from_arrays(event=self.event, time=self.time)

    def features(self, include_treatment: bool = True) -> pd.DataFrame:
        """Covariates (and the received arm as a categorical column ``treatment``) for a model."""
        frame = self.covariates.copy()
        if include_treatment and self.treatment is not None:
            frame[TREATMENT_FEATURE] = self.treatment.to_numpy()
        return frame

    def feature_types(self, include_treatment: bool = True) -> tuple[list[str], list[str]]:
        """(numeric, categorical) column names of :meth:`features`."""
        cat = list(self.spec.categorical)
        if include_treatment and self.treatment is not None:
            cat.append(TREATMENT_FEATURE)
        return list(self.spec.numeric), cat

    def subset(self, rows: np.ndarray | list[int]) -> Cohort:
        """The cohort restricted to positional ``rows`` (blocks keep only those patients)."""
        rows = np.asarray(rows)
        cov = self.covariates.iloc[rows]
        ids = cov.index
        return replace(
            self,
            covariates=cov,
            time=None if self.time is None else self.time[rows],
            event=None if self.event is None else self.event[rows],
            response=None if self.response is None else self.response[rows],
            treatment=None if self.treatment is None else self.treatment.iloc[rows],
            blocks={k: b.loc[b.index.intersection(ids)] for k, b in self.blocks.items()},
            split=None if self.split is None else self.split.iloc[rows],
        )

    def add_block(self, name: str, block: pd.DataFrame) -> None:
        """Attach a modality block (rows indexed by patient id). Unknown ids are an error."""
        index = block.index.astype(str)
        unknown = index.difference(self.ids)
        if len(unknown):
            raise CohortError(
                f"block {name!r} has {len(unknown)} patient ids not in cohort {self.name!r}, e.g. "
                f"{list(unknown[:3])}"
            )
        if index.duplicated().any():
            raise CohortError(
                f"block {name!r} has duplicate patient ids, e.g. {list(index[index.duplicated()][:3])}"
            )
        self.blocks[name] = block.set_axis(index, axis=0)

    def data_hash(self) -> str:
        """SHA-256 of the cohort's covariates, outcome and treatment (stable across runs)."""
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(self.covariates.astype(str), index=True).to_numpy().tobytes())
        for arr in (self.time, self.event, self.response):
            if arr is not None:
                h.update(np.ascontiguousarray(arr).tobytes())
        if self.treatment is not None:
            h.update("|".join(self.treatment.tolist()).encode())
        return h.hexdigest()

    def summary(self) -> dict[str, object]:
        """A short, JSON-serialisable description of the cohort."""
        out: dict[str, object] = {
            "name": self.name,
            "patients": self.n_patients,
            "numeric": len(self.spec.numeric),
            "categorical": len(self.spec.categorical),
            "outcome": self.spec.outcome_kind,
        }
        if self.time is not None:
            out["events"] = int(self.event.sum())
            out["median_follow_up"] = float(np.median(self.time))
            out["time_unit"] = self.spec.time_unit
        if self.treatment is not None:
            out["arms"] = {arm: int((self.treatment == arm).sum()) for arm in self.arms or []}
        if self.blocks:
            out["blocks"] = {k: list(b.shape) for k, b in self.blocks.items()}
        repeated = int(self.repeated_rows().sum())
        if repeated:
            out["repeated_rows"] = repeated
        return out
