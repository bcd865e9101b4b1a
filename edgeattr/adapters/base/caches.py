r"""Setting aside the graph caches of ``cached=True`` layers while masked graphs run."""

from __future__ import annotations

from typing import Any, Iterable, List, Tuple

import torch

#: Flags by which PyG (``cached``) and DGL (``_cached``) layers turn caching on.
CACHE_FLAGS = ("cached", "_cached")


class CacheBypass:
    r"""Puts back the caches :func:`bypass_caches` set aside (a removable handle)."""

    def __init__(self, saved: List[Tuple[torch.nn.Module, str, Any]]) -> None:
        self.saved = saved

    def remove(self) -> None:
        r"""Restores every flag and cache as it was."""
        for module, attribute, value in self.saved:
            setattr(module, attribute, value)


def bypass_caches(modules: Iterable[torch.nn.Module]) -> CacheBypass:
    r"""Turns caching off and empties the caches of ``cached=True`` layers until removed.

    PyG's GCNConv and SGConv and DGL's SGConv keep the normalised graph or the
    propagated features of their first call; the batched, masked graphs an
    adapter runs must not reuse them, and the caches must be back afterwards.

    Returns:
        A handle whose ``remove()`` restores them.
    """
    saved = []
    for module in modules:
        flags = [f for f in CACHE_FLAGS if getattr(module, f, None) is True]
        if not flags:
            continue
        caches = [a for a in vars(module) if a.startswith("_cached") and a not in CACHE_FLAGS]
        for attribute in flags + caches:
            saved.append((module, attribute, getattr(module, attribute)))
            setattr(module, attribute, False if attribute in CACHE_FLAGS else None)
    return CacheBypass(saved)
