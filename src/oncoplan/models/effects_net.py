"""The treatment-effect network: shared representation, one outcome head per arm, a propensity head.

TARNet / CFR (Shalit et al., ICML 2017) and DragonNet (Shi et al., NeurIPS 2019) for K >= 2 arms:

* a shared MLP representation ``phi(x)`` (ELU activations, as in CFR); with ``shared_trunk=False`` every
  arm gets its own representation MLP instead (a neural T-learner: no parameter couples the arms' outcome
  models, so their contrasts are not pulled together by a common trunk), and ``phi(x)`` only feeds the
  propensity head;
* one outcome head per arm on ``phi(x)`` (or on the arm's own trunk): a small MLP followed by any oncoplan
  survival head (logistic hazard on a quantile time grid by default, see :mod:`oncoplan.models.heads`), or a
  scalar output for a continuous (squared error) or binary (cross-entropy) response;
* a propensity head ``softmax(W phi(x))`` trained with cross-entropy (DragonNet);
* a balancing term: the linear maximum mean discrepancy between the representation of every arm and the
  pooled representation (``sum_k ||mean_{A=k} phi - mean phi||^2``, CFR's ``mmd2_lin`` for K arms).

The network returns one packed tensor per batch (outcome outputs of every arm, propensity logits,
representation) so that the shared trainer :func:`oncoplan.train.loop.fit_module` can train it; the loss
(:class:`EffectLoss`) picks the head of the received arm (``targets["arm"]``). Written by hand: no
maintained library offers these networks with survival heads.

Example:
    >>> import torch
    >>> net = EffectNetwork(n_features=5, n_arms=3, outcome="continuous", hidden=(8,), head_hidden=(4,))
    >>> out = net(torch.zeros(2, 5))
    >>> [t.shape[1:] for t in net.split(out)]
    [torch.Size([3, 1]), torch.Size([3]), torch.Size([8])]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from oncoplan.errors import ConfigError
from oncoplan.models.heads.base import SurvivalHead
from oncoplan.models.heads.cox import CoxHead
from oncoplan.models.heads.registry import make_head
from oncoplan.models.time_grid import TimeGrid

OUTCOMES = ("survival", "continuous", "binary")
#: survival heads usable per arm: every head of the survival engine. With ``"cox"`` each arm's head gives a
#: log-hazard ratio against one Breslow baseline shared by the arms (fitted per member after training on the
#: factual log-risks, as in DeepSurv's treatment recommender: proportional hazards across arms); with
#: inverse-propensity weights the partial likelihood and the baseline are weighted.
ARM_HEADS = ("logistic_hazard", "pc_hazard", "deephit", "weibull", "lognormal", "cox")


def mlp(n_in: int, hidden: Sequence[int], dropout: float) -> tuple[nn.Sequential, int]:
    """Linear -> ELU -> Dropout blocks; returns the stack and its output width.

    Example:
        >>> mlp(4, (8, 8), 0.1)[1]
        8
    """
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ELU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers), width


class EffectNetwork(nn.Module):
    """Shared representation -> per-arm outcome heads + propensity head (see the module docstring).

    Args:
        n_features: input width.
        n_arms: number of arms K (>= 2).
        outcome: ``"survival"``, ``"continuous"`` or ``"binary"``.
        hidden, head_hidden: widths of the shared and of each arm's MLP.
        dropout: dropout after every hidden layer.
        head: survival head name (one of :data:`ARM_HEADS`) when ``outcome="survival"``.
        grid: fitted :class:`TimeGrid` for grid heads.
        shared_trunk: one representation for all arms (TARNet, default); ``False`` gives each arm its own
            ``hidden`` MLP (the shared one then feeds the propensity head and the balancing term only).
        arm_skip: feed the raw inputs to every arm's MLP next to the representation (a direct, arm-specific
            path from the covariates, like the arm x covariate terms of an S-learner).

    Shapes: input ``(batch, n_features)``; output ``(batch, K * n_out + K + width)``, unpacked by
    :meth:`split` into outcome ``(batch, K, n_out)``, propensity logits ``(batch, K)`` and representation.
    """

    def __init__(
        self,
        n_features: int,
        n_arms: int,
        outcome: str = "survival",
        hidden: Sequence[int] = (64, 64),
        head_hidden: Sequence[int] = (32,),
        dropout: float = 0.1,
        head: str = "logistic_hazard",
        grid: TimeGrid | None = None,
        shared_trunk: bool = True,
        arm_skip: bool = False,
    ) -> None:
        super().__init__()
        if outcome not in OUTCOMES:
            raise ConfigError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        if n_arms < 2:
            raise ConfigError(f"a treatment-effect network needs at least 2 arms, got {n_arms}")
        self.n_arms = n_arms
        self.outcome = outcome
        self.representation, width = mlp(n_features, hidden, dropout)
        self.width = width
        self.shared_trunk = bool(shared_trunk)
        self.arm_trunks = nn.ModuleList()
        if not self.shared_trunk:
            self.arm_trunks.extend(mlp(n_features, hidden, dropout)[0] for _ in range(n_arms))
        self.arm_skip = bool(arm_skip)
        self.arm_in = width + (n_features if self.arm_skip else 0)
        self.arm_mlps = nn.ModuleList()
        self.arm_heads = nn.ModuleList()
        for _ in range(n_arms):
            body, w = mlp(self.arm_in, head_hidden, dropout)
            self.arm_mlps.append(body)
            if outcome == "survival":
                if head not in ARM_HEADS:
                    raise ConfigError(f"per-arm survival head must be one of {ARM_HEADS}, got {head!r}")
                self.arm_heads.append(make_head(head, w, grid))
            else:
                self.arm_heads.append(nn.Linear(w, 1))
        with torch.no_grad():
            self.n_out = int(self.arm_heads[0](torch.zeros(1, self._head_width())).reshape(1, -1).shape[1])
        self.propensity = nn.Linear(width, n_arms)

    def _head_width(self) -> int:
        lin = [m for m in self.arm_mlps[0].modules() if isinstance(m, nn.Linear)]
        return lin[-1].out_features if lin else self.arm_in

    def forward(self, x: Tensor) -> Tensor:
        z = self.representation(x)
        trunks = [z] * self.n_arms if self.shared_trunk else [trunk(x) for trunk in self.arm_trunks]
        if self.arm_skip:
            trunks = [torch.cat([h, x], dim=1) for h in trunks]
        outs = [  # a Cox head returns (batch,): every head's output as (batch, n_out)
            head(body(h)).reshape(len(x), -1)
            for h, body, head in zip(trunks, self.arm_mlps, self.arm_heads, strict=True)
        ]
        return torch.cat([torch.cat(outs, dim=1), self.propensity(z), z], dim=1)

    def split(self, packed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(outcome ``(n, K, n_out)``, propensity logits ``(n, K)``, representation ``(n, width)``)."""
        k, m = self.n_arms, self.n_out
        outcome = packed[:, : k * m].reshape(-1, k, m)
        logits = packed[:, k * m : k * m + k]
        return outcome, logits, packed[:, k * m + k :]

    @property
    def survival_head(self) -> SurvivalHead:
        """The head of arm 0 (all arms share the head type and grid; used for losses and curves)."""
        return self.arm_heads[0]  # type: ignore[return-value]


