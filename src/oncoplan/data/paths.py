"""Where the optional shared datasets live.

``ONCOPLAN_SHARED_DATA`` overrides the default ``<project root>/../shared/data``.

Example:
    >>> shared_data_dir() is None or shared_data_dir().is_dir()
    True
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when it is absent."""
    env = os.environ.get("ONCOPLAN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / ".." / "shared" / "data" for p in here.parents[:6]]
    candidates.append(Path.cwd() / ".." / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None
