"""Right-censored negative log-likelihoods of parametric accelerated-failure-time (AFT) models.

Parametrisations follow lifelines (``WeibullAFTFitter``, ``LogNormalAFTFitter``) so fitted parameters can
be compared one to one; lifelines fits linear models only, so the torch versions are written here for
neural heads.

* **Weibull**: ``S(t) = exp(-(t / lambda)^rho)`` with ``log_scale = log lambda`` and ``log_shape = log rho``.
  Event: ``log f(t) = log rho - log lambda + (rho - 1)(log t - log lambda) - (t / lambda)^rho``.
* **Log-normal**: ``log T ~ Normal(mu, sigma)``, ``S(t) = Phi(-(log t - mu) / sigma)``,
  ``log_sigma = log sigma``.
  Event: ``log f(t) = log phi(z) - log sigma - log t`` with ``z = (log t - mu) / sigma``.

A censored patient contributes ``log S(t)``. The losses are the full negative log-likelihoods (no constant
dropped), so ``-nll * n`` with ``reduction='mean'`` equals lifelines' ``log_likelihood_`` at the same
parameters.

Example:
    >>> import torch
    >>> t, d = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0])
    >>> nll_weibull_aft(torch.zeros(2), torch.zeros(2), t, d, reduction="sum")  # exponential, rate 1
    tensor(3.)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from oncoplan.errors import ModelError
from oncoplan.models.losses.discrete import reduce_loss

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _check(time: Tensor, event: Tensor, *params: Tensor) -> None:
    n = time.shape
    if event.shape != n or any(p.shape != n for p in params):
        raise ModelError(
            f"parameters, 'time' and 'event' must all have shape (n,); got "
            f"{[tuple(p.shape) for p in params]}, {tuple(time.shape)}, {tuple(event.shape)}",
            hint="pass head outputs as out[:, 0], out[:, 1]",
        )
    if time.numel() and not bool((time > 0).all()):
        bad = torch.nonzero(time <= 0).view(-1)[:5].tolist()
        raise ModelError(
            f"parametric AFT likelihoods need 'time' > 0; rows {bad} are <= 0",
            hint="drop patients with zero follow-up or add a small offset to time",
        )


def weibull_log_survival(log_scale: Tensor, log_shape: Tensor, time: Tensor) -> Tensor:
    """``log S(t) = -(t / lambda)^rho`` elementwise (broadcasting).

    Example:
        >>> weibull_log_survival(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(2.0))
        tensor(-2.)
    """
    return -torch.exp(torch.exp(log_shape) * (torch.log(time) - log_scale))


def lognormal_log_survival(mu: Tensor, log_sigma: Tensor, time: Tensor) -> Tensor:
    """``log S(t) = log Phi(-(log t - mu) / sigma)`` elementwise (broadcasting), stable in the tails.

    Example:
        >>> lognormal_log_survival(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(1.0))
        tensor(-0.6931)
    """
    z = (torch.log(time) - mu) / torch.exp(log_sigma)
    return torch.special.log_ndtr(-z)


def nll_weibull_aft(
    log_scale: Tensor, log_shape: Tensor, time: Tensor, event: Tensor, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of a right-censored Weibull AFT model.

    Args:
        log_scale: ``(n,)`` ``log lambda`` (lifelines ``lambda_`` linear predictor).
        log_shape: ``(n,)`` ``log rho`` (lifelines ``rho_`` linear predictor).
        time: ``(n,)`` follow-up time, > 0.
        event: ``(n,)`` 1.0 event / 0.0 censoring.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Example:
        >>> nll_weibull_aft(torch.zeros(1), torch.zeros(1), torch.tensor([1.0]), torch.tensor([1.0]))
        tensor(1.)
    """
    _check(time, event, log_scale, log_shape)
    event = event.to(time.dtype)
    log_t = torch.log(time)
    rho = torch.exp(log_shape)
    log_cumhaz = rho * (log_t - log_scale)
    log_hazard = log_shape - log_scale + (rho - 1.0) * (log_t - log_scale)
    loss = torch.exp(log_cumhaz) - event * log_hazard
    return reduce_loss(loss, reduction)


def nll_lognormal_aft(
    mu: Tensor, log_sigma: Tensor, time: Tensor, event: Tensor, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of a right-censored log-normal AFT model.

    Args:
        mu: ``(n,)`` mean of ``log T`` (lifelines ``mu_`` linear predictor).
        log_sigma: ``(n,)`` log standard deviation of ``log T`` (lifelines ``sigma_`` linear predictor).
        time: ``(n,)`` follow-up time, > 0.
        event: ``(n,)`` 1.0 event / 0.0 censoring.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Example:
        >>> nll_lognormal_aft(torch.zeros(1), torch.zeros(1), torch.tensor([1.0]), torch.tensor([0.0]))
        tensor(0.6931)
    """
    _check(time, event, mu, log_sigma)
    event = event.to(time.dtype)
    log_t = torch.log(time)
    z = (log_t - mu) / torch.exp(log_sigma)
    log_density = -0.5 * z**2 - _LOG_SQRT_2PI - log_sigma - log_t
    log_surv = torch.special.log_ndtr(-z)
    loss = -(event * log_density + (1.0 - event) * log_surv)
    return reduce_loss(loss, reduction)
