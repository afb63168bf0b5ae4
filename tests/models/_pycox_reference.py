"""Load pycox's reference losses and label transforms, when pycox is installed, for numerical comparison.

pycox 0.3 cannot be imported as a package on this stack: ``pycox/__init__`` imports its datasets
(``requests``, ``feather``) and ``pycox.utils`` needs ``numba``. Its loss and label-transform modules are
plain torch / numpy, so they are loaded here as submodules of a bare namespace with a pass-through
``numba.njit``. Nothing is left behind in ``sys.modules`` except the loaded pycox submodules. Install pycox
for these checks with ``pip install --no-deps pycox torchtuples`` (no other dependency is pulled).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

_CACHE: dict[str, Any] = {}


def load_pycox() -> dict[str, Any] | None:
    """Return ``{'loss', 'label_transforms', 'data'}`` pycox modules, or ``None`` when pycox is absent."""
    if _CACHE:
        return _CACHE
    spec = importlib.util.find_spec("pycox")
    tt_spec = importlib.util.find_spec("torchtuples")
    if spec is None or tt_spec is None or spec.submodule_search_locations is None:
        return None
    base = Path(next(iter(spec.submodule_search_locations)))
    saved = {k: sys.modules.get(k) for k in ("numba", "pycox", "pycox.models", "pycox.preprocessing")}
    try:
        if saved["numba"] is None:
            fake = types.ModuleType("numba")

            def njit(*args: Any, **kwargs: Any) -> Any:
                return args[0] if args and callable(args[0]) else (lambda f: f)

            fake.njit = fake.jit = njit  # type: ignore[attr-defined]
            sys.modules["numba"] = fake
        for name in ("pycox", "pycox.models", "pycox.preprocessing"):
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(base.joinpath(*name.split(".")[1:]))]  # type: ignore[attr-defined]
            sys.modules[name] = pkg
        _CACHE["loss"] = importlib.import_module("pycox.models.loss")
        _CACHE["label_transforms"] = importlib.import_module("pycox.preprocessing.label_transforms")
        _CACHE["data"] = importlib.import_module("pycox.models.data")
    except Exception:  # any failure means "reference not available"
        _CACHE.clear()
        return None
    finally:
        for key, mod in saved.items():
            if mod is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = mod
    return _CACHE
