"""Each lane runs with the versions its requirement file pins, and the dgl lane has DGL."""

import importlib
import importlib.metadata
import pathlib

import pytest

from tests.support.lanes import lane

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pins() -> dict:
    lines = (ROOT / "requirements" / f"{lane()}.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


@pytest.mark.parametrize("package", ["torch", "captum", "torch-geometric", "numpy"])
def test_installed_versions_are_the_pinned_ones(package):
    installed = importlib.metadata.version(package).split("+")[0]
    assert installed == pins()[package]


def test_dgl_imports_in_the_dgl_lane():
    if lane() != "dgl":
        assert "dgl" not in pins()
        return
    dgl = importlib.import_module("dgl")  # a broken DGL is a failure here, never a skip
    assert dgl.__version__ == pins()["dgl"]
