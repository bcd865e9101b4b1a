r"""A link-prediction model written as ``encode`` + ``decode`` (PyG's ``link_pred.py``), called as one forward."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from edgeattr.adapters.base.call import Key


def defines_forward(model: torch.nn.Module) -> bool:
    r"""Whether ``model``'s class defines ``forward`` (``torch.nn.Module``'s own raises ``NotImplementedError``)."""
    return type(model).forward is not torch.nn.Module.forward


def is_encoder_decoder(model: torch.nn.Module) -> bool:
    r"""Whether ``model`` has no ``forward`` of its own but an ``encode`` and a ``decode`` method."""
    return not defines_forward(model) and callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))


class EncoderDecoder(torch.nn.Module):
    r"""Calls a link-prediction model's ``encode`` and ``decode`` as one forward.

    PyG's link-prediction example defines no ``forward``: its training loop
    runs ``z = model.encode(x, edge_index)`` and then
    ``model.decode(z, edge_label_index)``. This module's forward takes the
    parameters of ``encode`` followed by the pair argument of ``decode`` (its
    second parameter, by its own name), and returns

    .. math::
        \texttt{decode}(\texttt{encode}(x, \texttt{edge\_index}), \texttt{edge\_label\_index}),

    so that an adapter binds and explains it like any model with a forward.
    The model is held as the only child, so its modules, parameters and
    hooks are those an explanation reaches and restores.

    Args:
        model (torch.nn.Module): The model, with ``encode(*inputs)`` and ``decode(z, pairs)``.

    Raises:
        TypeError: if ``decode`` takes no second parameter, or ``encode`` takes
            variadic arguments (its parameters name the forward's).
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        encode = list(inspect.signature(_method(model, "encode")).parameters.values())
        decode = list(inspect.signature(_method(model, "decode")).parameters.values())
        if len(decode) < 2 or any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in encode):
            raise TypeError(
                f"{type(model).__name__} has no forward, and its encode / decode are not encode(x, edge_index, ...) and "
                f"decode(z, edge_label_index): define forward(x, edge_index, edge_label_index) returning the pair scores"
            )
        pairs = decode[1].replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
        #: The name of the pair argument (``decode``'s second parameter).
        self.pairs_name: Key = pairs.name
        self._signature = inspect.Signature([p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in encode] + [pairs])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        r"""``decode(encode(...), pairs)`` for ``encode``'s arguments and the pair argument."""
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        pairs = arguments.pop(str(self.pairs_name))
        return _method(self.model, "decode")(_method(self.model, "encode")(**arguments), pairs)

    def forward_signature(self) -> inspect.Signature:
        r"""The forward's parameters: ``encode``'s, then ``decode``'s pair argument."""
        return self._signature


def _method(model: torch.nn.Module, name: str) -> Callable[..., Any]:
    """The bound method ``name`` of ``model`` (``encode`` or ``decode``)."""
    method: Callable[..., Any] = getattr(model, name)
    return method
