"""A model card (Mitchell et al. 2019, "Model Cards for Model Reporting") built from a bundle's metadata.

Sections: model details (kind, version, creation date, code commit, seed), intended use and users,
out-of-scope uses, training data (cohort, size, events, data fingerprint), inputs, headline metrics,
and limitations. Limitations combine fixed caveats with ones found in the evaluation (e.g. apparent
rather than held-out performance, small test set, subgroups too small to judge).

Example:
    >>> from oncoplan.store.bundle import ModelBundle
    >>> card = model_card(ModelBundle.load("oncoplan-demo/model"))  # doctest: +SKIP
    >>> card.training_data["patients"]  # doctest: +SKIP
    790
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from oncoplan.store.bundle import ModelBundle

logger = logging.getLogger(__name__)

INTENDED_USE = (
    "Research and decision support for a multidisciplinary tumor board: estimates of a patient's survival "
    "curve and, when the model uses the treatment as an input, of how the curve may differ between the "
    "treatment arms seen in training. Every estimate must be read with its uncertainty and next to clinical "
    "judgement."
)
USERS = "Oncologists, clinical researchers and biostatisticians reviewing the model before or during use."
OUT_OF_SCOPE = [
    "Autonomous treatment decisions, or any use without review by a qualified clinician.",
    "Patients unlike the training cohort (other disease, stage, era, treatments or care setting).",
    "Treatments that were not an arm in the training data; the model never extrapolates to new drugs.",
    "This software is not a certified medical device.",
]
BASE_LIMITATIONS = [
    "Trained on one cohort; performance in other hospitals or populations is unknown until validated "
    "externally.",
    "Treatment effects estimated from observational data assume no unmeasured confounding; in a randomized "
    "trial they are protected by randomization only for the trial population.",
    "Predictions beyond the longest follow-up of the training data are extrapolations.",
]


@dataclass
class ModelCard:
    """The card's content as plain data (rendered by the report template; ``to_markdown`` for text)."""

    title: str
    details: dict[str, str]
    intended_use: str
    users: str
    out_of_scope: list[str]
    training_data: dict[str, str]
    inputs: list[str]
    metrics: dict[str, str] = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        """The card as Markdown.

        Example:
            >>> ModelCard("m", {}, "use", "users", [], {}, []).to_markdown().splitlines()[0]
            '# Model card: m'
        """
        lines = [f"# Model card: {self.title}", "", "## Model details"]
        lines += [f"- {k}: {v}" for k, v in self.details.items()]
        lines += ["", "## Intended use", self.intended_use, "", f"Intended users: {self.users}", ""]
        lines += ["## Out of scope"] + [f"- {x}" for x in self.out_of_scope]
        lines += ["", "## Training data"] + [f"- {k}: {v}" for k, v in self.training_data.items()]
        lines += ["", "## Inputs", ", ".join(self.inputs)]
        if self.metrics:
            lines += ["", "## Metrics"] + [f"- {k}: {v}" for k, v in self.metrics.items()]
        lines += ["", "## Limitations"] + [f"- {x}" for x in self.limitations]
        return "\n".join(lines) + "\n"


def _model_details(bundle: ModelBundle) -> dict[str, str]:
    meta = bundle.metadata
    est = bundle.estimator
    params = est.get_params() if hasattr(est, "get_params") else {}
    versions = meta.get("versions", {})
    details = {
        "Model": f"{type(est).__name__} (deep survival network, {params.get('head', 'cox')} head)",
        "Architecture": (
            f"hidden layers {params.get('hidden')}, dropout {params.get('dropout')}, "
            f"weight decay {params.get('weight_decay')}, ensemble of {params.get('n_ensemble', 1)}"
        ),
        "oncoplan version": str(versions.get("oncoplan", "unknown")),
        "Created": str(meta.get("created", "unknown")),
        "Code commit": str(meta.get("git_commit") or "unknown"),
        "Random seed": str(meta.get("seed", "unknown")),
        "Treatment as input": "yes" if bundle.include_treatment else "no",
        "Software": ", ".join(f"{k} {v}" for k, v in versions.items() if k != "oncoplan") or "unknown",
    }
    return details


def _training_data(bundle: ModelBundle) -> dict[str, str]:
    meta = bundle.metadata
    spec = bundle.spec
    out = {
        "Cohort": f"{meta.get('cohort', spec.name)}" + (f": {spec.description}" if spec.description else ""),
        "Patients": str(meta.get("train_patients", "unknown")),
        "Events": str(meta.get("train_events", "unknown")),
        "Follow-up range": (
            f"{meta['time_range'][0]:g} to {meta['time_range'][1]:g} {spec.time_unit}"
            if "time_range" in meta
            else "unknown"
        ),
        "Data fingerprint (SHA-256)": str(meta.get("data_hash", "unknown"))[:16] + "...",
    }
    if spec.treatment_column and spec.arms:
        out["Treatment arms"] = ", ".join(spec.arms) + f" (reference: {spec.arms[0]})"
    if meta.get("split"):
        out["Split"] = str(meta["split"])
    return out


def model_card(
    bundle: ModelBundle,
    metrics: dict[str, str] | None = None,
    extra_limitations: Sequence[str] = (),
    title: str | None = None,
) -> ModelCard:
    """Build the card of ``bundle``; ``metrics`` (name -> formatted value) and limitations from the report."""
    spec = bundle.spec
    inputs = [*spec.numeric, *spec.categorical]
    if bundle.include_treatment:
        inputs.append(f"treatment arm ({spec.treatment_column})")
    return ModelCard(
        title=title or f"oncoplan survival model for {bundle.metadata.get('cohort', spec.name)}",
        details=_model_details(bundle),
        intended_use=INTENDED_USE,
        users=USERS,
        out_of_scope=list(OUT_OF_SCOPE),
        training_data=_training_data(bundle),
        inputs=inputs,
        metrics=dict(metrics or {}),
        limitations=[*extra_limitations, *BASE_LIMITATIONS],
    )
