"""Which patients the report judges the model on: the held-out test part of a split (else the training
patients, or an external cohort), without patients the model cannot score, and where a decision threshold may
be chosen (validation part, else training patients; never the test patients).

Example:
    >>> find_split_file("/no/such/folder") is None
    True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from oncoplan.data.cohort import Cohort
from oncoplan.data.splits import Split
from oncoplan.errors import CohortError, ConfigError
from oncoplan.preprocess.tabular import MISSING_CATEGORY
from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)


@dataclass
class EvaluationSet:
    """Which patients the model learned from (``train``) and is judged on (``test``).

    ``kind``: ``"holdout"`` (held-out patients of the training cohort), ``"apparent"`` (the training
    patients themselves: optimistic) or ``"external"`` (a cohort the model never saw).
    """

    train: Cohort
    test: Cohort
    kind: str
    note: str
    validation: Cohort | None = None


def find_split_file(model_folder: str | Path) -> Path | None:
    """``split.json`` next to a bundle (``oncoplan train --holdout``) or one level up (the demo's layout)."""
    folder = Path(model_folder)
    for candidate in (folder / "split.json", folder.parent / "split.json"):
        if candidate.exists():
            return candidate
    return None


def resolve_evaluation_set(bundle: ModelBundle, cohort: Cohort, split: Split | None) -> EvaluationSet:
    """Test on the split's ``test`` part when given; otherwise say whether the cohort is the training one."""
    same_data = bundle.metadata.get("data_hash") == cohort.data_hash()
    if split is not None:
        if "test" not in split.parts:
            raise ConfigError(
                f"the split ({split.kind}) has no 'test' part", hint="use a holdout split (train/val/test)"
            )
        test_rows = np.sort(split.parts["test"])
        train_rows = np.setdiff1d(np.arange(cohort.n_patients), test_rows)
        note = (
            f"Held-out test set: {len(test_rows)} patients of {cohort.name} that the model never saw during "
            f"training ({split.kind} split, seed {split.seed}); baselines were fitted on the other "
            f"{len(train_rows)} patients."
        )
        val = cohort.subset(np.sort(split.parts["val"])) if "val" in split.parts else None
        return EvaluationSet(cohort.subset(train_rows), cohort.subset(test_rows), "holdout", note, val)
    if same_data:
        note = (
            f"No held-out split was found: the model is evaluated on the {cohort.n_patients} patients it was "
            "trained on. These are apparent (optimistic) results; judge the model on held-out data."
        )
        return EvaluationSet(cohort, cohort, "apparent", note)
    note = (
        f"External validation: {cohort.name} ({cohort.n_patients} patients) differs from the training "
        f"data of the model ({bundle.metadata.get('cohort', 'unknown cohort')}); baselines would need the "
        "training patients and are not shown."
    )
    return EvaluationSet(cohort, cohort, "external", note)


def unscorable_patients(bundle: ModelBundle, cohort: Cohort) -> tuple[np.ndarray, str]:
    """Patients the model cannot score (a category never seen in training) and a sentence naming why.

    Returns ``(mask, reason)``; ``reason`` is "" when every patient can be scored. Such patients are left out
    of the evaluation (and said so in the report): the model never fills in or guesses an input.
    """
    frame = bundle.frame_from_cohort(cohort)
    check = getattr(bundle.preprocessor, "unseen_categories", None)
    unseen = check(frame) if check is not None else {}
    mask = np.zeros(cohort.n_patients, dtype=bool)
    parts = []
    for col, values in unseen.items():
        as_text = pd.Series([MISSING_CATEGORY if pd.isna(v) else str(v) for v in frame[col]])
        hit = as_text.isin(values).to_numpy()
        mask |= hit
        parts.append(f"{col} = {', '.join(map(str, values))} ({int(hit.sum())} patients)")
    reason = "; ".join(parts)
    return mask, reason


def drop_unscorable(bundle: ModelBundle, ev: EvaluationSet) -> tuple[EvaluationSet, int]:
    """The evaluation set without test patients the model cannot score, with the reason in its note."""
    val = ev.validation
    if val is not None:
        val_mask, _ = unscorable_patients(bundle, val)
        val = val.subset(np.flatnonzero(~val_mask)) if val_mask.any() else val
    mask, reason = unscorable_patients(bundle, ev.test)
    if not mask.any():
        return EvaluationSet(ev.train, ev.test, ev.kind, ev.note, val), 0
    keep = np.flatnonzero(~mask)
    if len(keep) == 0:
        raise CohortError(
            "the model cannot score any patient of this cohort: " + reason,
            hint="the cohort's categories differ from the model's training data; recode them",
        )
    test = ev.test.subset(keep)
    train = test if ev.train is ev.test else ev.train
    note = (
        f"{ev.note} {int(mask.sum())} test patients were left out because they have a category the model "
        f"never saw in training ({reason}); the model does not guess inputs."
    )
    logger.warning("report: %d test patients left out (unseen categories: %s)", int(mask.sum()), reason)
    return EvaluationSet(train, test, ev.kind, note, val), int(mask.sum())


def threshold_source(ev: EvaluationSet) -> tuple[Cohort | None, str]:
    """Patients to choose a decision threshold on: validation part, else training patients, else none."""
    if ev.kind != "holdout":
        return None, ""
    if ev.validation is not None and ev.validation.n_patients > 0:
        return ev.validation, "validation"
    return ev.train, "training"
