r"""Benchmark cases on a DGL model (item 7): the PyG workloads through the DGL adapter, against DGL's own
baselines (autograd through ``edge_weight``, DGL's GNNExplainer, the paper's loop) and against the PyG adapter
on a PyG twin of the model (same weights, same graph, same targets)."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, List, Optional, Tuple, Union, cast

import dgl
import torch
from dgl.nn import GNNExplainer as DGLGNNExplainer
from dgl.nn import GraphConv
from torch import Tensor

from edgeattr import DGLAdapter, EdgeGradient, GradientSign, LayerwiseOcclusion, PyGAdapter, cosine_similarity
from edgeattr.benchmarks.pyg_cases import GCN
from edgeattr.benchmarks.report import Row
from edgeattr.benchmarks.timing import median_seconds
from edgeattr.benchmarks.workloads import CoraWorkload


class DGLGCN(torch.nn.Module):
    r"""Two GraphConv layers (symmetric normalisation) with ReLU between.

    ``forward`` takes DGL's ``eweight`` (one weight per edge for every layer)
    so that DGL's GNNExplainer can explain it, and ``layer_weights`` (one per
    layer) for the paper-style occlusion loop; edgeattr passes neither.
    """

    def __init__(self, features: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.conv1 = GraphConv(features, hidden)
        self.conv2 = GraphConv(hidden, classes)

    def forward(self, graph: dgl.DGLGraph, feat: Tensor, eweight: Optional[Tensor] = None, layer_weights: Optional[List[Tensor]] = None) -> Tensor:
        first, second = layer_weights if layer_weights is not None else (eweight, eweight)
        return self.conv2(graph, self.conv1(graph, feat, edge_weight=first).relu(), edge_weight=second)


class _OnGraph(torch.nn.Module):
    """The DGL model as a function of (x, edge_index), for training on Cora."""

    def __init__(self, model: DGLGCN, graph: dgl.DGLGraph) -> None:
        super().__init__()
        self.model, self.graph = model, graph

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.model(self.graph, x)


def dgl_cases(root: str, count: int, explainer_count: int, sampled: int) -> List[Row]:
    r"""EdgeGradient, GradientSign and LayerwiseOcclusion through :class:`~edgeattr.DGLAdapter` on Cora."""
    from torch_geometric.datasets import Planetoid

    data = Planetoid(root, "Cora")[0]
    graph = dgl.add_self_loop(dgl.graph((data.edge_index[0], data.edge_index[1]), num_nodes=data.num_nodes))
    work = CoraWorkload.load(root, lambda f, c: _OnGraph(DGLGCN(f, 32, c), graph))
    model, x = cast(_OnGraph, work.model).model, work.x
    nodes = work.test_nodes[:count]
    with torch.no_grad():
        predicted = model(graph, x).argmax(1)
    rows = [_gradient_row(model, graph, x, nodes, predicted)]
    rows.append(_explainer_row(model, graph, x, work.test_nodes[:explainer_count]))
    rows.append(_occlusion_row(model, graph, x, int(nodes[0]), int(predicted[nodes[0]]), sampled))
    rows.extend(twin_rows(model, graph, x, data.edge_index, nodes, work.test_nodes[:explainer_count]))
    return rows


def _gradient_row(model: DGLGCN, graph: dgl.DGLGraph, x: Tensor, nodes: Tensor, predicted: Tensor) -> Row:
    def ours() -> Tensor:
        adapter = DGLAdapter(model, graph, x, index=nodes)
        return EdgeGradient(adapter).attribute(adapter.ones())

    def baseline() -> Tensor:
        rows: List[Tensor] = []
        for node in nodes.tolist():
            weight = torch.ones(graph.num_edges(), requires_grad=True)
            model(graph, x, eweight=weight)[node, predicted[node]].backward()
            if weight.grad is None:
                raise RuntimeError(f"the output of node {node} does not depend on eweight: no gradient reached the edge weights")
            rows.append(weight.grad)
        return torch.stack(rows)

    difference = float((ours() - baseline()).abs().max())
    return Row("7", f"DGL: EdgeGradient per node, {nodes.numel()} nodes in one call", "full-graph autograd through GraphConv's edge_weight",
               median_seconds(ours) / nodes.numel(), median_seconds(baseline) / nodes.numel(), 10.0, f"max abs difference {difference:.1e}")


def _explainer_row(model: DGLGCN, graph: dgl.DGLGraph, x: Tensor, nodes: Tensor) -> Row:
    explainer = DGLGNNExplainer(model, num_hops=2, num_epochs=100, log=False)
    masks: List[Tensor] = []
    signs: List[Tensor] = []
    edges: List[Tensor] = []

    def baseline() -> None:
        torch.manual_seed(0)
        masks.clear()
        edges.clear()
        for node in nodes.tolist():
            _, subgraph, _, mask = explainer.explain_node(node, graph, x)
            full = torch.zeros(1, graph.num_edges())
            full[0, subgraph.edata[dgl.EID]] = mask.detach()
            masks.append(full)
            edges.append(subgraph.edata[dgl.EID])

    def ours() -> None:
        signs.clear()
        for node in nodes.tolist():
            adapter = DGLAdapter(model, graph, x, index=node)
            signs.append(GradientSign(adapter).attribute(adapter.ones()))

    base = median_seconds(baseline, repeats=1, warmup=0) / nodes.numel()
    mine = median_seconds(ours) / nodes.numel()
    cosines = torch.cat([cosine_similarity(p, m, entries=e) for p, m, e in zip(signs, masks, edges)])
    return Row("7", "DGL: GradientSign per node", "DGL GNNExplainer (100 epochs)", mine, base, 1000.0,
               f"cosine similarity {float(cosines.mean()):.4f} over {nodes.numel()} nodes (DGL's default entropy and size terms)")


def _occlusion_row(model: DGLGCN, graph: dgl.DGLGraph, x: Tensor, node: int, target: int, sampled: int) -> Row:
    adapter = DGLAdapter(model, graph, x, index=node, layerwise=True)
    occlusion = LayerwiseOcclusion(adapter).attribute(adapter.ones())[0]
    message_edge_ids = adapter.edge_ids[adapter.message_edges]
    picks = message_edge_ids[torch.randperm(message_edge_ids.numel(), generator=torch.Generator().manual_seed(0))[:sampled]]
    num_edges = graph.num_edges()
    start = time.perf_counter()
    with torch.no_grad():
        ones = torch.ones(num_edges)
        base = float(model(graph, x, layer_weights=[ones, ones])[node, target])
        drops = []
        for position, edge in enumerate(picks.tolist()):
            weights = [torch.ones(num_edges), torch.ones(num_edges)]
            weights[position % 2][edge] = 0.0
            drops.append(base - float(model(graph, x, layer_weights=weights)[node, target]))
    per_entry = (time.perf_counter() - start) / (len(picks) + 1)
    difference = float((occlusion[torch.arange(len(picks)) % 2, picks] - torch.tensor(drops)).abs().max())

    def ours() -> None:
        fresh = DGLAdapter(model, graph, x, index=node, layerwise=True)
        LayerwiseOcclusion(fresh).attribute(fresh.ones())

    return Row("7", "DGL: LayerwiseOcclusion per node", f"paper-style loop, 2 x {num_edges} full forwards (timed on {len(picks)})",
               median_seconds(ours), per_entry * 2 * num_edges, 1000.0, f"max abs difference {difference:.1e} on {len(picks)} sampled entries")


def pyg_twin(model: DGLGCN) -> GCN:
    r"""The PyG GCN that computes what ``model`` computes, with ``model``'s weights.

    On an ``edge_index`` without self-loops, ``GCNConv`` (``add_self_loops``,
    ``normalize``) computes :math:`\hat{D}^{-1/2} (A + I) \hat{D}^{-1/2} X \Theta + b`
    with the degrees :math:`\hat{D}` of :math:`A + I` counted at the targets.
    ``GraphConv(norm='both')`` on that graph with one self-loop per node
    appended computes :math:`D_{in}^{-1/2} (A + I) D_{out}^{-1/2} X W + b`,
    which is the same where in- and out-degrees agree (a symmetric graph, as
    Cora's). ``GCNConv`` keeps its weight as ``Linear`` does, ``(out, in)``,
    so :math:`\Theta = W^\top`; the biases are the same vector.
    """
    first, second = model.conv1, model.conv2
    twin = GCN(first.weight.size(0), first.weight.size(1), second.weight.size(1)).to(first.weight.dtype).eval()
    with torch.no_grad():
        for theirs, ours in ((twin.conv1, first), (twin.conv2, second)):
            theirs.lin.weight.copy_(ours.weight.t())
            theirs.bias.copy_(ours.bias)
    return twin


def twin_rows(model: DGLGCN, graph: dgl.DGLGraph, x: Tensor, edge_index: Tensor, nodes: Tensor, occluded: Tensor) -> List[Row]:
    r"""The DGL adapter against the PyG adapter on twin models, the same graph and the same targets.

    ``graph`` is ``edge_index`` with one self-loop per node appended, so DGL
    edge ``e < E`` is column ``e`` of ``edge_index``; its self-loops (ids
    ``E`` on) have no column: ``GCNConv`` adds its own and keeps them at
    weight 1. The values are compared on the ``E`` shared edges.

    Args:
        model (DGLGCN): The trained DGL model; the PyG twin gets its weights (:func:`pyg_twin`).
        graph (dgl.DGLGraph): ``edge_index`` with a self-loop per node appended.
        x (Tensor): Node features, ``(N, F)``.
        edge_index (Tensor): Cora's edges, ``(2, E)``, symmetric and without self-loops.
        nodes (Tensor): The targets of the gradient rows.
        occluded (Tensor): The targets of the occlusion row (each costs a pass per message edge and layer).
    """
    twin = pyg_twin(model)
    num_edges = edge_index.size(1)
    src, dst = graph.edges(order="eid")
    if not (torch.equal(src[:num_edges], edge_index[0]) and torch.equal(dst[:num_edges], edge_index[1])):
        raise ValueError("the DGL graph's first edges must be the columns of edge_index, in order")
    with torch.no_grad():
        outputs = f"outputs agree to {float((model(graph, x) - twin(x, edge_index)).abs().max()):.1e}"

    def on_dgl(index: Union[int, Tensor], layerwise: bool = False) -> DGLAdapter:
        return DGLAdapter(model, graph, x, index=index, layerwise=layerwise)

    def on_pyg(index: Union[int, Tensor], layerwise: bool = False) -> PyGAdapter:
        return PyGAdapter(twin, x, edge_index, index=index, layerwise=layerwise)

    def in_one_call(adapter: Callable[..., Any]) -> Callable[[], Tensor]:
        def run() -> Tensor:
            fwd = adapter(nodes)
            return EdgeGradient(fwd).attribute(fwd.ones())
        return run

    def per_node(method: Callable[[Any], Any], adapter: Callable[..., Any], targets: Tensor, layerwise: bool = False) -> Callable[[], Tensor]:
        def run() -> Tensor:
            results = []
            for node in targets.tolist():
                fwd = adapter(node, layerwise)
                results.append(method(fwd).attribute(fwd.ones()))
            return torch.cat(results)
        return run

    cases = [
        (f"EdgeGradient per node, {nodes.numel()} nodes in one call", in_one_call(on_dgl), in_one_call(on_pyg), nodes.numel()),
        ("EdgeGradient per node, one adapter per node", per_node(EdgeGradient, on_dgl, nodes), per_node(EdgeGradient, on_pyg, nodes), nodes.numel()),
        ("GradientSign per node", per_node(GradientSign, on_dgl, nodes), per_node(GradientSign, on_pyg, nodes), nodes.numel()),
        (f"LayerwiseOcclusion per node (mean over {occluded.numel()} test nodes)", per_node(LayerwiseOcclusion, on_dgl, occluded, True),
         per_node(LayerwiseOcclusion, on_pyg, occluded, True), occluded.numel()),
    ]
    rows = []
    for what, ours, theirs, count in cases:
        mine, reference = ours()[..., :num_edges], theirs()  # also the warm-up of the timed runs
        agreement = f"max abs difference {float((mine - reference).abs().max()):.1e} on the {num_edges} shared edges; {outputs}"
        mine_seconds, their_seconds = side_by_side(ours, theirs, warmup=0)
        rows.append(Row("7", f"DGL twin: {what}", "PyGAdapter on the GCNConv twin (same weights, graph and nodes)",
                        mine_seconds / count, their_seconds / count, None, agreement, goal_max=1.5))
    return rows


def side_by_side(ours: Callable[[], object], theirs: Callable[[], object], repeats: int = 5, warmup: int = 1) -> Tuple[float, float]:
    r"""The median wall times of ``ours()`` and ``theirs()``, run in turn ``repeats`` times after ``warmup`` untimed runs each.

    Alternating the two gives both the same share of a machine whose load
    changes while they run.
    """
    times: Tuple[List[float], List[float]] = ([], [])
    for _ in range(warmup):
        ours()
        theirs()
    for _ in range(repeats):
        for work, measured in zip((ours, theirs), times):
            start = time.perf_counter()
            work()
            measured.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])
