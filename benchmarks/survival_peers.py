"""Peer models for ``benchmarks/survival.py``: pycox DeepSurv / LogisticHazard (or re-implementations).

pycox 0.3 does not import on the current stack (its package ``__init__`` pulls ``requests``, ``feather`` and
``numba``). Installed with ``pip install --no-deps pycox torchtuples``, its models run unchanged once those
three modules are stubbed (``numba.njit`` becomes a pass-through; only pycox's evaluation code uses it, and
the benchmark scores every model with oncoplan's metrics). When pycox is absent the peers fall back to
oncoplan re-implementations with pycox's settings, labelled "(re-implementation)" in every table.

Settings follow the pycox tutorials: MLP 32x32 with batch norm and dropout 0.1, Adam lr 0.01, batch 256,
up to 512 epochs with early stopping (patience 10) on a 20% validation split of the training fold;
LogisticHazard on 10 quantile cuts, interpolated 10x for prediction.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
from sklearn.model_selection import train_test_split


def _stub_pycox_imports() -> None:
    if "numba" not in sys.modules:
        numba = types.ModuleType("numba")

        class _Jitted:
            def __init__(self, func):
                self.py_func = func

            def __call__(self, *args, **kwargs):
                return self.py_func(*args, **kwargs)

        _Jitted.__module__ = "numba.stub"

        def njit(*args, **kwargs):
            if args and callable(args[0]):
                return _Jitted(args[0])
            return _Jitted

        numba.njit = njit
        numba.jit = njit
        numba.prange = range
        sys.modules["numba"] = numba
    for name in ("requests", "feather"):
        sys.modules.setdefault(name, types.ModuleType(name))


def pycox_available() -> bool:
    """Whether pycox and torchtuples can be imported (with the stubs above)."""
    if importlib.util.find_spec("pycox") is None or importlib.util.find_spec("torchtuples") is None:
        return False
    try:
        _stub_pycox_imports()
        import pycox.models  # noqa: F401
        import torchtuples  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return False
    return True


class PycoxModel:
    """pycox DeepSurv (``kind='deepsurv'``) or LogisticHazard (``kind='logistic_hazard'``), pycox defaults.

    ``fit(X, y)``, ``predict(X)`` (risk) and ``survival(X) -> (array (n, k), grid (k,))``.
    """

    def __init__(self, kind: str, seed: int = 0) -> None:
        self.kind = kind
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> PycoxModel:
        _stub_pycox_imports()
        import torch
        import torchtuples as tt
        from pycox.models import CoxPH, LogisticHazard

        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        event = y["event"].astype("float32")
        time = y["time"].astype("float32")
        x = X.astype("float32")
        tr, va = train_test_split(
            np.arange(len(x)), test_size=0.2, random_state=self.seed, stratify=event.astype(int)
        )
        callbacks = [tt.callbacks.EarlyStopping(patience=10)]
        if self.kind == "deepsurv":
            net = tt.practical.MLPVanilla(x.shape[1], [32, 32], 1, True, 0.1, output_bias=False)
            self.model = CoxPH(net, tt.optim.Adam)
            self.model.optimizer.set_lr(0.01)
            target_tr, target_va = (time[tr], event[tr]), (time[va], event[va])
        else:
            self.labtrans = LogisticHazard.label_transform(10)
            target_tr = self.labtrans.fit_transform(time[tr], event[tr])
            target_va = self.labtrans.transform(time[va], event[va])
            net = tt.practical.MLPVanilla(x.shape[1], [32, 32], self.labtrans.out_features, True, 0.1)
            self.model = LogisticHazard(net, tt.optim.Adam(0.01), duration_index=self.labtrans.cuts)
        self.model.fit(x[tr], target_tr, 256, 512, callbacks, verbose=False, val_data=(x[va], target_va))
        if self.kind == "deepsurv":
            self.model.compute_baseline_hazards(x, (time, event))
        return self

    def survival(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = self.model if self.kind == "deepsurv" else self.model.interpolate(10)
        frame = model.predict_surv_df(X.astype("float32"))
        return frame.to_numpy().T.astype(float), frame.index.to_numpy(dtype=float)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "deepsurv":
            return self.model.predict(X.astype("float32")).reshape(-1).astype(float)
        surv, grid = self.survival(X)
        return -np.trapezoid(surv, grid, axis=1)


def reimplementation(kind: str, seed: int = 0):
    """oncoplan re-implementation of the pycox peer with pycox's settings (used when pycox is absent)."""
    from oncoplan.models.survival import DeepSurvival

    head = "cox" if kind == "deepsurv" else "logistic_hazard"
    options = {} if kind == "deepsurv" else {"n_cuts": 10}
    return DeepSurvival(
        head=head,
        hidden=(32, 32),
        dropout=0.1,
        norm="batch",
        linear_skip=False,
        linear_init=False,
        lr=0.01,
        weight_decay=0.0,
        batch_size=256,
        max_epochs=512,
        patience=10,
        validation_fraction=0.2,
        n_ensemble=1,
        standardize=False,
        max_features=None,
        random_state=seed,
        head_options=options,
    )
