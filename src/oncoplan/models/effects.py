"""``TreatmentEffectNet``: counterfactual outcomes under every arm, with deep-ensemble uncertainty.

A scikit-learn style estimator around :class:`~oncoplan.models.effects_net.EffectNetwork` (TARNet / CFR /
DragonNet family): ``fit(X, y, treatment)`` on numeric inputs, then per patient and per arm survival curves
(``predict_counterfactual``: ``(n_members, n_patients, n_arms, n_times)``), RMST with intervals over the
ensemble members (``predict_rmst``), propensities from the propensity head and an out-of-distribution score
(squared Mahalanobis distance to the training inputs, Ledoit-Wolf covariance from scikit-learn, flagged
above a training quantile). Each of ``n_ensemble`` members has its own seed (and, with ``bootstrap=True``,
its own bootstrap resample of the patients within each arm, so the spread reflects sampling variability
too). Predicting for an arm the model was not trained on is a :class:`~oncoplan.errors.ModelError`.

Example:
    >>> import numpy as np
    >>> from sksurv.util import Surv
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); a = np.where(rng.random(200) < 0.5, "A", "B")
    >>> t = rng.exponential(np.where(a == "B", 2.0, 1.0) * np.exp(X[:, 0])); e = rng.random(200) < 0.8
    >>> net = TreatmentEffectNet(n_ensemble=2, max_epochs=5, random_state=0)
    >>> model = net.fit(X, Surv.from_arrays(e, t), a)
    >>> model.predict_counterfactual(X[:4]).shape[:3]
    (2, 4, 2)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.covariance import LedoitWolf
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_array, check_is_fitted
from sksurv.functions import StepFunction

from oncoplan.errors import CohortError, ModelError
from oncoplan.models.arms import encode_arms
from oncoplan.models.effects_anchor import anchor_powers, anchor_targets, apply_anchor
from oncoplan.models.effects_net import EffectLoss, EffectNetwork
from oncoplan.models.effects_state import EffectStateMixin
from oncoplan.models.effects_weights import stabilised_propensity_weights
from oncoplan.models.heads.cox import breslow_baseline
from oncoplan.models.targets import survival_target
from oncoplan.models.time_grid import TimeGrid
from oncoplan.recommend.rmst import EnsembleRMST, rmst_ensemble
from oncoplan.train.loop import TrainConfig, TrainResult, fit_module

logger = logging.getLogger(__name__)

#: options of ``TreatmentEffectNet(anchor=...)``
ANCHORS = ("auto", "randomised", "km", "none")


class TreatmentEffectNet(EffectStateMixin, BaseEstimator):
    """Treatment-effect network for K >= 2 arms (see the module docstring).

    Args:
        outcome: ``"survival"`` (``y`` a scikit-survival structured array), ``"continuous"`` or ``"binary"``.
        head: per-arm survival head, any head of the survival engine: ``"logistic_hazard"``,
            ``"pc_hazard"``, ``"deephit"``, ``"weibull"``, ``"lognormal"`` or ``"cox"`` (arm-specific
            log-hazard ratios against one Breslow baseline per member, i.e. proportional hazards across
            arms; partial likelihood and baseline weighted under ``ipw``).
        n_cuts: cut points of the quantile time grid of the grid heads.
        hidden, head_hidden, dropout: widths of the shared / per-arm MLPs and their dropout.
        shared_trunk: TARNet's shared representation (default); ``False``: one ``hidden`` trunk per arm
            (a neural T-learner; ``alpha`` then only shapes the propensity trunk).
        arm_skip: also feed the inputs straight to every arm's MLP (arm-specific covariate paths).
        alpha: weight of the linear-MMD balancing penalty between arm representations (0 = TARNet).
        beta: weight of the propensity cross-entropy (DragonNet); 0 leaves the propensity head untrained.
        lr, weight_decay, batch_size, max_epochs, patience: optimisation (shared trainer).
        validation_fraction: share of training rows (stratified on arm x event) for early stopping.
        n_ensemble: number of members; ``bootstrap`` resamples patients within arm for every member and
            early-stops on its out-of-bag patients.
        n_times: points of the output time grid (``times_``; the grid cuts are always included).
        ood_quantile: training quantile of the Mahalanobis distance above which a patient is flagged OOD.
        standardize_y: standardise a continuous outcome for training (predictions are on the raw scale).
        ipw: ``"none"`` or ``"logistic"``: weight each patient's factual outcome loss by the stabilised
            inverse propensity ``P(A=a) / e_a(x)`` (CFR re-weighting, Shalit et al. 2017), with ``e`` from a
            5-fold cross-fitted multinomial logistic regression (scikit-learn) on the standardised inputs.
            When that model's out-of-fold log-loss is no better than the arm frequencies alone (no
            detectable confounding, as in a randomised trial) the loss stays unweighted.
        ipw_clip: upper clip of the stabilised weights (lower clip ``1 / ipw_clip``).
        anchor: ``"km"``: each member's curves under arm k are anchored, by a per-time power on the
            cumulative hazard, so that their mean over the member's training patients equals the
            Kaplan-Meier curve of its arm-k patients (inverse-propensity weighted when the arm is predictable
            from the covariates); the network keeps the patient-level shape, the arm-level average comes from
            the data (:mod:`oncoplan.models.effects_anchor`). ``"auto"`` (default): anchored only when the
            covariates do not predict the arm (a randomised trial; ``anchored_`` records it).
            ``"randomised"``: the arm is known to be randomised: anchored to the plain (unweighted)
            Kaplan-Meier curves, whatever the covariates seem to predict. ``"none"``: the raw network.
        random_state: seed; the same seed gives identical predictions on CPU.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    """

    def __init__(
        self,
        outcome: str = "survival",
        head: str = "logistic_hazard",
        n_cuts: int = 20,
        hidden: tuple[int, ...] = (64, 64),
        head_hidden: tuple[int, ...] = (32,),
        dropout: float = 0.1,
        shared_trunk: bool = True,
        arm_skip: bool = False,
        alpha: float = 0.1,
        beta: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int | None = 256,
        max_epochs: int = 200,
        patience: int = 20,
        validation_fraction: float = 0.2,
        n_ensemble: int = 5,
        bootstrap: bool = False,
        n_times: int = 200,
        ood_quantile: float = 0.995,
        standardize_y: bool = True,
        ipw: str = "none",
        ipw_clip: float = 10.0,
        anchor: str = "auto",
        random_state: int = 0,
        device: str = "cpu",
    ) -> None:
        self.outcome = outcome
        self.head = head
        self.n_cuts = n_cuts
        self.hidden = hidden
        self.head_hidden = head_hidden
        self.dropout = dropout
        self.shared_trunk = shared_trunk
        self.arm_skip = arm_skip
        self.alpha = alpha
        self.beta = beta
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_ensemble = n_ensemble
        self.bootstrap = bootstrap
        self.n_times = n_times
        self.ood_quantile = ood_quantile
        self.standardize_y = standardize_y
        self.ipw = ipw
        self.ipw_clip = ipw_clip
        self.anchor = anchor
        self.random_state = random_state
        self.device = device

    # ------------------------------------------------------------------ building blocks
    def _new_network(self, seed: int) -> EffectNetwork:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return EffectNetwork(
                self.n_features_in_,
                len(self.arms_),
                self.outcome,
                tuple(self.hidden),
                tuple(self.head_hidden),
                self.dropout,
                self.head,
                self.grid_,
                shared_trunk=self.shared_trunk,
                arm_skip=self.arm_skip,
            )

    def _config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            lr=self.lr,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=seed,
            device=self.device,
        )

    def _member_seed(self, member: int) -> int:
        return int(self.random_state) + 1000 * member

    def _member_rows(self, strata: np.ndarray, codes: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(len(codes))
        if self.bootstrap:
            rng = np.random.default_rng(seed)
            boot = np.concatenate(
                [
                    rng.choice(np.flatnonzero(codes == k), size=int((codes == k).sum()))
                    for k in np.unique(codes)
                ]
            )
            oob = np.setdiff1d(rows, boot)
            return np.sort(boot), oob
        n_val = int(round(self.validation_fraction * len(rows)))
        if self.validation_fraction <= 0 or n_val < 2:
            return rows, rows[:0]
        _, counts = np.unique(strata, return_counts=True)
        stratify = strata if counts.min() >= 2 else codes
        return train_test_split(rows, test_size=n_val, random_state=seed, stratify=stratify)

    def _ipw_weights(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
        """Stabilised, clipped inverse propensity weights of the received arm (None without ``ipw``)."""
        if self.ipw == "none":
            return None
        if self.ipw != "logistic":
            raise ModelError(f"ipw must be 'none' or 'logistic', got {self.ipw!r}")
        return self._propensity_weights(X, codes)

    def _propensity_weights(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
        return stabilised_propensity_weights(X, codes, self.ipw_clip, int(self.random_state))

    def _targets(self, y: np.ndarray, codes: np.ndarray, net: EffectNetwork) -> dict[str, torch.Tensor]:
        targets = {"arm": torch.as_tensor(codes, dtype=torch.long)}
        if self.ipw_weights_ is not None:
            targets["w"] = torch.as_tensor(self.ipw_weights_, dtype=torch.float32)
        if self.outcome == "survival":
            parts = net.survival_head.targets(self.train_time_, self.train_event_)
            targets.update({f"s{i}": t for i, t in enumerate(parts)})
        else:
            targets["y"] = torch.as_tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32)
        return targets

    def _prepare_outcome(
        self, X: np.ndarray, y: np.ndarray, codes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``y``; return (outcome array for targets, strata for the inner split)."""
        self.grid_ = None
        self.y_mean_, self.y_std_ = 0.0, 1.0
        if self.outcome == "survival":
            event, time = survival_target(X, y)
            self.train_time_, self.train_event_ = time.astype(float), event.astype(bool)
            self.grid_ = TimeGrid(n_cuts=self.n_cuts, scheme="quantiles").fit(time, event)
            cuts = self.grid_.cuts
            self.times_ = np.unique(np.concatenate([cuts, np.linspace(0.0, cuts[-1], self.n_times)]))
            strata = np.char.add(codes.astype(str), event.astype(int).astype(str))
            return np.zeros(len(codes)), strata
        values = np.asarray(y, dtype=float).reshape(-1)
        if len(values) != len(codes) or not np.all(np.isfinite(values)):
            raise ModelError(f"y must be {len(codes)} finite numbers for outcome={self.outcome!r}")
        if self.outcome == "binary":
            if not np.isin(values, [0.0, 1.0]).all():
                raise ModelError("a binary outcome must be 0/1")
            strata = np.char.add(codes.astype(str), values.astype(int).astype(str))
            return values, strata
        if self.standardize_y:
            self.y_mean_, self.y_std_ = float(values.mean()), float(values.std() or 1.0)
        return values, codes.astype(str)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        treatment: Sequence | np.ndarray,
        arms: Sequence[str] | None = None,
        progress: Callable[[int, int, float, float | None], None] | None = None,
    ) -> TreatmentEffectNet:
        """Fit on numeric ``X`` (n, d), outcome ``y`` and the received arm per patient.

        ``arms`` fixes the arm order (first = reference); every listed arm needs training patients.
        """
        X = check_array(X, dtype=np.float64, ensure_all_finite=True)
        arm_list, codes = encode_arms(treatment, arms)
        if len(codes) != len(X):
            raise CohortError(f"treatment has {len(codes)} entries but X has {len(X)} rows")
        counts = np.bincount(codes, minlength=len(arm_list))
        empty = [a for a, c in zip(arm_list, counts, strict=True) if c < 2]
        if empty:
            raise ModelError(
                f"arm(s) {empty} have fewer than 2 training patients; the model cannot learn their outcome",
                hint="drop these arms from `arms` or add patients",
            )
        if len(arm_list) < 2:
            raise ModelError("a treatment-effect model needs at least two arms in the training data")
        self.arms_ = arm_list
        self.n_features_in_ = X.shape[1]
        values, strata = self._prepare_outcome(X, y, codes)
        self._fit_ood(X)
        if self.anchor not in ANCHORS:
            raise ModelError(f"anchor must be one of {ANCHORS}, got {self.anchor!r}")
        self.ipw_weights_ = self._ipw_weights(X, codes)
        anchoring = self.anchor != "none" and self.outcome == "survival"
        anchor_weights = None
        if anchoring and self.anchor != "randomised":
            anchor_weights = self.ipw_weights_ if self.ipw != "none" else self._propensity_weights(X, codes)
            # auto: only where the arm is not predictable from the covariates (a randomised trial), where
            # each arm's plain Kaplan-Meier curve is unbiased; under confounding the covariate-adjusted
            # network keeps its own averages
            anchoring = self.anchor == "km" or anchor_weights is None
        self.anchored_ = anchoring
        self.anchor_powers_ = None
        member_rows = [self._member_rows(strata, codes, self._member_seed(m)) for m in range(self.n_ensemble)]
        if anchoring:
            targets = anchor_targets(
                self.train_time_,
                self.train_event_,
                codes,
                [rows for rows, _ in member_rows],
                self.times_,
                len(arm_list),
                anchor_weights,
            )
        x_all = torch.as_tensor(X, dtype=torch.float32)
        self.networks_: list[EffectNetwork] = []
        self.histories_: list[TrainResult] = []
        powers = []
        for member, (train_rows, val_rows) in enumerate(member_rows):
            seed = self._member_seed(member)
            net = self._new_network(seed)
            net_targets = self._targets(values, codes, net)
            has_val = len(val_rows) > 0
            history = fit_module(
                net,
                EffectLoss(net, self.alpha, self.beta),
                x_all[train_rows],
                {k: v[train_rows] for k, v in net_targets.items()},
                x_all[val_rows] if has_val else None,
                {k: v[val_rows] for k, v in net_targets.items()} if has_val else None,
                config=self._config(seed),
                progress=progress,
            )
            net.to("cpu").eval()
            if self.outcome == "survival" and self.head == "cox":
                self._set_cox_baseline(net, x_all[train_rows], codes[train_rows], train_rows)
            self.networks_.append(net)
            self.histories_.append(history)
            if anchoring:
                raw = self._raw_survival([net], X[train_rows], self.times_)[0]
                powers.append(
                    np.stack([anchor_powers(raw[:, k], targets[member, k]) for k in range(len(arm_list))])
                )
        if anchoring:
            self.anchor_powers_ = np.stack(powers)
        logger.info(
            "TreatmentEffectNet: %d members, best epochs %s",
            self.n_ensemble,
            [h.best_epoch for h in self.histories_],
        )
        return self

    def _fit_ood(self, X: np.ndarray) -> None:
        cov = LedoitWolf().fit(X)
        self.ood_location_ = cov.location_.astype(float)
        self.ood_precision_ = cov.precision_.astype(float)
        self.ood_threshold_ = float(np.quantile(self.ood_score(X, _checked=True), self.ood_quantile))

    # ------------------------------------------------------------------ helpers
    def _check_X(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "networks_")
        X = check_array(X, dtype=np.float64, ensure_all_finite=True)
        if X.shape[1] != self.n_features_in_:
            raise ModelError(
                f"X has {X.shape[1]} features but the model was trained on {self.n_features_in_}"
            )
        return X

    def arm_index(self, arm: str | int) -> int:
        """Column of ``arm`` (name or index); an arm the model was not trained on is a :class:`ModelError`."""
        check_is_fitted(self, "arms_")
        if isinstance(arm, (int, np.integer)) and not isinstance(arm, bool):
            if 0 <= int(arm) < len(self.arms_):
                return int(arm)
        elif str(arm) in self.arms_:
            return self.arms_.index(str(arm))
        raise ModelError(
            f"the model was not trained on arm {arm!r}; it cannot predict outcomes under it",
            hint=f"trained arms: {', '.join(self.arms_)}",
        )

    def _outputs(self, X: np.ndarray) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        x = torch.as_tensor(X, dtype=torch.float32)
        outcomes, logits = [], []
        with torch.no_grad():
            for net in self.networks_:
                net.eval()
                outcome, logit, _ = net.split(net(x))
                outcomes.append(outcome)
                logits.append(logit)
        return outcomes, logits

    # ------------------------------------------------------------------ predictions
    def predict_counterfactual(self, X: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Per-member counterfactual predictions for every arm.

        Survival: ``(n_members, n, n_arms, len(times))`` survival probabilities on ``times`` (default
        ``times_``). Continuous / binary: ``(n_members, n, n_arms)`` expected outcome (raw scale) or
        probability.
        """
        X = self._check_X(X)
        outcomes, _ = self._outputs(X)
        n = len(X)
        if self.outcome == "continuous":
            return np.stack([o[:, :, 0].numpy().astype(float) * self.y_std_ + self.y_mean_ for o in outcomes])
        if self.outcome == "binary":
            return np.stack([torch.sigmoid(o[:, :, 0]).numpy().astype(float) for o in outcomes])
        grid = np.ascontiguousarray(self.times_ if times is None else np.asarray(times, dtype=float))
        powers = getattr(self, "anchor_powers_", None)
        if powers is None:
            return self._survival_from_outputs(outcomes, n, grid)
        # anchored curves are made monotone on the union with the model's grid, so any grid reads the same
        full, pick = self.times_, None
        if times is not None:
            full, where = np.unique(np.concatenate([self.times_, grid]), return_inverse=True)
            pick = where[len(self.times_) :]
        out = self._survival_from_outputs(outcomes, n, full)
        for member, member_powers in enumerate(powers):
            apply_anchor(out[member], member_powers, self.times_, full, out=out[member])
        return out if pick is None else np.ascontiguousarray(out[..., pick])

    def _set_cox_baseline(
        self, net: EffectNetwork, x: torch.Tensor, codes: np.ndarray, rows: np.ndarray
    ) -> None:
        """Breslow baseline of the member's factual log-risks (IPW-weighted when the loss is), shared by its
        arm heads."""
        with torch.no_grad():
            log_risk = net.split(net(x))[0][np.arange(len(codes)), codes, 0].double().numpy()
        w = None if self.ipw_weights_ is None else self.ipw_weights_[rows]
        times, cum_hazard = breslow_baseline(log_risk, self.train_time_[rows], self.train_event_[rows], w)
        for head in net.arm_heads:  # own copies: safetensors refuses tensors that share memory
            head.set_baseline(times.copy(), cum_hazard.copy())

    def _raw_survival(self, networks: list[EffectNetwork], X: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Un-anchored ``(n_members, n, n_arms, len(grid))`` survival of ``networks`` at ``X``."""
        x = torch.as_tensor(X, dtype=torch.float32)
        with torch.no_grad():
            outcomes = [net.split(net.eval()(x))[0] for net in networks]
        return self._survival_from_outputs(outcomes, len(X), grid, networks)

    def _survival_from_outputs(
        self, outcomes: list[torch.Tensor], n: int, grid: np.ndarray, networks: list | None = None
    ) -> np.ndarray:
        k = len(self.arms_)
        heads = [net.survival_head for net in (networks or self.networks_)]  # a Cox baseline is per member
        grid_t = torch.as_tensor(np.ascontiguousarray(grid, dtype=float))
        out = np.empty((len(outcomes), n * k, len(grid)))
        with torch.no_grad():
            for m, o in enumerate(outcomes):
                flat = o.reshape(n * k, -1).double()
                for start in range(0, n * k, 4096):  # chunks keep the interpolation in cache
                    out[m, start : start + 4096] = (
                        heads[m].survival(flat[start : start + 4096], grid_t).numpy()
                    )
        return np.clip(out, 0.0, 1.0, out=out).reshape(len(outcomes), n, k, len(grid))

    def predict_survival_function(
        self, X: np.ndarray, arm: str | int, return_array: bool = False, times: np.ndarray | None = None
    ):
        """Ensemble-mean survival under ``arm``: ``(n, len(times))`` array or StepFunctions on ``times_``."""
        if self.outcome != "survival":
            raise ModelError(f"this model predicts a {self.outcome} outcome, not survival curves")
        k = self.arm_index(arm)
        grid = self.times_ if times is None else np.asarray(times, dtype=float)
        surv = self.predict_counterfactual(X, grid)[:, :, k, :].mean(axis=0)
        if return_array:
            return surv
        return np.array([StepFunction(grid, s) for s in surv])

    def predict_rmst(self, X: np.ndarray, tau: float, level: float = 0.9) -> EnsembleRMST:
        """RMST(tau) per member, patient and arm, with member-quantile intervals and arm differences."""
        if self.outcome != "survival":
            raise ModelError("RMST needs a survival model (outcome='survival')")
        return rmst_ensemble(
            self.predict_counterfactual(X), self.times_, tau, arm_names=self.arms_, level=level
        )

    def predict_effect(self, X: np.ndarray, arm: str | int, reference: str | int | None = None) -> np.ndarray:
        """Ensemble-mean effect ``mu_arm(x) - mu_reference(x)`` (continuous / binary outcomes).

        ``reference`` defaults to the first arm.
        """
        if self.outcome == "survival":
            raise ModelError("use predict_rmst(...).difference(arm, reference) for survival models")
        k, r = self.arm_index(arm), self.arm_index(0 if reference is None else reference)
        mu = self.predict_counterfactual(X)
        return (mu[:, :, k] - mu[:, :, r]).mean(axis=0)

    def predict_propensity(self, X: np.ndarray) -> np.ndarray:
        """``p(arm | x)`` from the propensity head, averaged over members: ``(n, n_arms)``."""
        X = self._check_X(X)
        _, logits = self._outputs(X)
        return np.stack([torch.softmax(lg, dim=1).numpy().astype(float) for lg in logits]).mean(axis=0)

    def ood_score(self, X: np.ndarray, _checked: bool = False) -> np.ndarray:
        """Squared Mahalanobis distance of each row to the training inputs (Ledoit-Wolf covariance)."""
        if not _checked:
            X = self._check_X(X)
        diff = X - self.ood_location_
        return np.einsum("ij,jk,ik->i", diff, self.ood_precision_, diff)

    def is_ood(self, X: np.ndarray) -> np.ndarray:
        """True where :meth:`ood_score` exceeds the ``ood_quantile`` of the training scores."""
        return self.ood_score(X) > self.ood_threshold_
