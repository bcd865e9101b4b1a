r"""What adapters derive from a user's input object, kept while the object lives.

A loop that builds one adapter per target over the same inputs would otherwise
derive the same index of the graph, or the same check of the features, once per
target. Nothing kept is trusted blindly: every entry is used only when its
``still_valid`` test on the object as it is now passes (its version counter, or
its edges compared), so an input changed in place is derived again.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Dict, Tuple, TypeVar

T = TypeVar("T")


def remembered(owner: Any, name: str, still_valid: Callable[[T], bool], derive: Callable[[], T]) -> T:
    r"""``derive()`` for ``owner``, computed once and kept while ``owner`` lives and ``still_valid`` holds.

    Args:
        owner: The input object the value is derived from (a tensor, a graph);
            it must support weak references.
        name (str): What is derived (one owner keeps several values).
        still_valid (Callable): Whether a kept value still holds for ``owner`` as it is now.
        derive (Callable): Computes the value.

    Returns:
        The kept value, or a newly derived one (then kept).
    """
    entry = _KEPT.get(id(owner))
    if entry is None or entry[0]() is not owner:
        entry = (weakref.ref(owner), {})
        _KEPT[id(owner)] = entry
        weakref.finalize(owner, _forget, id(owner), entry[0])
    values = entry[1]
    if name in values and still_valid(values[name]):
        return values[name]
    values[name] = value = derive()
    return value


def _forget(key: int, reference: "weakref.ref[Any]") -> None:
    if key in _KEPT and _KEPT[key][0] is reference:
        del _KEPT[key]


#: Per live owner (by id: a weak dictionary would compare tensors with ``==``, elementwise), a weak
#: reference to it and its derived values by name.
_KEPT: Dict[int, Tuple["weakref.ref[Any]", Dict[str, Any]]] = {}
