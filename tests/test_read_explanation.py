"""read_explanation: one target's EdgeExplanation from a run of explain_all, equal to explaining it anew."""

import pytest
import torch

from edgeattr import explain, explain_all, read_explanation
from tests.support.zoo import model_of, random_graph, reference_gradient


@pytest.fixture(scope="module")
def graph():
    x, edge_index, _ = random_graph()
    return model_of("GCNConv"), x, edge_index


@pytest.mark.parametrize("method", ["edge_gradient", "layerwise_occlusion"])
def test_a_stored_target_reads_as_the_explanation_explain_gives(graph, tmp_path, method):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, method=method, out=tmp_path, shard_size=4)
    for node in (0, 5, 13):
        stored = read_explanation(tmp_path, model, x, edge_index, index=node)
        fresh = explain(model, x, edge_index, method=method, index=node)
        torch.testing.assert_close(stored.edge_mask, fresh.edge_mask, rtol=1e-9, atol=1e-12)
        assert (stored.layer_masks is None) == (fresh.layer_masks is None)
        if fresh.layer_masks is not None:
            torch.testing.assert_close(stored.layer_masks, fresh.layer_masks, rtol=1e-9, atol=1e-12)
        assert (stored.target, stored.index, stored.task, stored.method) == (fresh.target, node, "node", method)
        torch.testing.assert_close(stored.prediction, fresh.prediction, rtol=0, atol=0)
        assert torch.equal(stored.computation_edges, fresh.computation_edges) and stored.layer_names == fresh.layer_names


def test_the_gradient_read_back_equals_set_masks_autograd(graph, tmp_path):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, method="edge_gradient", targets=torch.tensor([7, 2]), out=tmp_path)
    stored = read_explanation(tmp_path, model, x, edge_index, index=2)
    reference = reference_gradient(model, (x, edge_index), {}, edge_index, 2, stored.target)
    torch.testing.assert_close(stored.edge_mask, reference, rtol=1e-9, atol=1e-11)


def test_a_target_is_read_from_its_own_shard_and_record_alone(graph, tmp_path):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, method="edge_gradient", out=tmp_path, shard_size=4)  # nodes 0-3 in shard 0
    (tmp_path / "shard-00001.json").write_text("not a record")  # another shard's record, unreadable
    (tmp_path / "shard-00002.parquet").unlink()
    stored = read_explanation(tmp_path, model, x, edge_index, index=2)
    torch.testing.assert_close(stored.edge_mask, explain(model, x, edge_index, method="edge_gradient", index=2).edge_mask, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="not written yet"):
        read_explanation(tmp_path, model, x, edge_index, index=9)  # shard 2: its Parquet file is gone


def test_a_top_k_run_reads_as_the_top_edges_and_zeros_elsewhere(graph, tmp_path):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, method="edge_gradient", topk=3, out=tmp_path)
    stored = read_explanation(tmp_path, model, x, edge_index, index=4)
    fresh = explain(model, x, edge_index, method="edge_gradient", index=4)
    top = fresh.topk(3).indices
    assert (fresh.edge_mask[top] != 0).all()
    torch.testing.assert_close(stored.edge_mask[top], fresh.edge_mask[top], rtol=1e-9, atol=1e-12)
    outside = torch.ones_like(stored.edge_mask, dtype=torch.bool).index_fill(0, top, False)
    assert (stored.edge_mask[outside] == 0).all() and (fresh.edge_mask[outside] != 0).any()


def test_other_parameters_inputs_or_targets_are_refused(graph, tmp_path):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, method="gradient_sign", targets=torch.tensor([1, 3]), out=tmp_path)
    other = model_of("GCNConv", seed=1)
    with pytest.raises(ValueError, match="differ from those of the run"):
        read_explanation(tmp_path, other, x, edge_index, index=1)
    with pytest.raises(ValueError, match="differ from those of the run"):
        read_explanation(tmp_path, model, x + 1, edge_index, index=1)
    with pytest.raises(ValueError, match="did not explain target 2"):
        read_explanation(tmp_path, model, x, edge_index, index=2)
    with pytest.raises(FileNotFoundError, match="holds no edgeattr run"):
        read_explanation(tmp_path / "elsewhere", model, x, edge_index, index=1)
