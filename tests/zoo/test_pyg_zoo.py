"""The PyG half of the zoo: every model of tests/zoo/pyg_models.py explained exactly, or refused loudly, as its case declares."""

import pytest

from tests.zoo import checks, table
from tests.zoo.pyg_cases import PYG_CASES


@pytest.mark.parametrize("case", PYG_CASES, ids=[case.name for case in PYG_CASES])
def test_case(case):
    checks.check(case)


def test_cases_are_declared():
    names = [case.name for case in PYG_CASES]
    assert len(names) == len(set(names)), sorted(name for name in names if names.count(name) > 1)
    assert len(PYG_CASES) >= 28
    for case in PYG_CASES:
        assert case.name.startswith("pyg/") and case.framework == "PyG", case.name
        assert case.source and case.call and case.layers, case.name
        assert case.source.startswith(("examples/", "benchmark/")) and case.source.endswith(".py"), case.name
        assert case.call.startswith("model("), case.name


def test_readme_lists_exactly_the_declared_cases():
    assert table.section(table.README.read_text(), "PyG") == table.table("PyG")
