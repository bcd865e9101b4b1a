r"""The state a model is explained in, shared by explanations running in several threads.

While any thread explains a model, each of its modules is in eval mode, the
caches of its ``cached=True`` layers are set aside, and one set of
dispatching hooks is installed on it. Each hook hands the call to the
handler of the thread it runs in (and does nothing in other threads), so
that no thread ever adds or removes a hook while another iterates over them.
The set-up is counted per module, not per model: two models that share a
layer, explained at once, install its hooks once and restore its flags once.
The first explanation to reach a module sets it up; the last to leave undoes
it, also when a forward raised.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch

from edgeattr.adapters.base.caches import bypass_caches
from edgeattr.adapters.base.checkpoints import checkpoints_run_directly

_lock = threading.Lock()
#: id(module) -> (explanations running through it, how to restore it)
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


def _install(module: torch.nn.Module) -> Callable[[], None]:
    """Sets one module up for explanations; returns how to undo it."""
    training = module.training
    caches = bypass_caches([module])
    handles = [
        module.register_forward_pre_hook(_forward_pre, with_kwargs=True),
        module.register_forward_hook(_forward_post, with_kwargs=True),
    ]
    if hasattr(module, "register_message_forward_hook"):  # a PyG MessagePassing layer
        layer: Any = module  # (PyG's hook registration is not typed)
        handles.append(layer.register_propagate_forward_pre_hook(_propagate_pre))
        handles.append(layer.register_message_forward_hook(_message_post))
        handles.append(layer.register_propagate_forward_hook(_propagate_post))
    module.training = False
    # A PyG layer's fused message_and_aggregate (taken for sparse adjacency inputs) sends no message a mask can reach.
    fused = getattr(module, "fuse", None) is True
    if fused:
        setattr(module, "fuse", False)

    def restore() -> None:
        for handle in handles:
            handle.remove()
        module.training = training
        if fused:
            setattr(module, "fuse", True)
        caches.remove()

    return restore


def _enter(modules: List[torch.nn.Module]) -> None:
    with _lock:
        for entered, module in enumerate(modules):
            running = _running.get(id(module))
            try:
                _running[id(module)] = (1, _install(module)) if running is None else (running[0] + 1, running[1])
            except BaseException:
                _leave_locked(modules[:entered])
                raise


def _leave(modules: List[torch.nn.Module]) -> None:
    with _lock:
        _leave_locked(modules)


def _leave_locked(modules: List[torch.nn.Module]) -> None:
    for module in modules:
        count, restore = _running.pop(id(module))
        if count > 1:
            _running[id(module)] = (count - 1, restore)
        else:
            restore()


@contextmanager
def observing(handler: Handler) -> Iterator[None]:
    r"""Adds ``handler`` after the explanation's own handler in this thread's passes run in the body.

    For a method that reads what flows through the model's modules (the walk
    search keeps each layer's input) without hooks of its own, which would
    run in every thread.
    """
    observers = getattr(_local, "observers", [])
    _local.observers = observers + [handler]
    try:
        yield
    finally:
        _local.observers = observers


@contextmanager
def prepared(model: torch.nn.Module, handler: Optional[Handler] = None) -> Iterator[None]:
    r"""Runs the body with the model prepared for explanation and this thread's hooks routed to ``handler``.

    Args:
        model (torch.nn.Module): The model.
        handler (Handler, optional): What this thread does at the model's hooks;
            the handlers of :func:`observing` follow it.
    """
    modules = list(model.modules())
    observers = getattr(_local, "observers", [])
    routed = Handlers([h for h in [handler, *observers] if h is not None]) if observers else handler
    with ExitStack() as stack:
        _enter(modules)
        stack.callback(_leave, modules)
        stack.enter_context(checkpoints_run_directly())
        previous = _current()
        _local.handler = routed
        stack.callback(setattr, _local, "handler", previous)
        yield
