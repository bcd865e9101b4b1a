"""Which of the two pinned test lanes is running."""

import importlib.metadata
import os


def lane() -> str:
    """'dgl' or 'modern': EDGEATTR_LANE if set (make test sets it), else whether DGL is installed."""
    name = os.environ.get("EDGEATTR_LANE")
    if name:
        return name
    try:
        importlib.metadata.version("dgl")
        return "dgl"
    except importlib.metadata.PackageNotFoundError:
        return "modern"
