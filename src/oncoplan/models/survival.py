"""Deep survival estimator with the scikit-survival contract.

``DeepSurvival`` trains a :class:`~oncoplan.models.encoders.tabular.TabularSurvivalNet` with a survival
head (Cox partial likelihood + Breslow baseline by default), early stopping on an inner validation split,
weight decay, dropout, and an optional deep ensemble of ``n_ensemble`` seeds whose spread is the model's
uncertainty. Inputs are numeric matrices (use :func:`~oncoplan.models.pipeline.make_survival_pipeline`
for raw cohort tables).

Example:
    >>> from sksurv.datasets import load_whas500
    >>> from sksurv.column import encode_categorical
    >>> X, y = load_whas500()
    >>> X = encode_categorical(X).to_numpy(dtype=float)
    >>> model = DeepSurvival(max_epochs=5, random_state=0).fit(X, y)
    >>> model.predict_survival_function(X[:2], return_array=True).shape[0]
    2
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_array, check_is_fitted
from sksurv.base import SurvivalAnalysisMixin
from sksurv.functions import StepFunction
from sksurv.util import check_array_survival

from oncoplan.errors import ModelError
from oncoplan.models.adapters import make_adapter
from oncoplan.models.encoders.tabular import TabularSurvivalNet
from oncoplan.train.loop import TrainConfig, TrainResult, fit_module, resolve_device

logger = logging.getLogger(__name__)


class DeepSurvival(SurvivalAnalysisMixin, BaseEstimator):
    """Deep survival model (scikit-survival API).

    Args:
        head: survival head (``"cox"``; more in :data:`oncoplan.models.adapters.HEADS`).
        hidden: hidden layer widths of the MLP.
        dropout, norm, linear_skip: network settings (``linear_skip`` adds a linear path).
        lr, weight_decay, batch_size, max_epochs, patience: optimisation (``batch_size=None`` = full batch).
        validation_fraction: share of training rows held out for early stopping (stratified on event).
        n_ensemble: number of independently seeded members; predictions average them.
        random_state: seed; the same seed gives bit-identical predictions on CPU.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        head_options: extra keyword arguments for the head adapter.
    """

    def __init__(
        self,
        head: str = "cox",
        hidden: tuple[int, ...] = (32, 32),
        dropout: float = 0.1,
        norm: str = "batch",
        linear_skip: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int | None = 256,
        max_epochs: int = 200,
        patience: int = 20,
        validation_fraction: float = 0.15,
        n_ensemble: int = 1,
        random_state: int = 0,
        device: str = "auto",
        head_options: dict | None = None,
    ) -> None:
        self.head = head
        self.hidden = hidden
        self.dropout = dropout
        self.norm = norm
        self.linear_skip = linear_skip
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_ensemble = n_ensemble
        self.random_state = random_state
        self.device = device
        self.head_options = head_options

    # ------------------------------------------------------------------ building blocks
    def _new_network(self, seed: int) -> TabularSurvivalNet:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return TabularSurvivalNet(
                self.n_features_in_,
                self.adapter_.n_outputs,
                tuple(self.hidden),
                self.dropout,
                self.norm,
                self.linear_skip,
            )

    def _train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            lr=self.lr,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=seed,
            device=self.device,
        )

    def _inner_split(self, event: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(len(event))
        n_val = int(round(self.validation_fraction * len(event)))
        if self.validation_fraction <= 0 or n_val < 2 or event.sum() < 4:
            return rows, rows[:0]
        return train_test_split(
            rows, test_size=self.validation_fraction, random_state=seed, stratify=event.astype(int)
        )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        progress: Callable[[int, int, float, float | None], None] | None = None,
    ) -> DeepSurvival:
        """Fit on numeric ``X`` (n, d) and a structured survival array ``y``."""
        X = check_array(X, dtype=np.float64, ensure_all_finite=True)
        try:
            event, time = check_array_survival(X, y)
        except ValueError as exc:
            if "censored" in str(exc):
                raise ModelError(
                    "no events in the training data: a survival model cannot be fitted"
                ) from None
            raise ModelError(
                f"invalid survival target: {exc}", hint="use sksurv.util.Surv.from_arrays(event, time)"
            ) from None
        event = np.ascontiguousarray(event, dtype=bool)
        time = np.ascontiguousarray(time, dtype=np.float64)
        if event.sum() == 0:
            raise ModelError("no events in the training data: a survival model cannot be fitted")
        self.n_features_in_ = X.shape[1]
        self.adapter_ = make_adapter(self.head, **(self.head_options or {}))
        self.adapter_.prepare(time, event)
        self.networks_: list[TabularSurvivalNet] = []
        self.histories_: list[TrainResult] = []
        x_all = torch.as_tensor(X, dtype=torch.float32)
        for member in range(self.n_ensemble):
            seed = int(self.random_state) + 1000 * member
            train_rows, val_rows = self._inner_split(event, seed)
            net = self._new_network(seed)
            targets = self.adapter_.targets(time, event)
            history = fit_module(
                net,
                self.adapter_.loss,
                x_all[train_rows],
                {k: v[train_rows] for k, v in targets.items()},
                x_all[val_rows] if len(val_rows) else None,
                {k: v[val_rows] for k, v in targets.items()} if len(val_rows) else None,
                config=self._train_config(seed),
                progress=progress,
            )
            net.to("cpu")
            self.networks_.append(net)
            self.histories_.append(history)
        outputs = self._member_outputs(X)
        self.adapter_.finalize(outputs.mean(axis=0), time, event)
        self.unique_times_ = np.unique(time[event])
        self.event_times_ = self.unique_times_
        return self

    # ------------------------------------------------------------------ predict
    def _member_outputs(self, X: np.ndarray) -> np.ndarray:
        """Network outputs of every member: (n_members, n, n_outputs)."""
        x = torch.as_tensor(X, dtype=torch.float32)
        outs = []
        for net in self.networks_:
            net.eval()
            with torch.no_grad():
                outs.append(net(x).numpy().astype(np.float64))
        return np.stack(outs)

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "networks_")
        X = check_array(X, dtype=np.float64, ensure_all_finite=True)
        if X.shape[1] != self.n_features_in_:
            raise ModelError(
                f"X has {X.shape[1]} features but the model was trained on {self.n_features_in_}"
            )
        return X

    def member_survival(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Survival curves of each ensemble member: (n_members, n, len(times)) on ``times``.

        For the Cox head the members share the Breslow baseline of the averaged log-risk, refitted per member.
        """
        X = self._check_X(X)
        times = self.unique_times_ if times is None else np.asarray(times, dtype=float)
        outputs = self._member_outputs(X)
        return np.stack([self.adapter_.survival(o, times) for o in outputs])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Risk scores (higher = worse prognosis)."""
        X = self._check_X(X)
        outputs = self._member_outputs(X).mean(axis=0)
        if hasattr(self.adapter_, "risk"):
            return self.adapter_.risk(outputs)
        surv = self.adapter_.survival(outputs, self.unique_times_)
        return -np.trapezoid(surv, self.unique_times_, axis=1)

    def predict_survival_function(self, X: np.ndarray, return_array: bool = False):
        """Survival S(t | x) on ``unique_times_`` (array) or as scikit-survival StepFunctions."""
        X = self._check_X(X)
        surv = self.adapter_.survival(self._member_outputs(X).mean(axis=0), self.unique_times_)
        if return_array:
            return surv
        return np.array([StepFunction(self.unique_times_, s) for s in surv])

    def predict_cumulative_hazard_function(self, X: np.ndarray, return_array: bool = False):
        """Cumulative hazard -log S(t | x) on ``unique_times_``."""
        surv = self.predict_survival_function(X, return_array=True)
        chf = -np.log(np.clip(surv, 1e-12, 1.0))
        if return_array:
            return chf
        return np.array([StepFunction(self.unique_times_, c) for c in chf])

    @property
    def device_(self) -> str:
        return str(resolve_device(self.device))

    # ------------------------------------------------------------------ persistence (no pickles)
    def export_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """(JSON-serialisable state, named tensors) of the fitted model, for safetensors + JSON bundles."""
        check_is_fitted(self, "networks_")
        params = self.get_params()
        params["hidden"] = list(params["hidden"])
        state = {
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "unique_times": self.unique_times_.tolist(),
            "head_state": self.adapter_.state(),
            "n_members": len(self.networks_),
            "best_epochs": [h.best_epoch for h in self.histories_],
        }
        tensors = {
            f"member{k}.{name}": t.detach().cpu().contiguous()
            for k, net in enumerate(self.networks_)
            for name, t in net.state_dict().items()
        }
        return state, tensors

    @classmethod
    def from_exported_state(cls, state: dict, tensors: dict[str, torch.Tensor]) -> DeepSurvival:
        """Rebuild a fitted model from :meth:`export_state` output."""
        params = dict(state["params"])
        params["hidden"] = tuple(params["hidden"])
        model = cls(**params)
        model.n_features_in_ = int(state["n_features_in"])
        model.unique_times_ = np.asarray(state["unique_times"], dtype=float)
        model.event_times_ = model.unique_times_
        model.adapter_ = make_adapter(model.head, **(model.head_options or {}))
        model.adapter_.load_state(state["head_state"])
        model.histories_ = []
        model.networks_ = []
        for k in range(int(state["n_members"])):
            net = model._new_network(int(model.random_state) + 1000 * k)
            prefix = f"member{k}."
            net.load_state_dict({n[len(prefix) :]: t for n, t in tensors.items() if n.startswith(prefix)})
            net.eval()
            model.networks_.append(net)
        return model
