r"""Old names of renamed attributes, kept for one release with a warning."""

from __future__ import annotations

import warnings
from typing import Any


def renamed(old: str, new: str) -> Any:
    r"""A read-only property ``old`` that warns and returns the attribute ``new``.

    Args:
        old (str): The attribute's former name.
        new (str): Its name now.

    Returns:
        property: To assign as the class attribute ``old``.
    """

    def getter(self: Any) -> Any:
        warnings.warn(
            f"{type(self).__name__}.{old} is renamed to {new}; {old} will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(self, new)

    return property(getter, doc=f"Deprecated name of :attr:`{new}`.")
