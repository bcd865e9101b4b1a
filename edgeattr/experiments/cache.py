r"""Trained models cached on disk, keyed by everything that determines their weights."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from types import ModuleType
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, TypeVar

import torch
from torch.nn import Module

ModelT = TypeVar("ModelT", bound=Module)

#: Environment variable that moves the cache (default ``~/.cache/edgeattr/models``).
CACHE_ENV = "EDGEATTR_CACHE"

#: Entries every cache configuration must name, since the weights depend on them.
REQUIRED_KEYS = ("seed", "epochs")


def default_cache_dir() -> str:
    r"""``$EDGEATTR_CACHE`` if set, else ``~/.cache/edgeattr/models``."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "edgeattr", "models")


def code_hash(functions: Sequence[Callable[..., Any]]) -> str:
    r"""A hash of the source of the modules that define ``functions``.

    Whole modules are hashed, not single functions, so that a change to a helper
    that a training function calls (in the same module) also changes the hash;
    lambdas and closures count by the module they are written in.

    Args:
        functions (Sequence[Callable]): The training code.

    Returns:
        str: 20 hexadecimal digits.
    """
    modules = {module.__name__: module for module in map(_defining_module, functions)}
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode())
        digest.update(inspect.getsource(modules[name]).encode())
    return digest.hexdigest()[:20]


def _defining_module(function: Callable[..., Any]) -> ModuleType:
    module = inspect.getmodule(function)
    if module is None:
        raise ValueError(f"cannot find the module of the training code {function!r}: define it in a module file")
    return module


def configuration_key(config: Mapping[str, Any], code: Sequence[Callable[..., Any]] = ()) -> str:
    r"""A short stable hash of a training configuration, the training code and torch's numerics.

    The key covers ``config`` (key order does not matter), :func:`code_hash` of
    ``code``, torch's CPU thread count at the time of the call (the order of
    floating-point reductions, hence the weights, depends on it) and torch's version.

    Args:
        config (Mapping): JSON-serialisable; must name ``seed`` and ``epochs``.
        code (Sequence[Callable]): The functions that train (their modules are hashed).

    Returns:
        str: 20 hexadecimal digits.

    Raises:
        ValueError: where ``config`` lacks ``seed`` or ``epochs``.
    """
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ValueError(f"the cache configuration lacks {', '.join(missing)}: add them, since the trained weights depend on them")
    described = {"config": dict(config), "code": code_hash(code), "threads": torch.get_num_threads(), "torch": torch.__version__}
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_or_train(
    model: ModelT,
    config: Mapping[str, Any],
    train: Callable[[ModelT], Dict[str, float]],
    cache_dir: Optional[str] = None,
    code: Sequence[Callable[..., Any]] = (),
) -> Dict[str, float]:
    r"""Loads ``model``'s trained weights from the cache, or trains it and stores them.

    Args:
        model (Module): A freshly built model; its parameters are overwritten
            from the cache or by ``train``.
        config (Mapping): Everything that determines the trained weights
            (dataset, architecture, sizes, recipe, training options, ``epochs``, ``seed``).
        train (Callable): ``train(model) -> metrics``; trains in place.
        cache_dir (str, optional): The cache folder; ``None`` uses
            :func:`default_cache_dir`; ``""`` disables the cache.
        code (Sequence[Callable]): Training functions defined outside ``train``'s
            module; their modules and ``train``'s are part of the key (see :func:`configuration_key`).

    Returns:
        dict: The training metrics (as stored when the model was trained).
    """
    key = configuration_key(config, [train, *code])  # checked with or without a cache
    folder = default_cache_dir() if cache_dir is None else cache_dir
    path = os.path.join(folder, f"{key}.pt") if folder else ""
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
