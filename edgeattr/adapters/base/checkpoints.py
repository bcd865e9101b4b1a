r"""Running ``torch.utils.checkpoint`` regions directly while a thread explains a model.

Activation checkpointing recomputes a region's forward during the backward
pass, after the explanation's hooks are gone: the recomputed messages would
not be weighted by the mask, and the gradients would silently lose them (or
torch would fail on the mismatch). Checkpointing changes memory, never values,
so while a thread explains a model its checkpointed regions run as plain calls
(the reentrant and the non-reentrant variant, and ``checkpoint_sequential``,
which calls them). Other threads keep checkpointing; torch is unpatched once
no thread explains.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch.utils.checkpoint as torch_checkpoint

_original_function = torch_checkpoint.CheckpointFunction
_original_generator = torch_checkpoint._checkpoint_without_reentrant_generator
_lock = threading.Lock()
_users = 0
_local = threading.local()


def _explaining() -> bool:
    return getattr(_local, "depth", 0) > 0


class _ReentrantCheckpoint:
    """Stands in for ``CheckpointFunction``: its ``apply`` runs the region directly in explaining threads."""

    @staticmethod
    def apply(function: Callable, preserve_rng_state: bool, *args: Any) -> Any:
        if _explaining():
            return function(*args)
        return _original_function.apply(function, preserve_rng_state, *args)


def _direct_generator() -> Iterator[None]:
    """The non-reentrant context of a region that runs directly: nothing before, nothing after."""
    yield


def _non_reentrant_checkpoint(*args: Any, **kwargs: Any) -> Iterator[None]:
    if _explaining():
        return _direct_generator()
    return _original_generator(*args, **kwargs)


@contextmanager
def checkpoints_run_directly() -> Iterator[None]:
    r"""Runs this thread's ``torch.utils.checkpoint`` regions as plain calls in the body."""
    global _users
    with _lock:
        if _users == 0:
            setattr(torch_checkpoint, "CheckpointFunction", _ReentrantCheckpoint)
            setattr(torch_checkpoint, "_checkpoint_without_reentrant_generator", _non_reentrant_checkpoint)
        _users += 1
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        with _lock:
            _users -= 1
            if _users == 0:
                setattr(torch_checkpoint, "CheckpointFunction", _original_function)
                setattr(torch_checkpoint, "_checkpoint_without_reentrant_generator", _original_generator)
