"""Every DGL zoo case, written as DGL's examples write it, against its references: exact, or refused loudly."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

from tests.zoo import checks, table  # noqa: E402
from tests.zoo.dgl_cases import DGL_CASES  # noqa: E402


def test_the_cases_are_named_and_declared_as_the_zoo_requires():
    names = [case.name for case in DGL_CASES]
    assert len(set(names)) == len(names) >= 12
    assert all(case.name.startswith("dgl/") and case.framework == "DGL" for case in DGL_CASES)
    assert all(case.source.startswith("https://github.com/dmlc/dgl/") for case in DGL_CASES)


@pytest.mark.parametrize("case", DGL_CASES, ids=[case.name for case in DGL_CASES])
def test_dgl_case(case):
    checks.check(case)


def test_readme_lists_exactly_the_declared_cases():
    assert table.section(table.README.read_text(), "DGL") == table.table("DGL")
