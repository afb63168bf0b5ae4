"""Named tensors of a deep ensemble for safetensors bundles (no pickles): one prefix per member.

Example:
    >>> import torch
    >>> nets = [torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)]
    >>> tensors = ensemble_tensors(nets)
    >>> sorted(tensors)[:2]
    ['member0.bias', 'member0.weight']
    >>> load_member(torch.nn.Linear(2, 1), tensors, 1).weight.equal(nets[1].weight)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def ensemble_tensors(networks: Sequence[torch.nn.Module]) -> dict[str, torch.Tensor]:
    """Every member's ``state_dict`` as CPU tensors named ``member{k}.{parameter}``."""
    return {
        f"member{k}.{name}": t.detach().cpu().contiguous()
        for k, net in enumerate(networks)
        for name, t in net.state_dict().items()
    }


def load_member(net: torch.nn.Module, tensors: dict[str, torch.Tensor], k: int) -> torch.nn.Module:
    """Load member ``k``'s tensors (from :func:`ensemble_tensors`) into ``net``; returns it in eval mode."""
    prefix = f"member{k}."
    state = {n[len(prefix) :]: t for n, t in tensors.items() if n.startswith(prefix)}
    for name, module in net.named_modules():  # e.g. a Cox head's baseline: sized by the data, not the design
        for buffer in getattr(module, "resizable_buffers", ()):
            key = f"{name}.{buffer}" if name else buffer
            if key in state:
                setattr(module, buffer, torch.empty_like(state[key]))
    net.load_state_dict(state)
    return net.eval()
