"""Deep survival estimator with the scikit-survival contract.

``DeepSurvival`` trains a deep ensemble of :class:`~oncoplan.models.encoders.tabular.TabularSurvivalNet`
members. Each member has a survival head (``head="cox+logistic_hazard"`` alternates a Cox member and a
logistic-hazard member), its own seeded inner validation split for early stopping, weight decay, dropout
and normalisation, and starts from a fitted linear model (``linear_init``: the linear path is trained first,
then the MLP learns what the linear model lacks). Predictions average the members' survival curves; their
spread (:meth:`DeepSurvival.member_survival`) is the model's uncertainty. Inputs are standardised and, for
high-dimensional inputs, screened (univariate Cox) on training rows only. Inputs are numeric matrices (use
:func:`~oncoplan.models.pipeline.make_survival_pipeline` for raw cohort tables).

Example:
    >>> from sksurv.datasets import load_whas500
    >>> from sksurv.column import encode_categorical
    >>> X, y = load_whas500()
    >>> X = encode_categorical(X).to_numpy(dtype=float)
    >>> model = DeepSurvival(max_epochs=5, n_ensemble=2, random_state=0).fit(X, y)
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
from torch import nn

from oncoplan.errors import ConfigError, ModelError
from oncoplan.models.adapters import HEADS, HeadAdapter, make_adapter
from oncoplan.models.capacity import CAPACITIES, CapacityChoice
from oncoplan.models.encoders.numeric import PiecewiseLinearEncoding
from oncoplan.models.encoders.tabular import TabularSurvivalNet
from oncoplan.models.ensemble_state import ensemble_tensors, load_member
from oncoplan.models.survival_inputs import SurvivalInputs
from oncoplan.models.targets import survival_target
from oncoplan.train.loop import TrainConfig, TrainResult, fit_module, resolve_device

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, float, float | None], None]


class DeepSurvival(SurvivalInputs, CapacityChoice, SurvivalAnalysisMixin, BaseEstimator):
    """Deep survival model (scikit-survival API).

    Args:
        head: survival head, or several joined by ``+`` that the ensemble members cycle through
            (names in :data:`oncoplan.models.adapters.HEADS`: cox, logistic_hazard, pc_hazard, deephit,
            weibull, lognormal).
        hidden: hidden layer widths of the MLP.
        dropout, norm, linear_skip: network settings (``linear_skip`` adds a linear path beside the MLP).
        linear_init: train the linear path first and start the full network from that linear model.
        lr, weight_decay, batch_size, max_epochs, patience: optimisation (``batch_size=None`` = full batch;
            ``"auto"`` = full batch up to 2,048 training rows, else 256).
        validation_fraction: share of training rows held out for early stopping (stratified on event;
            each member draws its own split).
        n_ensemble: number of independently seeded members; predictions average their survival curves.
        standardize: z-score the inputs with training means and standard deviations.
        max_features: univariate Cox screening (training rows only) down to this many columns; ``"auto"``
            screens only high-dimensional inputs (see
            :func:`~oncoplan.models.feature_selection.auto_n_features`); ``"cv"`` does the same but picks
            the screening size (1x, 2x, 4x the auto size) and the head (``head`` or one of its parts) by
            inner 3-fold CV (Harrell C, 2-member ensembles) on the training rows, stored in ``selected_``;
            None keeps all.
        high_dim_head: head of every member when the inputs are screened as high-dimensional (None keeps
            ``head``). The default ``"cox"``: with a few hundred patients and thousands of genes, the
            semi-parametric partial likelihood has no per-interval baseline to estimate, unlike the
            discrete-time heads (measured in ``benchmarks/results/survival_attempts.md``).
        screening: ``"member"`` (default) screens on each member's own training rows (without its
            early-stopping rows; members see different columns), ``"shared"`` once on all training rows
            (:mod:`oncoplan.models.survival_inputs`).
        high_dim_ensemble_scale: screened inputs train this many times ``n_ensemble`` members: with
            per-member screening the ensemble is a random-subspace ensemble, which needs more members to
            average out the choice of columns (members are cheap at a few hundred patients).
        input_penalty: weight of a group-lasso penalty on each input's outgoing weights.
        random_state: seed; the same seed gives bit-identical predictions on CPU.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        head_options: extra keyword arguments for the head adapters (``{"ties": "efron"}``), or per head
            (``{"cox": {"ties": "efron"}, "logistic_hazard": {"n_cuts": 30}}``).
        numeric_embedding: ``"ple"`` feeds the MLP a piecewise-linear encoding of each input over
            ``n_bins`` quantile bins of the training rows (Gorishniy et al. 2022); None (or ``"none"``)
            feeds it the standardised inputs; ``"none+ple"`` (default) alternates the two across the
            ensemble members. The linear path always sees the standardised inputs. Screened
            (high-dimensional) inputs are never encoded.
        n_bins: quantile bins per input for ``numeric_embedding="ple"``.
        capacity: how much freedom the members get. ``"mixed"``: members with plain inputs keep the
            regularised settings above, members with piecewise-linear inputs train free
            (:func:`~oncoplan.models.capacity.flexible_settings`: no dropout or weight decay, longer
            training); ``"auto"`` (default): the same members, but the first plain and the first encoded
            member share one validation split, on which their per-patient integrated Brier scores are
            compared (paired z > 2 favours the free one, :mod:`oncoplan.models.capacity`); if the free
            member wins, the other regularised members are retrained free, else the ensemble stays mixed
            (decision in ``capacity_``, evidence in ``capacity_check_``). ``"regularised"`` /
            ``"flexible"``: every member regularised / free and encoded. Screened high-dimensional inputs
            are always regularised. Measurements in ``benchmarks/results/survival_attempts.md``.
    """

    def __init__(
        self,
        head: str = "cox+logistic_hazard",
        hidden: tuple[int, ...] = (64, 64),
        dropout: float = 0.2,
        norm: str = "batch",
        linear_skip: bool = True,
        linear_init: bool = True,
        lr: float = 3e-3,
        weight_decay: float = 1e-3,
        batch_size: int | str | None = "auto",
        max_epochs: int = 200,
        patience: int = 20,
        validation_fraction: float = 0.2,
        n_ensemble: int = 6,
        standardize: bool = True,
        max_features: int | str | None = "auto",
        high_dim_head: str | None = "cox",
        screening: str = "member",
        high_dim_ensemble_scale: int = 2,
        input_penalty: float = 0.0,
        random_state: int = 0,
        device: str = "auto",
        head_options: dict | None = None,
        numeric_embedding: str | None = "none+ple",
        n_bins: int = 32,
        capacity: str = "auto",
    ) -> None:
        self.head = head
        self.hidden = hidden
        self.dropout = dropout
        self.norm = norm
        self.linear_skip = linear_skip
        self.linear_init = linear_init
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_ensemble = n_ensemble
        self.standardize = standardize
        self.max_features = max_features
        self.high_dim_head = high_dim_head
        self.screening = screening
        self.high_dim_ensemble_scale = high_dim_ensemble_scale
        self.input_penalty = input_penalty
        self.random_state = random_state
        self.device = device
        self.head_options = head_options
        self.numeric_embedding = numeric_embedding
        self.n_bins = n_bins
        self.capacity = capacity

    # ------------------------------------------------------------------ building blocks
    def _setting(self, name: str):
        """A training setting, after the flexible-capacity overrides (if the ensemble went flexible)."""
        return getattr(self, "capacity_overrides_", {}).get(name, getattr(self, name))

    def _member_heads(self, head: str | None = None) -> list[str]:
        head = self.head if head is None else head
        names = [h.strip() for h in str(head).split("+") if h.strip()]
        unknown = [h for h in names if h not in HEADS]
        if not names or unknown:
            raise ConfigError(f"unknown survival head {head!r}", hint=f"one of {', '.join(sorted(HEADS))}")
        if int(self.n_ensemble) < 1:
            raise ConfigError(f"n_ensemble must be >= 1, got {self.n_ensemble}")
        return [names[k % len(names)] for k in range(getattr(self, "n_members_", int(self.n_ensemble)))]

    def _head_options(self, name: str) -> dict:
        opts = dict(self.head_options or {})
        if any(k in HEADS for k in opts):
            return dict(opts.get(name, {}))
        return opts

    def _embeddings(self) -> list[str]:
        """Input representation of the MLP per member: ``numeric_embedding`` parts, cycled so that each
        head meets each representation (heads ``cox+logistic_hazard`` and ``none+ple`` over 6 members:
        none, ple, ple, none, none, ple)."""
        parts = [p.strip() for p in str(self.numeric_embedding or "none").split("+") if p.strip()]
        if not parts or any(p not in ("none", "ple") for p in parts):
            raise ConfigError(
                f"numeric_embedding must be None, 'ple' or 'none+ple', got {self.numeric_embedding!r}"
            )
        n_heads = len([h for h in str(self.selected_["head"]).split("+") if h.strip()])
        shift = 1 if n_heads % len(parts) == 0 else 0  # so every head meets every representation
        n_members = getattr(self, "n_members_", int(self.n_ensemble))
        return [parts[(k + shift * (k // n_heads)) % len(parts)] for k in range(n_members)]

    def _new_network(
        self, seed: int, n_outputs: int, embedding: str = "none", dropout: float | None = None
    ) -> TabularSurvivalNet:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return TabularSurvivalNet(
                self.n_inputs_,
                n_outputs,
                tuple(self.hidden),
                self._setting("dropout") if dropout is None else dropout,
                self.norm,
                self.linear_skip,
                embedding=PiecewiseLinearEncoding(self.bin_edges_) if embedding == "ple" else None,
            )

    def _train_config(self, seed: int, n_train: int) -> TrainConfig:
        batch = self.batch_size
        if batch == "auto":
            batch = None if n_train <= 2048 else 256
        elif isinstance(batch, str):
            raise ConfigError(f"batch_size must be an integer, None or 'auto', got {batch!r}")
        return TrainConfig(
            lr=self.lr,
            weight_decay=self._setting("weight_decay"),
            batch_size=batch,
            max_epochs=self._setting("max_epochs"),
            patience=self._setting("patience"),
            seed=seed,
            device=self.device,
        )

    def _inner_split(self, event: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(len(event))
        pair = getattr(self, "check_pair_", ()) if getattr(self, "capacity_", None) == "auto" else ()
        if pair and seed in [int(self.random_state) + 1000 * k for k in pair]:  # the pair shares one split
            seed = int(self.random_state) + 1000 * pair[0]
        fraction = self._setting("validation_fraction")
        n_val = int(round(fraction * len(event)))
        if fraction <= 0 or n_val < 2 or event.sum() < 4:
            return rows, rows[:0]
        return train_test_split(rows, test_size=fraction, random_state=seed, stratify=event.astype(int))

    def _regularizer(self) -> Callable[[nn.Module], torch.Tensor] | None:
        if not self.input_penalty:
            return None
        weight = float(self.input_penalty)
        return lambda net: weight * net.input_l1()

    def _fit_linear(self, adapter: HeadAdapter, x, targets, train_rows, val_rows, config) -> nn.Linear:
        """Stage 1 of ``linear_init``: the linear model of this head, with early stopping."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            linear = nn.Linear(self.n_inputs_, adapter.n_outputs)
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)
        cfg = TrainConfig(**{**config.__dict__, "lr": max(config.lr, 1e-2)})
        has_val = len(val_rows) > 0
        fit_module(
            linear,
            adapter.loss,
            x[train_rows],
            {k: v[train_rows] for k, v in targets.items()},
            x[val_rows] if has_val else None,
            {k: v[val_rows] for k, v in targets.items()} if has_val else None,
            config=cfg,
        )
        return linear.cpu()

    def _fit_member(self, member: int, name: str, x, time, event, progress, split=None, embedding=None):
        """Train member ``member`` (head ``name``); returns (network, adapter, history, validation rows)."""
        seed = int(self.random_state) + 1000 * member
        adapter = make_adapter(name, **self._head_options(name))
        adapter.prepare(time, event)
        train_rows, val_rows = self._inner_split(event, seed) if split is None else split
        targets = adapter.targets(time, event)
        config = self._train_config(seed, len(train_rows))
        net = self._new_network(seed, adapter.n_outputs, embedding or self.embeddings_[member])
        if self.linear_init and self.linear_skip:
            linear = self._fit_linear(adapter, x, targets, train_rows, val_rows, config)
            net.load_linear(linear.weight.detach(), linear.bias.detach())
        has_val = len(val_rows) > 0
        history = fit_module(
            net,
            adapter.loss,
            x[train_rows],
            {k: v[train_rows] for k, v in targets.items()},
            x[val_rows] if has_val else None,
            {k: v[val_rows] for k, v in targets.items()} if has_val else None,
            config=config,
            progress=progress,
            regularizer=self._regularizer(),
        )
        net.to("cpu").eval()
        with torch.no_grad():
            adapter.finalize(net(x).numpy().astype(np.float64), time, event)
        return net, adapter, history, val_rows

    # ------------------------------------------------------------------ fit
    def fit(self, X: np.ndarray, y: np.ndarray, progress: ProgressFn | None = None) -> DeepSurvival:
        """Fit on numeric ``X`` (n, d) and a structured survival array ``y``."""
        X = check_array(X, dtype=np.float64, ensure_all_finite=True)
        event, time = survival_target(X, y)
        self.selected_ = {"max_features": self.max_features, "head": self.head}
        self.selection_scores_: list[tuple[dict, float]] = []
        self.capacity_overrides_: dict[str, object] = {}
        if self.max_features == "cv":
            self.selected_ = self._select_high_dim(X, y)
        elif self.high_dim_head and self._screens(X.shape, self.max_features):
            self.selected_["head"] = self.high_dim_head
        screened = self._screens(X.shape, self.selected_["max_features"])
        self.n_members_ = int(self.n_ensemble) * (int(self.high_dim_ensemble_scale) if screened else 1)
        heads = self._member_heads(self.selected_["head"])
        self.embeddings_ = self._embeddings()
        self.n_features_in_ = X.shape[1]
        self._fit_inputs(X, time, event, k=self.selected_["max_features"])
        x = self._inputs(X)
        if self.capacity not in CAPACITIES:
            raise ConfigError(f"capacity must be one of {CAPACITIES}, got {self.capacity!r}")
        self.capacity_ = "regularised" if self.support_ is not None else self.capacity
        self.capacity_check_ = None
        plain = [k for k, e in enumerate(self.embeddings_) if e != "ple"]
        encoded = [k for k, e in enumerate(self.embeddings_) if e == "ple"]
        self.check_pair_ = (plain[0], encoded[0]) if plain and encoded else ()
        if self.capacity_ == "auto" and not self.check_pair_:
            self.capacity_ = "mixed"  # nothing to compare (one member, or one representation)
        if self.capacity_ == "flexible":
            self.embeddings_ = ["ple"] * len(heads)
        members, self.member_dropout_ = [], []
        for member, name in enumerate(heads):
            self.capacity_overrides_ = self._member_overrides(member)
            self.member_dropout_.append(float(self._setting("dropout")))  # the layout of the member's network
            members.append(self._fit_member(member, name, self._member_x(x, member), time, event, progress))
        if self.capacity_ == "auto":
            check = self._check_capacity(members, x, time, event)
            self.capacity_check_ = None if check is None else check.as_dict()
            self.capacity_ = "flexible" if check is not None and check.prefer_flexible else "mixed"
            if check is not None and check.z < -2.0:  # the free member is clearly worse: keep the regularised
                self.capacity_ = "regularised"
                kept = [k for k, e in enumerate(self.embeddings_) if e != "ple"]
                members = [members[k] for k in kept]
                self.embeddings_ = [self.embeddings_[k] for k in kept]
                self.member_dropout_ = [self.member_dropout_[k] for k in kept]
            if self.capacity_ == "flexible":  # the regularised members make way for free ones
                for member, name in enumerate(heads):
                    if self.embeddings_[member] != "ple":
                        self.embeddings_[member] = "ple"
                        self.capacity_overrides_ = self._member_overrides(member)
                        self.member_dropout_[member] = float(self._setting("dropout"))
                        x_m = self._member_x(x, member)
                        members[member] = self._fit_member(member, name, x_m, time, event, progress)
        self.capacity_overrides_ = {}
        self.networks_ = [m[0] for m in members]
        self.adapters_ = [m[1] for m in members]
        self.histories_: list[TrainResult] = [m[2] for m in members]
        self.adapter_ = self.adapters_[0]
        self.unique_times_ = np.unique(time[event])
        self.event_times_ = self.unique_times_
        return self

    # ------------------------------------------------------------------ predict
    def _member_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Network outputs of every member (each (n, n_outputs of its head))."""
        x = self._inputs(X)
        outs = []
        for member, net in enumerate(self.networks_):
            net.eval()
            with torch.no_grad():
                outs.append(net(self._member_x(x, member)).numpy().astype(np.float64))
        return outs

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "networks_")
        X = check_array(X, dtype=np.float64, ensure_all_finite=True)
        if X.shape[1] != self.n_features_in_:
            raise ModelError(
                f"X has {X.shape[1]} features but the model was trained on {self.n_features_in_}"
            )
        return X

    def member_survival(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Survival curves of each ensemble member: (n_members, n, len(times)) on ``times``."""
        X = self._check_X(X)
        times = self.unique_times_ if times is None else np.asarray(times, dtype=float)
        outputs = self._member_outputs(X)
        return np.stack([a.survival(o, times) for a, o in zip(self.adapters_, outputs, strict=True)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Risk scores (higher = worse prognosis).

        All-Cox ensembles return the mean log-hazard ratio; otherwise minus the area under the averaged
        survival curve over the training event times (restricted mean survival, negated).
        """
        X = self._check_X(X)
        if all(hasattr(a, "risk") for a in self.adapters_):
            outs = self._member_outputs(X)
            return np.mean([a.risk(o) for a, o in zip(self.adapters_, outs, strict=True)], axis=0)
        surv = self.member_survival(X).mean(axis=0)
        times = self.unique_times_
        if len(times) < 2:
            return -surv[:, 0]
        return -np.trapezoid(surv, times, axis=1)

    def predict_survival_function(self, X: np.ndarray, return_array: bool = False):
        """Survival S(t | x) on ``unique_times_`` (mean over members), as an array or StepFunctions."""
        surv = self.member_survival(X).mean(axis=0)
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
            "head_state": self.adapters_[0].state(),
            "heads": [a.name for a in self.adapters_],
            "embeddings": list(self.embeddings_),
            "capacity": getattr(self, "capacity_", None),
            "capacity_check": getattr(self, "capacity_check_", None),
            "head_states": [a.state() for a in self.adapters_],
            "n_outputs": [int(a.n_outputs) for a in self.adapters_],
            "support": None if self.support_ is None else self.support_.tolist(),
            "member_columns": None
            if self.member_columns_ is None
            else [np.asarray(c).tolist() for c in self.member_columns_],
            "input_mean": self.input_mean_.tolist(),
            "input_scale": self.input_scale_.tolist(),
            "bin_edges": None
            if self.bin_edges_ is None
            else np.where(np.isfinite(self.bin_edges_), self.bin_edges_, None).tolist(),
            "n_members": len(self.networks_),
            "member_dropout": list(self.member_dropout_),
            "best_epochs": [h.best_epoch for h in self.histories_],
        }
        return state, ensemble_tensors(self.networks_)

    @classmethod
    def from_exported_state(cls, state: dict, tensors: dict[str, torch.Tensor]) -> DeepSurvival:
        """Rebuild a fitted model from :meth:`export_state` output (also reads pre-ensemble-head states)."""
        params = dict(state["params"])
        params["hidden"] = tuple(params["hidden"])
        model = cls(**params)
        n_members = int(state["n_members"])
        model.n_features_in_ = int(state["n_features_in"])
        model.unique_times_ = np.asarray(state["unique_times"], dtype=float)
        model.event_times_ = model.unique_times_
        support = state.get("support")
        model.support_ = None if support is None else np.asarray(support, dtype=np.int64)
        model.n_inputs_ = model.n_features_in_ if support is None else len(support)
        columns = state.get("member_columns")
        model.member_columns_ = None if columns is None else [np.asarray(c, dtype=np.int64) for c in columns]
        if columns is not None:
            model.n_inputs_ = len(columns[0])
        model.input_mean_ = np.asarray(state.get("input_mean", np.zeros(model.n_inputs_)), dtype=float)
        model.input_scale_ = np.asarray(state.get("input_scale", np.ones(model.n_inputs_)), dtype=float)
        edges = state.get("bin_edges")
        model.bin_edges_ = None if edges is None else np.array(edges, dtype=float)
        heads = state.get("heads", [params["head"]] * n_members)
        model.embeddings_ = state.get("embeddings", ["none"] * n_members)
        head_states = state.get("head_states", [state["head_state"]] * n_members)
        model.histories_, model.networks_, model.adapters_ = [], [], []
        for k in range(n_members):
            adapter = make_adapter(heads[k], **model._head_options(heads[k]))
            adapter.load_state(head_states[k])
            embedding = model.embeddings_[k]
            dropout = state.get("member_dropout", [model.dropout] * n_members)[k]
            net = model._new_network(
                int(model.random_state) + 1000 * k, adapter.n_outputs, embedding, dropout
            )
            load_member(net, tensors, k)
            model.adapters_.append(adapter)
            model.networks_.append(net)
        model.adapter_ = model.adapters_[0]
        return model
