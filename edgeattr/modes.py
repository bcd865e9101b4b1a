r"""What a model's output means: PyG's ModelConfig modes, stated by the user, never guessed.

=============================  ===============  ==================================  =============================
mode                           output columns   ``target``                          explained :math:`z`
=============================  ===============  ==================================  =============================
``multiclass_classification``  :math:`C \ge 2`  a class (default: the predicted)    :math:`y_t`
``binary_classification``      1                a class, 0 or 1 (default: the       :math:`y` for class 1,
                                                predicted, 1 iff :math:`y > 0`)     :math:`-y` for class 0
``binary_classification``      :math:`C \ge 2`  a label's column (required)         :math:`y_t`
                               (multi-label)
``regression``                 :math:`C \ge 1`  a column (default 0 for one)        :math:`y_t`
=============================  ===============  ==================================  =============================

With ``target=None`` a single-logit binary classifier is explained as
:math:`\operatorname{sign}(y) \cdot y`, as the paper does, so that attributions
point to the predicted class. Without a mode, an output of two or more columns
is read as multiclass; a single column is an error, since it may be a logit
(explain :math:`\operatorname{sign}(y) y`) or a value (explain :math:`y`).
"""

from __future__ import annotations

from typing import Optional

MULTICLASS, BINARY, REGRESSION = "multiclass_classification", "binary_classification", "regression"

#: The modes, as PyG's ``ModelConfig`` names them.
MODES = (MULTICLASS, BINARY, REGRESSION)


def check_mode(mode: Optional[str]) -> Optional[str]:
    r"""Returns ``mode`` if it is one of :data:`MODES` or ``None``.

    Raises:
        ValueError: naming the modes, for anything else.
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (PyG's ModelConfig modes) or None, got {mode!r}")
    return mode


def resolve_mode(mode: Optional[str], columns: int) -> str:
    r"""The mode of an output with ``columns`` values per row.

    Args:
        mode (str, optional): The mode the user stated, or ``None``.
        columns (int): Output values per explained row.

    Raises:
        ValueError: for a single column without a mode (naming the choices),
            or a multiclass mode on fewer than two columns.
    """
    if mode is None:
        if columns >= 2:
            return MULTICLASS
        raise ValueError(
            "the model returns a single value per row: say what it is with mode='binary_classification' "
            "(a logit, explained as sign(y)·y so that attributions point to the predicted class) or "
            "mode='regression' (a value, explained as y itself)"
        )
    if mode == MULTICLASS and columns < 2:
        raise ValueError(
            f"mode='{MULTICLASS}' needs an output of at least two class columns, got {columns}; "
            f"use mode='binary_classification' for a single logit or mode='regression' for a value"
        )
    return mode


__all__ = ["MODES", "MULTICLASS", "BINARY", "REGRESSION", "check_mode", "resolve_mode"]
