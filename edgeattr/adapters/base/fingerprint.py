r"""What an adapter's cached work depends on, compared cheaply: the model's settings and the inputs' identity.

Layer discovery and verification are kept per model between adapters, so that
a loop over nodes pays them once. They stay valid while the model's modules
and settings (``normalize``, ``add_self_loops``, ``aggr``, ...), its parameters
and buffers (their ``_version``, bumped by every in-place update such as an
optimiser step) and the inputs (the same objects, unmodified) stay the same.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Iterable, List, Optional, Tuple

import torch
from torch import Tensor

_PLAIN_TYPES = frozenset((bool, int, float, str, type(None)))


def _plain(value: Any) -> bool:
    kind = type(value)
    return kind in _PLAIN_TYPES or (kind is tuple and all(type(v) in _PLAIN_TYPES for v in value))


def module_settings(model: torch.nn.Module) -> tuple:
    r"""Each module of ``model`` with its plain-valued attributes (flags, sizes, names), training flag aside.

    Explanations run in eval mode whatever the flag, so it is left out.
    """
    return tuple(
        (id(module), type(module), tuple((k, v) for k, v in vars(module).items() if k != "training" and _plain(v)))
        for module in model.modules()
    )


def tensor_state(tensor: Tensor) -> tuple:
    r"""What identifies a tensor's values without reading them: its storage, version, shape, dtype and device.

    A sparse tensor is identified by the storage, shape and dtype of its index and value tensors,
    without versions: PyG marks a COO adjacency coalesced in place on every read, which bumps them.
    """
    if tensor.layout != torch.strided:
        parts = tuple((part.data_ptr(), tuple(part.shape), part.dtype) for part in _sparse_parts(tensor))
        return (str(tensor.layout), tuple(tensor.shape), str(tensor.device)) + parts
    pointer = tensor.data_ptr() if tensor.device.type != "meta" else 0
    return (pointer, tensor._version, tuple(tensor.shape), tensor.dtype, str(tensor.device))


def _sparse_parts(tensor: Tensor) -> Tuple[Tensor, ...]:
    """The dense tensors a sparse tensor is stored in."""
    if tensor.layout == torch.sparse_coo:
        return tensor._indices(), tensor._values()
    if tensor.layout in (torch.sparse_csr, torch.sparse_bsr):
        return tensor.crow_indices(), tensor.col_indices(), tensor.values()
    return tensor.ccol_indices(), tensor.row_indices(), tensor.values()


def parameter_state(model: torch.nn.Module) -> tuple:
    r"""The state of every parameter and buffer of ``model`` (see :func:`tensor_state`)."""
    return tuple((id(t), tensor_state(t)) for t in (*model.parameters(), *model.buffers()))


class Snapshot:
    r"""A model and the objects it is called with, as they are now.

    Two snapshots match when the model has the same modules, settings and
    parameter versions, and each object is the very same one (held by a weak
    reference, so that a new object at a freed address never matches) in the
    same state. Plain values (numbers, strings, ``None``) match by equality; a
    snapshot holding another object without weak references never matches.

    Args:
        model (torch.nn.Module): The model.
        objects (Iterable[tuple[object, tuple]]): Each input and its state,
            e.g. ``(x, tensor_state(x))``.
        settings (tuple, optional): ``module_settings(model)``, if already at hand.
    """

    def __init__(self, model: torch.nn.Module, objects: Iterable[Tuple[Any, tuple]], settings: Optional[tuple] = None) -> None:
        self.model = (module_settings(model) if settings is None else settings, parameter_state(model))
        self.objects: List[Tuple[Any, tuple]] = [(value if _plain(value) else _weak(value), state) for value, state in objects]

    def matches(self, other: "Snapshot") -> bool:
        r"""Whether ``other`` is of the same model and inputs in the same state."""
        if self.model != other.model or len(self.objects) != len(other.objects):
            return False
        for (held, state), (other_held, other_state) in zip(self.objects, other.objects):
            if state != other_state or not _same(held, other_held):
                return False
        return True

    def alive(self) -> bool:
        r"""Whether every input it refers to still exists."""
        return all(not isinstance(held, weakref.ref) or held() is not None for held, _ in self.objects)


class InputState:
    r"""The state of named tensors now, to tell later which of them changed.

    Args:
        read (Callable): Yields ``(name, tensor)`` pairs; called now and by
            :meth:`modified`, so that tensors replaced in a container (a DGL
            graph's node data) are seen too.
    """

    def __init__(self, read: Callable[[], Iterable[Tuple[str, Tensor]]]) -> None:
        self._read = read
        self._states = {name: tensor_state(tensor) for name, tensor in read()}

    def modified(self) -> List[str]:
        r"""The names whose tensor was modified in place, replaced or removed since."""
        now = {name: tensor_state(tensor) for name, tensor in self._read()}
        return [name for name, state in self._states.items() if now.get(name) != state]


class _Opaque:
    """Stands for an object without weak references: it matches nothing."""


def _weak(value: Any) -> Any:
    try:
        return weakref.ref(value)
    except TypeError:
        return _Opaque()


def _same(held: Any, other: Any) -> bool:
    if isinstance(held, weakref.ref):
        return isinstance(other, weakref.ref) and held() is not None and held() is other()
    if isinstance(held, _Opaque) or isinstance(other, (weakref.ref, _Opaque)):
        return False
    return held == other


__all__ = ["InputState", "Snapshot", "module_settings", "parameter_state", "tensor_state"]


def snapshot_objects(named: Iterable[Tuple[str, Any]]) -> List[Tuple[Any, tuple]]:
    r"""The objects a verification record of these inputs depends on: every tensor inside them (in dicts,
    tuples and lists) with its name and :func:`~edgeattr.adapters.base.fingerprint.tensor_state`, and each
    other value as it is (plain values match by equality, other objects by identity)."""
    objects: List[Tuple[Any, tuple]] = []
    for name, value in named:
        if isinstance(value, Tensor):
            objects.append((value, (name,) + tensor_state(value)))
        elif isinstance(value, dict):
            objects += snapshot_objects((f"{name}[{key!r}]", item) for key, item in value.items())
        elif isinstance(value, (tuple, list)):
            objects += snapshot_objects((f"{name}[{i}]", item) for i, item in enumerate(value))
        else:
            objects.append((value, (name,)))
    return objects
