"""explain_all on Ray: the rows of the local engine to the bit, a killed worker's shard retried, an interrupted run resumed."""

import copy
import os
import signal
import subprocess
import sys

import pytest
import torch

from tests.support.lanes import lane

if lane() == "dgl":
    ray = pytest.importorskip("ray", reason="the dgl lane has no Ray: requirements/dgl.txt leaves it out")
else:
    import ray  # pinned in requirements/modern.txt: these tests run in this lane, never skip

from edgeattr import explain_all, read_attributions, read_manifest  # noqa: E402
from tests.support.zoo import model_of, random_graph, reference_gradient  # noqa: E402

SHARD = 4


@pytest.fixture(scope="module")
def cluster():
    """A Ray of two CPUs on this machine, for the module; explain_all runs on it rather than starting its own."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def graph():
    x, edge_index, _ = random_graph(num_nodes=18, num_edges=60, seed=5)
    return model_of("GCNConv"), x, edge_index


class DiesOnce(torch.nn.Module):
    """``model``, but the first forward pass outside the driver kills its own process, as a crashed worker dies.

    ``marker`` is created by that pass (atomically: only one pass across processes dies), so the task's retry lives.
    """

    def __init__(self, model, marker, driver):
        super().__init__()
        self.model, self.marker, self.driver = model, str(marker), driver

    def forward(self, x, edge_index):
        if os.getpid() != self.driver and _created(self.marker):
            os.kill(os.getpid(), signal.SIGKILL)
        return self.model(x, edge_index)


def _created(path):
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _equal_runs(ray_folder, local_folder):
    ours, theirs = read_manifest(ray_folder), read_manifest(local_folder)
    assert [(s.first, s.last, s.rows, s.classes) for s in ours.shards] == [(s.first, s.last, s.rows, s.classes) for s in theirs.shards]
    ray_table, local_table = read_attributions(ray_folder, as_table=True), read_attributions(local_folder, as_table=True)
    assert ray_table.num_rows > 0 and ray_table.equals(local_table)  # same rows, same order, same bits


def test_without_a_cluster_the_run_starts_ray_and_shuts_it_down(graph, tmp_path):
    model, x, edge_index = graph
    assert not ray.is_initialized()
    explain_all(model, x, edge_index, method="edge_gradient", out=tmp_path / "ray", shard_size=SHARD, engine="ray")
    assert not ray.is_initialized()
    explain_all(model, x, edge_index, method="edge_gradient", out=tmp_path / "local", shard_size=SHARD)
    _equal_runs(tmp_path / "ray", tmp_path / "local")


@pytest.mark.parametrize("settings", [
    dict(method="edge_gradient"),
    dict(method="edge_gradient", topk=3),
    dict(method="layerwise_gradient"),
], ids=["every-non-zero", "topk", "layerwise"])
def test_ray_rows_equal_the_local_engines_bit_for_bit(cluster, graph, settings, tmp_path):
    model, x, edge_index = graph
    explain_all(model, x, edge_index, out=tmp_path / "local", shard_size=SHARD, **settings)
    explain_all(model, x, edge_index, out=f"file://{tmp_path}/ray", shard_size=SHARD, engine="ray", **settings)
    assert ray.is_initialized()  # the fixture's cluster, left running
    _equal_runs(tmp_path / "ray", tmp_path / "local")
    if settings == dict(method="edge_gradient"):  # and both equal autograd through PyG's set_masks
        stored = read_attributions(tmp_path / "ray").to_dense()
        with torch.no_grad():
            classes = model(x, edge_index).argmax(-1)
        for node in (0, 7, 17):
            reference = reference_gradient(model, (x, edge_index), {}, edge_index, node, int(classes[node]))
            torch.testing.assert_close(stored[node], reference, rtol=1e-9, atol=1e-11)


def test_a_shard_whose_worker_is_killed_is_retried_and_the_run_completes(cluster, graph, tmp_path):
    model, x, edge_index = graph
    marker = tmp_path / "killed"
    dying = DiesOnce(model, marker, os.getpid())
    explain_all(dying, x, edge_index, method="edge_gradient", out=tmp_path / "ray", shard_size=SHARD, engine="ray")
    assert marker.exists()  # a worker ran the kill, so its shard was done by a retry
    assert all(shard.done for shard in read_manifest(tmp_path / "ray").shards)
    explain_all(model, x, edge_index, method="edge_gradient", out=tmp_path / "local", shard_size=SHARD)
    _equal_runs(tmp_path / "ray", tmp_path / "local")


class Stop(Exception):
    pass


def test_an_interrupted_ray_run_resumes_with_the_shards_it_did_not_record(cluster, graph, tmp_path):
    model, x, edge_index = graph
    out = tmp_path / "ray"

    def stop_after_two_shards(done, total, this_call, seconds):
        if this_call >= 2 * SHARD:
            raise Stop

    with pytest.raises(Stop):
        explain_all(model, x, edge_index, method="gradient_sign", out=out, shard_size=SHARD, engine="ray", progress=stop_after_two_shards)
    first = read_manifest(out)
    recorded = [shard for shard in first.shards if shard.done]
    assert len(recorded) == 2
    written = {name: (out / name).stat().st_mtime_ns for shard in recorded for name in (shard.file, shard.record)}
    calls = []
    explain_all(model, x, edge_index, method="gradient_sign", out=out, shard_size=SHARD, engine="ray", progress=lambda *a: calls.append(a))
    assert len(calls) == len(first.shards) - 2  # one call per shard explained again
    assert calls[-1][:3] == (x.size(0), x.size(0), x.size(0) - 2 * SHARD)
    assert {name: (out / name).stat().st_mtime_ns for name in written} == written  # the recorded shards were not rewritten
    explain_all(model, x, edge_index, method="gradient_sign", out=tmp_path / "local", shard_size=SHARD)
    _equal_runs(out, tmp_path / "local")



def test_the_command_line_runs_on_ray_with_the_rows_of_the_local_engine(cluster, tmp_path, capsys):
    from edgeattr.cli import main
    from tests.support.raw_datasets import WEBKB_NODES, write_webkb

    write_webkb(str(tmp_path), "cornell")
    common = ["explain-all", "--dataset", "cornell", "--method", "edge_gradient", "--epochs", "5", "--shard-size", "64",
              "--root", str(tmp_path), "--cache-dir", str(tmp_path / "cache")]
    assert main([*common, "--out", str(tmp_path / "ray"), "--engine", "ray"]) == 0
    assert main([*common, "--out", str(tmp_path / "local")]) == 0  # the same model, from the cache of trained models
    assert f"{WEBKB_NODES} nodes explained with edge_gradient" in capsys.readouterr().out
    _equal_runs(tmp_path / "ray", tmp_path / "local")


def test_a_folder_the_workers_do_not_share_is_refused_naming_the_fix(cluster, graph, tmp_path):
    from fsspec.implementations.memory import MemoryFileSystem
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    from edgeattr.store import RunFolder

    model, x, edge_index = graph
    private = RunFolder(PyFileSystem(FSSpecHandler(MemoryFileSystem())), f"/{tmp_path.name}")  # each process has its own memory
    with pytest.raises(ValueError, match="a folder that every worker and this process share"):
        explain_all(model, x, edge_index, method="gradient_sign", out=private, shard_size=SHARD, engine="ray")
    assert not any(shard.done for shard in read_manifest(private).shards)


def test_a_model_once_explained_by_pyg_unpickles_in_a_fresh_worker(graph):
    """PyG's set_masks / clear_masks leave a bound generated propagate on each layer, which a fresh process cannot load."""
    from torch_geometric.explain.algorithm.utils import clear_masks, set_masks

    from edgeattr.ray_engine import shippable

    model, x, edge_index = graph
    explained = copy.deepcopy(model)
    set_masks(explained, torch.ones(edge_index.size(1), dtype=torch.float64), edge_index, apply_sigmoid=False)
    clear_masks(explained)
    unpickle = [sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"]
    as_given = subprocess.run(unpickle, input=ray.cloudpickle.dumps(explained), capture_output=True)
    assert as_given.returncode != 0 and b"_propagate" in as_given.stderr  # what a fresh worker met
    shipped = shippable(explained)
    assert shipped is not explained and "propagate" in vars(explained.conv1)  # the user's model is left as it is
    assert subprocess.run(unpickle, input=ray.cloudpickle.dumps(shipped), capture_output=True).returncode == 0
    with torch.no_grad():
        torch.testing.assert_close(shipped(x, edge_index), model(x, edge_index), rtol=0, atol=0)
    fresh = model_of("GCNConv")
    assert shippable(fresh) is fresh  # never explained by PyG: nothing to drop, no copy
