"""The DGL adapters provide the interface the methods use (dgl lane)."""

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import pytest  # noqa: E402
import torch  # noqa: E402
from typing_extensions import get_protocol_members  # noqa: E402

from edgeattr import DGLAdapter  # noqa: E402
from edgeattr.adapters.base import AdapterInterface, adapter_of  # noqa: E402
from tests.support.dgl_zoo import dgl_case  # noqa: E402


@pytest.mark.parametrize("layerwise", [False, True])
def test_the_dgl_adapter_provides_the_interface(layerwise):
    g, x, model = dgl_case("GraphConv")
    adapter = DGLAdapter(model, g, x, index=torch.tensor([2, 5]), layerwise=layerwise)
    assert isinstance(adapter, AdapterInterface) and adapter_of(adapter) is adapter
    assert all(hasattr(adapter, member) for member in get_protocol_members(AdapterInterface))
    assert adapter.edge_segment.tolist() == sorted(adapter.edge_segment.tolist())
