"""The two checks every zoo case gets: exact against its references, or refused loudly; the model untouched either way."""

from __future__ import annotations

import pytest
import torch

from edgeattr import explain
from edgeattr.adapters.base.provenance import follows_indexing
from edgeattr.errors import UnsupportedLayerError
from tests.support.zoo import assert_same_state, state_of
from tests.zoo import Example, ZooCase

#: How many edges the brute-force occlusion check deletes one at a time (the first ones that change the score).
OCCLUDED_EDGES = 6


def explained(case: ZooCase, example: Example, method: str, **options):
    """``explain()`` on the example's own call, as a user of that codebase would write it."""
    return explain(
        example.model,
        *example.args,
        method=method,
        index=example.index,
        **example.options,
        **options,
        **example.kwargs,
    )


def check_exact(case: ZooCase) -> None:
    """The edge gradient equals the independent reference; occlusion equals brute-force deletion; the model is as before."""
    example = case.build()
    before = state_of(example.model)
    if case.own_edges and not follows_indexing():  # its own edges cannot be told from the input's: loud, not weight 1
        with pytest.raises(UnsupportedLayerError, match="cannot be matched"):
            explained(case, example, "edge_gradient")
        assert_same_state(before, state_of(example.model))
        return
    gradient = explained(case, example, "edge_gradient").edge_mask
    reference = example.reference_gradient()
    assert gradient.shape == reference.shape, (gradient.shape, reference.shape)
    assert reference.abs().sum() > 0, "a reference of all zeros checks nothing"
    torch.testing.assert_close(gradient.double(), reference.double(), rtol=1e-4, atol=1e-5)
    if example.without is not None:
        occlusion = explained(case, example, "edge_occlusion", options={"mode": "remove"}).edge_mask
        full = example.without(torch.ones(reference.numel(), dtype=torch.bool))
        checked = (reference != 0).nonzero().view(-1)[:OCCLUDED_EDGES]
        for edge in checked.tolist():
            keep = torch.ones(reference.numel(), dtype=torch.bool)
            keep[edge] = False
            expected = full - example.without(keep)
            torch.testing.assert_close(occlusion[edge].double(), expected.double(), rtol=1e-4, atol=1e-5)
    assert_same_state(before, state_of(example.model))


def check_refused(case: ZooCase) -> None:
    """The explanation is refused with an error that names the layer and says why; the model is as before."""
    example = case.build()
    before = state_of(example.model)
    with pytest.raises((UnsupportedLayerError, ValueError)) as raised:
        explained(case, example, "edge_gradient")
    message = str(raised.value)
    assert case.refused is not None and case.refused in message, message
    layer = case.layers.split(",")[0].split()[0]
    assert layer in message, f"the error does not name {layer}: {message}"
    assert_same_state(before, state_of(example.model))


def check(case: ZooCase) -> None:
    """The check the case declares."""
    if case.refused is None:
        check_exact(case)
    else:
        check_refused(case)
