"""oncoplan.data.simulate: semi-synthetic cohorts with known ground truth.

Example:
    >>> from oncoplan.data.simulate import load_covariates, simulate_survival
    >>> cov = load_covariates("gbsg2")  # doctest: +SKIP
    >>> sim = simulate_survival(cov.X, marker=cov.marker, confounding=1.0, seed=0)  # doctest: +SKIP
"""

from oncoplan.data.simulate.survival import (
    CovariateSet,
    SemiSyntheticSurvival,
    load_covariates,
    policy_regret,
    rmst_pehe,
    simulate_survival,
    true_rmst_weibull,
)

__all__ = [
    "CovariateSet",
    "SemiSyntheticSurvival",
    "load_covariates",
    "policy_regret",
    "rmst_pehe",
    "simulate_survival",
    "true_rmst_weibull",
]