def linear_mmd(rep: Tensor, arm: Tensor, n_arms: int) -> Tensor:
    """``sum_k ||mean(rep | arm = k) - mean(rep)||^2`` over arms present in the batch (CFR's linear MMD).

    Example:
        >>> linear_mmd(torch.tensor([[0.0], [2.0]]), torch.tensor([0, 1]), 2)
        tensor(2.)
    """
    pooled = rep.mean(dim=0)
    total = rep.new_zeros(())
    for k in range(n_arms):
        mask = arm == k
        if bool(mask.any()):
            total = total + ((rep[mask].mean(dim=0) - pooled) ** 2).sum()
    return total


class EffectLoss:
    """Factual outcome loss + ``beta`` x propensity cross-entropy + ``alpha`` x linear MMD.

    With the network in eval mode (as the trainer puts it for validation) only the factual outcome loss is
    returned, so early stopping monitors the outcome fit.

    Targets: ``arm`` (int64 received arm), and ``y`` (continuous / binary) or ``s0, s1, ...`` (the survival
    head's target tensors); optional ``w``: per-patient weights of the factual loss (inverse propensity
    weights, CFR's re-weighting, Shalit et al. 2017).

    Example:
        >>> net = EffectNetwork(3, 2, outcome="continuous", hidden=(4,), head_hidden=())
        >>> loss = EffectLoss(net, alpha=0.1, beta=1.0)
        >>> targets = {"arm": torch.tensor([0, 1, 0, 1]), "y": torch.zeros(4)}
        >>> float(loss(net(torch.zeros(4, 3)), targets).detach()) > 0
        True
    """

    def __init__(self, network: EffectNetwork, alpha: float = 0.0, beta: float = 1.0) -> None:
        self.network = network
        self.alpha = float(alpha)
        self.beta = float(beta)

    def factual(self, outcome: Tensor, targets: dict[str, Tensor]) -> Tensor:
        """Outcome loss of the received arm's head; weighted by ``targets["w"]`` when present (IPW)."""
        arm = targets["arm"]
        chosen = outcome[torch.arange(len(arm)), arm]  # (n, n_out)
        weights = targets.get("w")
        reduction = "mean" if weights is None else "none"
        kind = self.network.outcome
        if kind == "continuous":
            per_row = F.mse_loss(chosen[:, 0], targets["y"], reduction=reduction)
        elif kind == "binary":
            per_row = F.binary_cross_entropy_with_logits(chosen[:, 0], targets["y"], reduction=reduction)
        else:
            keys = sorted((k for k in targets if k.startswith("s")), key=lambda k: int(k[1:]))
            head = self.network.survival_head
            if weights is not None and isinstance(head, CoxHead):  # a weighted partial likelihood
                return head.loss(chosen, *(targets[k] for k in keys), weights=weights)
            per_row = head.loss(chosen, *(targets[k] for k in keys), reduction=reduction)
        if weights is None:
            return per_row
        if per_row.shape != weights.shape:  # a head that drops rows (pc_hazard) cannot be re-weighted
            return per_row.mean()
        return (weights * per_row).sum() / weights.sum().clamp_min(1e-12)

    def __call__(self, packed: Tensor, targets: dict[str, Tensor]) -> Tensor:
        outcome, logits, rep = self.network.split(packed)
        loss = self.factual(outcome, targets)
        if not self.network.training:
            return loss  # validation (early stopping) monitors the factual outcome loss only
        if self.beta > 0:
            loss = loss + self.beta * F.cross_entropy(logits, targets["arm"])
        if self.alpha > 0:
            loss = loss + self.alpha * linear_mmd(rep, targets["arm"], self.network.n_arms)
        return loss
