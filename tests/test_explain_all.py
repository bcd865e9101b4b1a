"""explain_all: every target explained and written as Parquet shards, resumable, equal to independent references."""

import pathlib
import sys

import pytest
import torch
from pyarrow.fs import FileSelector

from edgeattr import explain_all, read_attributions, read_manifest
from edgeattr.methods import METHODS
from tests.support.links import GCNDot, PairScores
from tests.support.zoo import graph_batch, model_of, random_graph, reference_gradient

SHARD = 5


@pytest.fixture(scope="module")
def graph():
    x, edge_index, _ = random_graph()
    return model_of("GCNConv"), x, edge_index


def _classes(model, x, edge_index):
    with torch.no_grad():
        return model(x, edge_index).argmax(-1)


def _references(model, x, edge_index, per_module=False):
    classes = _classes(model, x, edge_index)
    return torch.stack([
        reference_gradient(model, (x, edge_index), {}, edge_index, v, int(classes[v]), per_module=per_module) for v in range(x.size(0))
    ])


def test_every_node_equals_set_masks_autograd_and_shards_hold_the_non_zero_rows(graph, tmp_path):
    model, x, edge_index = graph
    store = explain_all(model, x, edge_index, method="edge_gradient", out=tmp_path, shard_size=SHARD)
    manifest = read_manifest(tmp_path)
    assert manifest.targets == list(range(x.size(0))) and len(manifest.shards) == -(-x.size(0) // SHARD)
    assert all(shard.done for shard in manifest.shards) and store.pending() == []
    assert not list(pathlib.Path(tmp_path).glob("*.tmp"))
    references = _references(model, x, edge_index)
    stored = read_attributions(tmp_path)
    assert stored.is_sparse and stored.shape == references.shape
    assert stored._nnz() == int((references != 0).sum())
    torch.testing.assert_close(stored.to_dense(), references, rtol=1e-9, atol=1e-11)
    table = read_attributions(tmp_path, as_table=True)
    assert table.column_names == ["target", "edge", "value"] and table.num_rows == stored._nnz()
    assert [c for shard in manifest.shards for c in shard.classes] == _classes(model, x, edge_index).tolist()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_records_the_class_the_model_predicts_for_each_target(graph, method, tmp_path):
    model, x, edge_index = graph
    options = {"epochs": 2} if method == "gnnexplainer" else {}
    explain_all(model, x, edge_index, method=method, out=tmp_path, shard_size=SHARD, options=options)
    recorded = [c for shard in read_manifest(tmp_path).shards for c in shard.classes]
    assert recorded == _classes(model, x, edge_index).tolist()


def test_top_k_keeps_each_targets_largest_attributions(graph, tmp_path):
    model, x, edge_index = graph
    targets = torch.tensor([3, 0, 9])
    explain_all(model, x, edge_index, method="edge_gradient", targets=targets, topk=4, out=tmp_path, shard_size=2)
    table = read_attributions(tmp_path, as_table=True).to_pydict()
    references = _references(model, x, edge_index)
    for target in targets.tolist():
        kept = sorted(edge for t, edge in zip(table["target"], table["edge"]) if t == target)
        best = torch.sort(references[target], descending=True, stable=True).indices[:4]
        assert kept == sorted(best.tolist())
    stored = read_attributions(tmp_path).to_dense()  # row t is targets[t]
    for row, target in enumerate(targets.tolist()):
        best = torch.sort(references[target], descending=True, stable=True).indices[:4]
        torch.testing.assert_close(stored[row, best], references[target, best], rtol=1e-9, atol=1e-11)
        assert int((stored[row] != 0).sum()) <= 4


def test_layerwise_rows_equal_per_module_set_masks_gradients(graph, tmp_path):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, method="layerwise_gradient", out=tmp_path, shard_size=SHARD)
    stored = read_attributions(tmp_path)
    assert stored.shape == (x.size(0), 2, edge_index.size(1))
    torch.testing.assert_close(stored.to_dense(), _references(model, x, edge_index, per_module=True), rtol=1e-9, atol=1e-11)


def test_an_interrupted_run_resumes_with_the_missing_shards_only(graph, tmp_path):
    model, x, edge_index = graph

    def stop_after_two(done, total, this_call, seconds):
        if this_call >= 2 * SHARD:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        explain_all(model, x, edge_index, method="gradient_sign", out=tmp_path, shard_size=SHARD, progress=stop_after_two)
    first = read_manifest(tmp_path)
    assert [shard.done for shard in first.shards][:3] == [True, True, False]
    written = {name: (tmp_path / name).stat().st_mtime_ns for shard in first.shards if shard.done for name in (shard.file, shard.record)}
    written["manifest.json"] = (tmp_path / "manifest.json").stat().st_mtime_ns  # written once, when the run started
    calls = []
    explain_all(model, x, edge_index, method="gradient_sign", out=tmp_path, shard_size=SHARD, progress=lambda *a: calls.append(a))
    remaining = x.size(0) - 2 * SHARD  # the third shard's targets only
    assert len(calls) == len(first.shards) - 2 and calls[-1][:3] == (x.size(0), x.size(0), remaining)
    assert all((tmp_path / name).stat().st_mtime_ns == time for name, time in written.items())
    torch.testing.assert_close(read_attributions(tmp_path).to_dense(), (_references(model, x, edge_index) > 0).double(), rtol=0, atol=0)


