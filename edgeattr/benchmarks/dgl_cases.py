r"""Benchmark cases on a DGL model (item 7): the PyG workloads through the DGL adapter, and DGL's GNNExplainer."""

from __future__ import annotations

import time
from typing import List, Optional, cast

import dgl
import torch
from dgl.nn import GNNExplainer as DGLGNNExplainer
from dgl.nn import GraphConv
from torch import Tensor

from edgeattr import DGLAdapter, EdgeGradient, GradientSign, LayerwiseOcclusion, cosine_similarity
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
