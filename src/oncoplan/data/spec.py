"""Cohort specification: which column is what, declared rather than guessed.

A spec is plain data (pydantic), read from YAML or TOML; it never executes code.

Example:
    >>> spec = CohortSpec(name="trial", id_column="pid", time_column="time", event_column="event",
    ...                   treatment_column="rx", categorical=["sex"], numeric=["age"])
    >>> spec.outcome_kind
    'survival'
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from oncoplan.errors import CohortError


class CohortSpec(BaseModel):
    """What each column of a cohort table means.

    Attributes:
        name: cohort name, used in outputs.
        id_column: column holding a stable, unique patient id.
        time_column / event_column: survival outcome (time >= 0, event 0/1).
        response_column: binary response outcome (0/1), instead of or beside survival.
        treatment_column: received treatment; ``arms`` lists its levels (first = reference).
        numeric / categorical: covariate columns and their type. Columns not listed are ignored,
            unless ``infer_types`` is true, where numbers become numeric and the rest categorical.
        min_arm_size: arms with fewer patients are a validation error.
        time_unit: unit of ``time_column`` (for reports).
        assignment: how patients came to their arm. ``"randomised"`` (a randomised trial): treatment-effect
            models anchor each arm's average to its Kaplan-Meier curve and policy values use the arm
            frequencies as propensities; ``"observational"``: always adjust for confounding;
            ``"unknown"`` (default): treated as randomised where the covariates do not predict the arm
            out of fold.
        path: optional data file (CSV / Parquet), relative to the spec file, so that a spec file alone
            names a whole cohort (``oncoplan train my_cohort.yaml``).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = "cohort"
    id_column: str = "id"
    time_column: str | None = None
    event_column: str | None = None
    response_column: str | None = None
    treatment_column: str | None = None
    arms: list[str] | None = None
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    infer_types: bool = False
    min_arm_size: int = 10
    time_unit: Literal["days", "months", "years", "weeks"] = "days"
    assignment: Literal["randomised", "observational", "unknown"] = "unknown"
    description: str = ""
    path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> CohortSpec:
        if (self.time_column is None) != (self.event_column is None):
            raise ValueError("time_column and event_column must be given together")
        if self.time_column is None and self.response_column is None:
            raise ValueError("give an outcome: time_column + event_column, or response_column")
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ValueError(f"columns declared both numeric and categorical: {sorted(both)}")
        reserved = {
            self.id_column,
            self.time_column,
            self.event_column,
            self.response_column,
            self.treatment_column,
        } - {None}
        clash = reserved & (set(self.numeric) | set(self.categorical))
        if clash:
            raise ValueError(f"outcome/id/treatment columns cannot also be covariates: {sorted(clash)}")
        return self

    @property
    def outcome_kind(self) -> Literal["survival", "binary"]:
        """``"survival"`` when time and event are given, else ``"binary"``."""
        return "survival" if self.time_column is not None else "binary"

    @property
    def covariates(self) -> list[str]:
        """Declared covariate columns, numeric first."""
        return [*self.numeric, *self.categorical]

    @classmethod
    def from_file(cls, path: str | Path) -> CohortSpec:
        """Read a spec from a ``.yaml``/``.yml`` or ``.toml`` file."""
        path = Path(path)
        if not path.exists():
            raise CohortError(f"cohort spec file {path} does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() == ".toml":
                raw = tomllib.loads(text)
            else:
                raw = yaml.safe_load(text)
        except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
            raise CohortError(f"cohort spec {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
        if not isinstance(raw, dict):
            raise CohortError(f"cohort spec {path} must be a mapping of keys to values")
        spec = cls.from_dict(raw, origin=str(path))
        if spec.path is not None and not Path(spec.path).is_absolute():
            spec = spec.model_copy(update={"path": str((path.parent / spec.path).resolve())})
        return spec

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "cohort spec") -> CohortSpec:
        """Build a spec from a mapping, turning pydantic errors into a :class:`CohortError`."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'spec'}: {err['msg']}" for err in exc.errors()
            )
            raise CohortError(f"{origin} is invalid: {problems}") from None
