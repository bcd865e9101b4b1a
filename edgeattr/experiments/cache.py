r"""Trained models cached on disk, keyed by their configuration and seed."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Dict, Mapping, Optional, TypeVar

import torch
from torch.nn import Module

ModelT = TypeVar("ModelT", bound=Module)

#: Environment variable that moves the cache (default ``~/.cache/edgeattr/models``).
CACHE_ENV = "EDGEATTR_CACHE"


def default_cache_dir() -> str:
    r"""``$EDGEATTR_CACHE`` if set, else ``~/.cache/edgeattr/models``."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "edgeattr", "models")


def configuration_key(config: Mapping[str, Any]) -> str:
    r"""A short stable hash of a JSON-serialisable configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_or_train(
    model: ModelT,
    config: Mapping[str, Any],
    train: Callable[[ModelT], Dict[str, float]],
    cache_dir: Optional[str] = None,
) -> Dict[str, float]:
    r"""Loads ``model``'s trained weights from the cache, or trains it and stores them.

    Args:
        model (Module): A freshly built model; its parameters are overwritten
            from the cache or by ``train``.
        config (Mapping): Everything that determines the trained weights
            (dataset, architecture, sizes, training options, seed).
        train (Callable): ``train(model) -> metrics``; trains in place.
        cache_dir (str, optional): The cache folder; ``None`` uses
            :func:`default_cache_dir`; ``""`` disables the cache.

    Returns:
        dict: The training metrics (as stored when the model was trained).
    """
    folder = default_cache_dir() if cache_dir is None else cache_dir
    path = os.path.join(folder, f"{configuration_key(config)}.pt") if folder else ""
    if path and os.path.exists(path):
        stored = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(stored["state"])
        return dict(stored["metrics"])
    metrics = train(model)
    if path:
        os.makedirs(folder, exist_ok=True)
        partial = f"{path}.{os.getpid()}.tmp"
        torch.save({"state": model.state_dict(), "metrics": metrics, "config": json.dumps(config, sort_keys=True, default=str)}, partial)
        os.replace(partial, path)
    return metrics
