"""Model bundles on disk: weights (safetensors), preprocessing (skops), spec and metadata (JSON).

Loading never unpickles: weights are safetensors, the preprocessor is read with skops against an
allow-list of types, everything else is JSON. A loaded bundle gives identical predictions.

Layout of a bundle folder::

    model.json          estimator kind + fitted state (JSON)
    weights.safetensors network weights of every ensemble member
    preprocessor.skops  fitted TabularPreprocessor
    spec.json           cohort spec the model was trained with
    metadata.json       versions, data hash, seed, git commit, creation time, metrics

Example:
    >>> bundle = ModelBundle.load("oncoplan-demo/model")  # doctest: +SKIP
    >>> bundle.predict_risk(frame)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from safetensors.torch import load_file, save_file

from oncoplan.data.cohort import TREATMENT_FEATURE, Cohort
from oncoplan.data.spec import CohortSpec
from oncoplan.errors import CohortError, ModelError
from oncoplan.models.effects import TreatmentEffectNet
from oncoplan.models.survival import DeepSurvival
from oncoplan.preprocess.tabular import TabularPreprocessor

BUNDLE_FORMAT = "oncoplan-bundle/1"

#: estimator kinds a bundle may hold (explicit registry, no import side effects).
ESTIMATORS: dict[str, type] = {"DeepSurvival": DeepSurvival, "TreatmentEffectNet": TreatmentEffectNet}

#: types skops may rebuild when loading a preprocessor; anything else is refused.
TRUSTED_SKOPS_TYPES = [
    "oncoplan.preprocess.tabular.TabularPreprocessor",
    "numpy.dtype",
]

PACKAGES = ("oncoplan", "torch", "numpy", "pandas", "scikit-learn", "scikit-survival", "lifelines", "scipy")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a model depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str | None:
    """The git commit of the oncoplan source tree, when it is a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass
class ModelBundle:
    """A trained model with everything needed to use it on new patients.

    Attributes:
        estimator: the fitted estimator (numeric inputs).
        preprocessor: the fitted preprocessing of raw covariates.
        spec: the cohort spec of the training data.
        include_treatment: whether the received arm is a model input.
        metadata: provenance (versions, data hash, seed, git commit, metrics...).
    """

    estimator: DeepSurvival
    preprocessor: TabularPreprocessor
    spec: CohortSpec
    include_treatment: bool = True
    metadata: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ inputs
    @property
    def arms(self) -> list[str] | None:
        return self.spec.arms if self.include_treatment else None

    def design_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Preprocess a raw covariate table (columns as in the training cohort)."""
        if self.include_treatment and TREATMENT_FEATURE not in frame.columns:
            raise CohortError(
                f"column {TREATMENT_FEATURE!r} (the treatment arm) is required by this model",
                hint=f"give one of {self.spec.arms}; oncoplan never fills in a treatment",
            )
        return self.preprocessor.transform(frame)

    def frame_from_cohort(self, cohort: Cohort) -> pd.DataFrame:
        return cohort.features(include_treatment=self.include_treatment)

    def frame_from_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """Select and rename the model's input columns from a raw patient table."""
        frame = table.copy()
        if self.spec.id_column in frame.columns:
            frame = frame.set_index(frame[self.spec.id_column].astype(str))
        if self.include_treatment and self.spec.treatment_column in frame.columns:
            frame = frame.rename(columns={self.spec.treatment_column: TREATMENT_FEATURE})
        return frame

    # ------------------------------------------------------------------ predictions
    def predict_risk(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict(self.design_matrix(frame))

    def predict_survival(self, frame: pd.DataFrame, times: np.ndarray | None = None) -> np.ndarray:
        """Survival probabilities (n, len(times)); ``times`` defaults to the model's event times."""
        times = self.estimator.unique_times_ if times is None else np.asarray(times, dtype=float)
        return self.estimator.member_survival(self.design_matrix(frame), times).mean(axis=0)

    # ------------------------------------------------------------------ disk
    def save(self, folder: str | Path) -> Path:
        """Write the bundle to ``folder`` (created if needed) and return it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state, tensors = self.estimator.export_state()
        kind = type(self.estimator).__name__
        if kind not in ESTIMATORS:
            raise ModelError(f"estimator {kind} cannot be saved in a bundle")
        model_json = {
            "format": BUNDLE_FORMAT,
            "estimator": kind,
            "state": state,
            "include_treatment": self.include_treatment,
        }
        (folder / "model.json").write_text(json.dumps(model_json), encoding="utf-8")
        save_file(tensors, str(folder / "weights.safetensors"))
        sio.dump(self.preprocessor, folder / "preprocessor.skops")
        (folder / "spec.json").write_text(self.spec.model_dump_json(indent=1), encoding="utf-8")
        meta = {
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": package_versions(),
            "git_commit": git_commit(),
            **self.metadata,
        }
        (folder / "metadata.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        """Read a bundle written by :meth:`save` (never executes pickled code)."""
        folder = Path(folder)
        needed = ["model.json", "weights.safetensors", "preprocessor.skops", "spec.json"]
        missing = [n for n in needed if not (folder / n).exists()]
        if not folder.is_dir() or missing:
            raise ModelError(
                f"{folder} is not an oncoplan model bundle"
                + (f" (missing {', '.join(missing)})" if folder.is_dir() else ""),
                hint="train one with `oncoplan train COHORT --out FOLDER`",
            )
        try:
            model_json = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{folder / 'model.json'} is not valid JSON: {exc}") from None
        if model_json.get("format") != BUNDLE_FORMAT:
            raise ModelError(f"unsupported bundle format {model_json.get('format')!r} in {folder}")
        kind = model_json["estimator"]
        if kind not in ESTIMATORS:
            raise ModelError(f"bundle {folder} holds an unknown estimator kind {kind!r}")
        estimator = ESTIMATORS[kind].from_exported_state(
            model_json["state"], load_file(str(folder / "weights.safetensors"))
        )
        untrusted = sio.get_untrusted_types(file=folder / "preprocessor.skops")
        refused = sorted(set(untrusted) - set(TRUSTED_SKOPS_TYPES))
        if refused:
            raise ModelError(
                f"refusing to load {folder / 'preprocessor.skops'}: it contains untrusted types {refused}"
            )
        preprocessor = sio.load(folder / "preprocessor.skops", trusted=untrusted)
        if not isinstance(preprocessor, TabularPreprocessor):
            raise ModelError(f"{folder / 'preprocessor.skops'} does not hold a TabularPreprocessor")
        spec = CohortSpec.model_validate_json((folder / "spec.json").read_text(encoding="utf-8"))
        meta_path = folder / "metadata.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        return cls(
            estimator=estimator,
            preprocessor=preprocessor,
            spec=spec,
            include_treatment=bool(model_json.get("include_treatment", True)),
            metadata=meta,
        )
