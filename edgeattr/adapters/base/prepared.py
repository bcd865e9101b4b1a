r"""The state a model is explained in, shared by explanations running in several threads.

While any thread explains a model, the model is in eval mode, the caches of
its ``cached=True`` layers are set aside, and one set of dispatching hooks is
installed on its modules. Each hook hands the call to the handler of the
thread it runs in (and does nothing in other threads), so that no thread
ever adds or removes a hook while another iterates over them. The first
thread to enter sets this up; the last to leave undoes all of it, also when
a forward raised.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch

from edgeattr.adapters.base.caches import bypass_caches

_lock = threading.Lock()
#: id(model) -> (explanations running on it, how to restore it)
_running: Dict[int, Tuple[int, Callable[[], None]]] = {}
_local = threading.local()


class Handler:
    r"""What an explanation does at the model's hooks, in its own thread.

    Every method may return a replacement (of the inputs, the messages or the
    output) or ``None``; the defaults do nothing.
    """

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[Tuple[tuple, dict]]:
        r"""Before ``module.forward``."""
        return None

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        r"""After ``module.forward``."""
        return None

    def propagate_pre(self, module: torch.nn.Module, inputs: tuple) -> None:
        r"""Before a PyG ``propagate`` call."""
        return None

    def message_post(self, module: torch.nn.Module, inputs: tuple, messages: Any) -> Optional[Any]:
        r"""After a PyG ``message`` call: may return weighted messages."""
        return None

    def propagate_post(self, module: torch.nn.Module, inputs: tuple, output: Any) -> None:
        r"""After a PyG ``propagate`` call."""
        return None


class Handlers(Handler):
    r"""Several handlers in order; replacements are chained."""

    def __init__(self, handlers: List[Handler]) -> None:
        self.handlers = handlers

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[Tuple[tuple, dict]]:
        replaced = None
        for handler in self.handlers:
            result = handler.forward_pre(module, args, kwargs)
            if result is not None:
                replaced = args, kwargs = result
        return replaced

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        for handler in self.handlers:
            handler.forward_post(module, args, kwargs, output)

    def propagate_pre(self, module: torch.nn.Module, inputs: tuple) -> None:
        for handler in self.handlers:
            handler.propagate_pre(module, inputs)

    def message_post(self, module: torch.nn.Module, inputs: tuple, messages: Any) -> Optional[Any]:
        replaced = None
        for handler in self.handlers:
            result = handler.message_post(module, inputs, messages)
            if result is not None:
                replaced = messages = result
        return replaced

    def propagate_post(self, module: torch.nn.Module, inputs: tuple, output: Any) -> None:
        for handler in self.handlers:
            handler.propagate_post(module, inputs, output)


def _current() -> Optional[Handler]:
    return getattr(_local, "handler", None)


def _forward_pre(module: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[Tuple[tuple, dict]]:
    handler = _current()
    return None if handler is None else handler.forward_pre(module, args, kwargs)


def _forward_post(module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
    handler = _current()
    return None if handler is None else handler.forward_post(module, args, kwargs, output)


def _propagate_pre(module: torch.nn.Module, inputs: tuple) -> None:
    handler = _current()
    return None if handler is None else handler.propagate_pre(module, inputs)


def _message_post(module: torch.nn.Module, inputs: tuple, messages: Any) -> Optional[Any]:
    handler = _current()
    return None if handler is None else handler.message_post(module, inputs, messages)


def _propagate_post(module: torch.nn.Module, inputs: tuple, output: Any) -> None:
    handler = _current()
    return None if handler is None else handler.propagate_post(module, inputs, output)


def _install(model: torch.nn.Module) -> Callable[[], None]:
    """Sets the model up for explanations; returns how to undo it."""
    flags = [(module, module.training) for module in model.modules()]
    caches = bypass_caches(model.modules())
    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(_forward_pre, with_kwargs=True))
        handles.append(module.register_forward_hook(_forward_post, with_kwargs=True))
        if hasattr(module, "register_message_forward_hook"):  # a PyG MessagePassing layer
            handles.append(module.register_propagate_forward_pre_hook(_propagate_pre))
            handles.append(module.register_message_forward_hook(_message_post))
            handles.append(module.register_propagate_forward_hook(_propagate_post))
    model.eval()

    def restore() -> None:
        for handle in handles:
            handle.remove()
        for module, training in flags:
            module.training = training
        caches.remove()

    return restore


@contextmanager
def prepared(model: torch.nn.Module, handler: Optional[Handler] = None) -> Iterator[None]:
    r"""Runs the body with the model prepared for explanation and this thread's hooks routed to ``handler``.

    Args:
        model (torch.nn.Module): The model.
        handler (Handler, optional): What this thread does at the model's hooks.
    """
    key = id(model)
    with _lock:
        count, restore = _running.get(key, (0, None))
        if count == 0:
            restore = _install(model)
        _running[key] = (count + 1, restore)
    previous = _current()
    _local.handler = handler
    try:
        yield
    finally:
        _local.handler = previous
        with _lock:
            count, restore = _running.pop(key)
            if count > 1:
                _running[key] = (count - 1, restore)
            else:
                restore()
