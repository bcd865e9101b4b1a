"""Exceptions raised by edgeattr's own input checks, and the warning of a fallback."""

import os
import sys
import warnings
from types import FrameType
from typing import Optional


class UnsupportedLayerError(TypeError):
    r"""A layer of the model passes messages in a way an edge mask cannot reach.

    Raised for layers that bypass message passing (relational convolutions that
    split ``edge_index`` by relation, fused sparse-adjacency kernels, dense
    convolutions) instead of returning attributions that silently ignore them.
    """


class FallbackWarning(UserWarning):
    r"""An adapter's shortcut did not reproduce the model, so it explains on the exact path instead.

    Issued once per (model, inputs) when the computation subgraph, or copies
    of the graph run together in one pass, give another output than the
    model's own on the full input (a normalisation over all nodes, batch
    statistics, a global softmax). The explanation is then computed on the
    full input, one mask per pass: exact, and slower. Filter it with
    ``warnings.simplefilter("ignore", edgeattr.FallbackWarning)``.
    """


class VerificationError(RuntimeError):
    r"""The model's output cannot be reproduced on the exact path, so no explanation of it can be exact.

    Raised when a pass over the user's full input, with every edge at weight
    1, differs from the model's own output on that input: a model that is
    not deterministic in eval mode (random numbers in ``forward``), or whose
    messages are changed by something edgeattr does not see.
    """


class InputModifiedError(RuntimeError):
    r"""The model's inputs changed while an adapter relied on them.

    Raised when the model modifies an input in place during ``forward`` (an
    in-place sort of ``edge_index``, ``x.relu_()``), or when an input was
    modified after the adapter was built: every later pass would run on other
    inputs than the ones explained.
    """


#: The folder of the package: code whose file lies below it is edgeattr's own.
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _runs_edgeattr(frame: FrameType) -> bool:
    """Whether ``frame`` runs edgeattr's own code."""
    return os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep)


def warn_at_caller(message: str, category: type = FallbackWarning) -> None:
    r"""Issues a warning attributed to the first frame outside edgeattr: the user's line that led to it."""
    frame: Optional[FrameType]
    level, frame = 2, sys._getframe(1)
    while frame is not None and _runs_edgeattr(frame):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


def raised_by_edgeattr(error: BaseException) -> bool:
    r"""Whether ``error`` was raised in edgeattr's own code (a refusal or a fault of edgeattr), not in the model's.

    The frame that raised it is the last of its traceback; errors the model's
    own computation raises (in the model, PyG, DGL or torch) come from frames
    outside the package, even when edgeattr's hooks are on the way. A torch
    function fails in the frame of the edgeattr ``TorchFunctionMode`` that
    called it for the model: that error is the model's, unless the mode itself
    refused the call.
    """
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    if trace is None or not _runs_edgeattr(trace.tb_frame):
        return False
    return trace.tb_frame.f_code.co_name != "__torch_function__" or isinstance(error, UnsupportedLayerError)
