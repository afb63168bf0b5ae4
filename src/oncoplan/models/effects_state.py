"""Saving and restoring a fitted :class:`~oncoplan.models.effects.TreatmentEffectNet` without pickles.

``export_state`` gives a JSON-serialisable dict and named tensors (safetensors in bundles);
``from_exported_state`` rebuilds the estimator, with identical predictions.

Example:
    >>> from oncoplan.models.effects import TreatmentEffectNet
    >>> hasattr(TreatmentEffectNet, "from_exported_state")
    True
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from oncoplan.models.ensemble_state import ensemble_tensors, load_member
from oncoplan.models.time_grid import TimeGrid


class EffectStateMixin:
    """``export_state`` / ``from_exported_state`` of the treatment-effect estimator."""

    def export_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """(JSON-serialisable state, named tensors) for safetensors + JSON bundles."""
        check_is_fitted(self, "networks_")
        params = self.get_params()
        params["hidden"] = list(params["hidden"])
        params["head_hidden"] = list(params["head_hidden"])
        state = {
            "params": params,
            "arms": list(self.arms_),
            "n_features_in": int(self.n_features_in_),
            "grid": None if self.grid_ is None else self.grid_.to_dict(),
            "times": None if self.outcome != "survival" else self.times_.tolist(),
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "ood_location": self.ood_location_.tolist(),
            "ood_precision": self.ood_precision_.tolist(),
            "ood_threshold": self.ood_threshold_,
            "n_members": len(self.networks_),
            "best_epochs": [h.best_epoch for h in self.histories_],
            "anchor_powers": None if self.anchor_powers_ is None else self.anchor_powers_.tolist(),
        }
        return state, ensemble_tensors(self.networks_)

    @classmethod
    def from_exported_state(cls, state: dict, tensors: dict[str, torch.Tensor]) -> EffectStateMixin:
        """Rebuild a fitted model from :meth:`export_state` output."""
        params = dict(state["params"])
        params["hidden"] = tuple(params["hidden"])
        params["head_hidden"] = tuple(params["head_hidden"])
        model = cls(**params)
        model.arms_ = list(state["arms"])
        model.n_features_in_ = int(state["n_features_in"])
        model.grid_ = None if state["grid"] is None else TimeGrid.from_dict(state["grid"])
        if state["times"] is not None:
            model.times_ = np.asarray(state["times"], dtype=float)
        model.y_mean_, model.y_std_ = float(state["y_mean"]), float(state["y_std"])
        model.ood_location_ = np.asarray(state["ood_location"], dtype=float)
        model.ood_precision_ = np.asarray(state["ood_precision"], dtype=float)
        model.ood_threshold_ = float(state["ood_threshold"])
        powers = state.get("anchor_powers")
        model.anchor_powers_ = None if powers is None else np.asarray(powers, dtype=float)
        model.anchored_ = powers is not None
        model.ipw_weights_ = None
        model.histories_ = []
        model.networks_ = []
        for k in range(int(state["n_members"])):
            net = model._new_network(model._member_seed(k))
            load_member(net, tensors, k)
            model.networks_.append(net)
        return model
