r"""Checks of the numbers an option takes, raising an error that names the option and what it must be."""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, overload


@overload
def checked_count(name: str, value: None, minimum: int = 1) -> None: ...
@overload
def checked_count(name: str, value: int, minimum: int = 1) -> int: ...
@overload
def checked_count(name: str, value: Any, minimum: int = 1) -> Optional[int]: ...


def checked_count(name: str, value: Any, minimum: int = 1) -> Optional[int]:
    r"""``value`` as an int if it is ``None`` or an integer of at least ``minimum``.

    Raises:
        ValueError: naming ``name``, for anything else (a float, a bool, a string, too small).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        bound = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return int(value)


def checked_number(name: str, value: Any, positive: bool = False) -> float:
    r"""``value`` as a float if it is a finite real number, positive or at least 0.

    Raises:
        ValueError: naming ``name``, for anything else (NaN, infinite, negative, a bool, a string).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number, {'positive' if positive else 'at least 0'}; got {value!r}")
    return float(value)


__all__ = ["checked_count", "checked_number"]
