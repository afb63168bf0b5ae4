"""The IHDP semi-synthetic treatment-effect benchmark (10 replications of the CEVAE release).

Files ``ihdp/ihdp_npci_{1..10}.csv`` in the shared data folder (no header): treatment, y_factual,
y_cfactual, mu0, mu1, x1..x25 (x1..x6 continuous, x7..x25 binary). Both noiseless potential outcomes
``mu0`` / ``mu1`` are known, so the individual effect ``mu1 - mu0`` is the ground truth. See the folder's
PROVENANCE.md; the files are read in place, never copied.

Example:
    >>> rep = load_ihdp(1)  # doctest: +SKIP
    >>> rep.X.shape, round(float(rep.true_effect.mean()), 2)  # doctest: +SKIP
    ((747, 25), 4.02)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from oncoplan.data.paths import shared_data_dir
from oncoplan.errors import DataSourceError

IHDP_COLUMNS = ["treatment", "y_factual", "y_cfactual", "mu0", "mu1", *[f"x{i}" for i in range(1, 26)]]
N_REPLICATIONS = 10


@dataclass(frozen=True)
class IHDPReplication:
    """One IHDP replication: covariates, binary treatment, factual / counterfactual and noiseless outcomes."""

    replication: int
    X: pd.DataFrame
    treatment: np.ndarray
    y_factual: np.ndarray
    y_cfactual: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray

    @property
    def true_effect(self) -> np.ndarray:
        """Noiseless individual effect ``mu1 - mu0``."""
        return self.mu1 - self.mu0

    @property
    def n(self) -> int:
        """Number of units (747 in every replication)."""
        return len(self.treatment)


def ihdp_dir(root: Path | None = None) -> Path:
    """The IHDP folder (``<shared data>/ihdp``); :class:`DataSourceError` when absent."""
    base = shared_data_dir() if root is None else Path(root)
    path = None if base is None else base / "ihdp"
    if path is None or not path.is_dir():
        raise DataSourceError(
            "the IHDP files were not found",
            hint="they live in ../shared/data/ihdp (or set ONCOPLAN_SHARED_DATA)",
        )
    return path


def load_ihdp(replication: int, root: Path | None = None) -> IHDPReplication:
    """Load replication ``replication`` (1..10).

    Example:
        >>> load_ihdp(11)  # doctest: +SKIP
        Traceback (most recent call last):
        ...
        oncoplan.errors.DataSourceError: IHDP replication must be 1..10, got 11
    """
    if not 1 <= int(replication) <= N_REPLICATIONS:
        raise DataSourceError(f"IHDP replication must be 1..{N_REPLICATIONS}, got {replication}")
    path = ihdp_dir(root) / f"ihdp_npci_{int(replication)}.csv"
    if not path.exists():
        raise DataSourceError(f"IHDP file {path.name} not found in {path.parent}")
    df = pd.read_csv(path, header=None, float_precision="round_trip")
    if df.shape[1] != len(IHDP_COLUMNS):
        raise DataSourceError(
            f"{path} has {df.shape[1]} columns, expected {len(IHDP_COLUMNS)} "
            "(treatment, y_factual, y_cfactual, mu0, mu1, x1..x25)"
        )
    df.columns = IHDP_COLUMNS
    return IHDPReplication(
        replication=int(replication),
        X=df[IHDP_COLUMNS[5:]].astype(float),
        treatment=df["treatment"].to_numpy().astype(int),
        y_factual=df["y_factual"].to_numpy(dtype=float),
        y_cfactual=df["y_cfactual"].to_numpy(dtype=float),
        mu0=df["mu0"].to_numpy(dtype=float),
        mu1=df["mu1"].to_numpy(dtype=float),
    )


def pehe(true_effect: np.ndarray, est_effect: np.ndarray) -> float:
    """sqrt(PEHE) = ``sqrt(mean((est - true)^2))`` of the individual effect.

    Example:
        >>> pehe(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
        1.4142135623730951
    """
    return float(np.sqrt(np.mean((np.asarray(est_effect) - np.asarray(true_effect)) ** 2)))


def ate_error(true_effect: np.ndarray, est_effect: np.ndarray) -> float:
    """``|mean(est) - mean(true)|``.

    Example:
        >>> ate_error(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
        1.0
    """
    return float(abs(np.mean(est_effect) - np.mean(true_effect)))
