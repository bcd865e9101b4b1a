"""Explanations in several threads at once give the results of sequential runs."""

import threading

import torch
from zoo import model_of, random_graph

from edgeattr import EdgeGradient, EdgeOcclusion, PyGAdapter


def explain(model, x, edge_index, node):
    adapter = PyGAdapter(model, x, edge_index, index=node, layerwise=True)
    return EdgeGradient(adapter).attribute(adapter.ones()), EdgeOcclusion(adapter).attribute(adapter.ones())


def run_concurrently(jobs):
    results = [None] * len(jobs)
    errors = []
    start = threading.Barrier(len(jobs))

    def work(i, job):
        try:
            start.wait()
            results[i] = [job() for _ in range(3)]
        except Exception as error:  # reported below, with the thread's traceback
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_threads_explaining_different_models_match_sequential_runs():
    x, edge_index, _ = random_graph()
    models = [model_of(name) for name in ("GCNConv", "GATConv", "SAGEConv-mean", "GINConv")]
    jobs = [lambda m=m, node=node: explain(m, x, edge_index, node) for m, node in zip(models, (10, 3, 7, 10))]
    sequential = [job() for job in jobs]
    for got, expected in zip(run_concurrently(jobs), sequential):
        for repeat in got:
            for a, b in zip(repeat, expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert all(not m._forward_hooks and not m.conv1._message_forward_hooks for m in models)


def test_threads_explaining_the_same_model_in_training_mode_match_sequential_runs():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    model = model_of("GCNConv")
    model.conv1.cached = True  # a graph cache no thread may use or restore while another runs
    model.conv1(x, edge_index)
    model.conv1.dropout = torch.nn.Dropout(0.5)
    model.train()
    jobs = [lambda node=node: explain(model, x, edge_index, node) for node in (10, 3, 7, 5)]
    sequential = [job() for job in jobs]
    for got, expected in zip(run_concurrently(jobs), sequential):
        for repeat in got:
            for a, b in zip(repeat, expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert model.training and model.conv1.training and model.conv1.cached is True
    assert model.conv1._cached_edge_index is not None
