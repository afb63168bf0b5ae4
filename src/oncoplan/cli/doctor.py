"""``oncoplan doctor``: versions, device and optional data folders."""

from __future__ import annotations

import torch

from oncoplan.cli.common import console, handle_errors
from oncoplan.data.paths import shared_data_dir
from oncoplan.store.bundle import package_versions


@handle_errors
def doctor() -> None:
    """Print package versions, the compute device and where optional data lives."""
    for name, version in package_versions().items():
        console.print(f"{name:16s} {version}")
    device = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    console.print(f"{'device':16s} {device}")
    console.print(f"{'shared data':16s} {shared_data_dir() or 'not found (optional)'}")
