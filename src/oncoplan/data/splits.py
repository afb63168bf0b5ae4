"""Seeded, reproducible splits: stratified k-fold and holdout, written to / read from JSON.

Folds are stratified on the event indicator (or binary response) and, when the cohort has a
treatment, on event x arm. A split file stores patient ids, so any result can be reproduced.

Example:
    >>> from oncoplan.data import load_cohort
    >>> cohort = load_cohort("survset:colon")  # doctest: +SKIP
    >>> folds = kfold_split(cohort, n_splits=5, seed=0)  # doctest: +SKIP
    >>> len(folds.folds)  # doctest: +SKIP
    5
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from oncoplan.data.cohort import Cohort
from oncoplan.errors import CohortError, ConfigError


def stratification_labels(cohort: Cohort) -> np.ndarray:
    """Labels to stratify on: event (or response), crossed with the arm when a treatment exists."""
    if cohort.event is not None:
        base = cohort.event.astype(int).astype(str)
    elif cohort.response is not None:
        base = cohort.response.astype(str)
    else:
        base = np.zeros(cohort.n_patients, dtype=int).astype(str)
    if cohort.treatment is not None:
        labels = np.char.add(np.char.add(base, "|"), cohort.treatment.to_numpy().astype(str))
        _, counts = np.unique(labels, return_counts=True)
        if counts.min() >= 2:
            return labels
    return base


@dataclass
class Split:
    """A named split: ``parts`` maps a part name (train/val/test or fold_k) to positional rows."""

    kind: str
    seed: int
    patient_ids: list[str]
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def to_json(self, path: str | Path) -> None:
        """Write the split (patient ids per part/fold) to ``path``."""
        ids = np.asarray(self.patient_ids)
        payload = {
            "kind": self.kind,
            "seed": self.seed,
            "parts": {k: ids[v].tolist() for k, v in self.parts.items()},
            "folds": [{"train": ids[tr].tolist(), "test": ids[te].tolist()} for tr, te in self.folds],
        }
        Path(path).write_text(json.dumps(payload, indent=1), encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path, cohort: Cohort) -> Split:
        """Read a split written by :meth:`to_json` and map its ids back onto ``cohort``'s rows."""
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        position = {pid: i for i, pid in enumerate(cohort.ids)}

        def rows(ids: list[str]) -> np.ndarray:
            missing = [i for i in ids if i not in position]
            if missing:
                raise CohortError(
                    f"split file {path} names {len(missing)} patients not in the cohort, e.g. {missing[:3]}"
                )
            return np.array([position[i] for i in ids], dtype=int)

        return cls(
            kind=payload["kind"],
            seed=payload["seed"],
            patient_ids=list(cohort.ids),
            parts={k: rows(v) for k, v in payload["parts"].items()},
            folds=[(rows(f["train"]), rows(f["test"])) for f in payload["folds"]],
        )


def kfold_split(cohort: Cohort, n_splits: int = 5, seed: int = 0) -> Split:
    """Stratified k-fold split of the cohort's patients."""
    labels = stratification_labels(cohort)
    _, counts = np.unique(labels, return_counts=True)
    if counts.min() < n_splits:
        labels = cohort.event.astype(int) if cohort.event is not None else np.zeros(cohort.n_patients)
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = list(skf.split(np.zeros(cohort.n_patients), labels))
    return Split(kind=f"{n_splits}-fold", seed=seed, patient_ids=list(cohort.ids), folds=folds)


def holdout_split(cohort: Cohort, fractions: tuple[float, ...] = (0.7, 0.15, 0.15), seed: int = 0) -> Split:
    """Stratified holdout: (train, val, test) for three fractions or (train, test) for two."""
    if len(fractions) not in (2, 3) or not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ConfigError(f"holdout fractions must be 2 or 3 positive numbers summing to 1, got {fractions}")
    labels = stratification_labels(cohort)
    rows = np.arange(cohort.n_patients)
    train, rest = train_test_split(rows, test_size=1 - fractions[0], random_state=seed, stratify=labels)
    parts = {"train": np.sort(train)}
    if len(fractions) == 2:
        parts["test"] = np.sort(rest)
    else:
        share = fractions[2] / (fractions[1] + fractions[2])
        val, test = train_test_split(rest, test_size=share, random_state=seed, stratify=labels[rest])
        parts["val"], parts["test"] = np.sort(val), np.sort(test)
    name = "holdout-" + "/".join(str(round(f * 100)) for f in fractions)
    return Split(kind=name, seed=seed, patient_ids=list(cohort.ids), parts=parts)
