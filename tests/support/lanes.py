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


def skip_unless_dgl_lane() -> None:
    """Skips a DGL test module in the modern lane, with the reason; in the dgl lane DGL must then import."""
    import pytest

    if lane() != "dgl":
        pytest.skip(
            "DGL tests run in the dgl lane: DGL 2.1.0 loads only with torch <= 2.2.1, and this lane has torch 2.13",
            allow_module_level=True,
        )