def test_a_folder_of_another_run_is_refused(graph, tmp_path):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, method="gradient_sign", out=tmp_path, shard_size=SHARD)
    changed = model_of("GCNConv", seed=1)
    with pytest.raises(ValueError, match="holds the results of another run"):
        explain_all(changed, x, edge_index, method="gradient_sign", out=tmp_path, shard_size=SHARD)
    with pytest.raises(ValueError, match="holds the results of another run"):
        explain_all(model, x, edge_index, method="edge_gradient", out=tmp_path, shard_size=SHARD)
    with pytest.raises(ValueError, match="holds the results of another run"):
        explain_all(model, x, edge_index, method="gradient_sign", out=tmp_path, shard_size=SHARD + 1)


def test_graph_and_edge_tasks_explain_every_graph_and_every_pair(tmp_path):
    x, edge_index, _, batch = graph_batch()
    model = model_of("GCNConv", pool=True)
    explain_all(model, x, edge_index, batch=batch, method="edge_gradient", out=tmp_path / "graphs", shard_size=2)
    stored = read_attributions(tmp_path / "graphs").to_dense()
    with torch.no_grad():
        classes = model(x, edge_index, batch=batch).argmax(-1)
    for graph in range(int(batch.max()) + 1):
        reference = reference_gradient(model, (x, edge_index), {"batch": batch}, edge_index, graph, int(classes[graph]))
        torch.testing.assert_close(stored[graph], reference, rtol=1e-9, atol=1e-11)
    x, edge_index, _ = random_graph(num_nodes=30, num_edges=70, seed=3)
    pairs = torch.tensor([[0, 3, 7], [5, 11, 2]])
    torch.manual_seed(0)
    link = GCNDot().double().eval()
    explain_all(link, x, edge_index, edge_label_index=pairs, method="edge_gradient", mode="regression", out=tmp_path / "pairs", shard_size=2)
    stored = read_attributions(tmp_path / "pairs").to_dense()
    for p in range(3):
        reference = reference_gradient(PairScores(link), (x, edge_index, pairs[:, p : p + 1]), {}, edge_index, 0, 1)
        torch.testing.assert_close(stored[p], reference, rtol=1e-9, atol=1e-11)


def test_bad_runs_are_refused_naming_the_fix(graph, tmp_path):
    model, x, edge_index = graph
    with pytest.raises(ValueError, match="out of range"):
        explain_all(model, x, edge_index, targets=torch.tensor([0, 99]), out=tmp_path)
    with pytest.raises(ValueError, match="shard_size must be a positive integer"):
        explain_all(model, x, edge_index, shard_size=0, out=tmp_path)
    with pytest.raises(ValueError, match="topk must be a positive integer"):
        explain_all(model, x, edge_index, topk=0, out=tmp_path)
    with pytest.raises(FileNotFoundError, match="holds no edgeattr run"):
        read_attributions(tmp_path / "nothing")


def test_a_run_on_another_pyarrow_filesystem_equals_the_references(graph, tmp_path):
    from fsspec.implementations.memory import MemoryFileSystem
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    from edgeattr.store import RunFolder

    model, x, edge_index = graph
    memory = PyFileSystem(FSSpecHandler(MemoryFileSystem()))
    path = f"/{tmp_path.name}/gcn"  # the memory filesystem is shared by the whole process
    folder = RunFolder(memory, path)
    explain_all(model, x, edge_index, method="edge_gradient", out=folder, shard_size=SHARD)
    names = sorted(info.base_name for info in memory.get_file_info(FileSelector(path)))
    shards = [f"shard-{i:05d}" for i in range(-(-x.size(0) // SHARD))]
    assert names == ["manifest.json"] + sorted(f"{shard}.{kind}" for shard in shards for kind in ("json", "parquet"))  # no temporary file left
    torch.testing.assert_close(read_attributions(folder).to_dense(), _references(model, x, edge_index), rtol=1e-9, atol=1e-11)
    assert read_manifest(folder).targets == list(range(x.size(0)))


def test_engines_are_named_and_ray_without_ray_names_the_extra(graph, tmp_path, monkeypatch):
    model, x, edge_index = graph
    with pytest.raises(ValueError, match="engine must be one of 'local', 'ray', got 'spark'"):
        explain_all(model, x, edge_index, out=tmp_path, engine="spark")
    with pytest.raises(ValueError, match="pass engine='ray' too"):
        explain_all(model, x, edge_index, out=tmp_path, address="auto")
    monkeypatch.setitem(sys.modules, "ray", None)  # as where Ray is not installed
    with pytest.raises(ImportError, match=r"pip install edgeattr\[ray\]"):
        explain_all(model, x, edge_index, out=tmp_path, engine="ray")
    assert not (tmp_path / "manifest.json").exists()  # refused before any work
