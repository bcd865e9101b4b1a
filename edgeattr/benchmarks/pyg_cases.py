r"""Benchmark cases on PyG models: edgeattr against PyG's and Captum's explainers and the paper's loops.

Every case returns rows of :class:`~edgeattr.benchmarks.report.Row`: seconds
per unit for edgeattr and for the baseline, measured in the same process one
after the other, and how far their values agree.
"""

from __future__ import annotations

import time
from typing import List

import torch
from captum.attr import FeatureAblation
from torch import Tensor
from torch_geometric.explain import Explainer
from torch_geometric.explain import GNNExplainer as PyGGNNExplainer
from torch_geometric.explain.algorithm import CaptumExplainer
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import GCNConv, MessagePassing, to_captum_input, to_captum_model

from edgeattr import EdgeGradient, EdgeOcclusion, GradientSign, LayerwiseOcclusion, PyGAdapter, cosine_similarity
from edgeattr.benchmarks import floors
from edgeattr.benchmarks.profiling import dominant_operations
from edgeattr.benchmarks.report import Row
from edgeattr.benchmarks.timing import median_seconds, peak_memory_mib
from edgeattr.benchmarks.workloads import CoraWorkload, random_graph

#: Message-passing calls of the benchmarks' GCNs: the hops of their computation subgraphs.
HOPS = 2

#: How PyG's Explainer is told about the Cora GCN.
MODEL_CONFIG = dict(mode="multiclass_classification", task_level="node", return_type="raw")


class GCN(torch.nn.Module):
    r"""Two GCNConv layers with ReLU between, as in the issue's measurements."""

    def __init__(self, features: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.conv1 = GCNConv(features, hidden)
        self.conv2 = GCNConv(hidden, classes)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def cora_gcn(root: str, seed: int = 0) -> CoraWorkload:
    r"""Cora with a GCN (2 layers, hidden 32) trained for 100 epochs."""
    return CoraWorkload.load(root, lambda f, c: GCN(f, 32, c), seed)


def edge_gradient_vs_saliency(work: CoraWorkload, count: int) -> List[Row]:
    r"""Item 1: EdgeGradient per node against PyG's ``CaptumExplainer('Saliency')`` on the same nodes."""
    model, x, edge_index = work.model, work.x, work.edge_index
    nodes = work.test_nodes[:count]
    saliency = Explainer(model, algorithm=CaptumExplainer("Saliency"), explanation_type="model", edge_mask_type="object", model_config=MODEL_CONFIG)

    def ours_one_by_one() -> List[Tensor]:
        results = []
        for node in nodes.tolist():
            adapter = PyGAdapter(model, x, edge_index, index=node)
            results.append(EdgeGradient(adapter).attribute(adapter.ones())[0])
        return results

    def ours_batched() -> Tensor:
        adapter = PyGAdapter(model, x, edge_index, index=nodes)
        return EdgeGradient(adapter).attribute(adapter.ones())

    def baseline() -> List[Tensor]:
        return [saliency(x, edge_index, index=node).edge_mask for node in nodes.tolist()]

    reference = torch.stack(baseline())
    difference = max(
        float((torch.stack(ours_one_by_one()).abs() - reference).abs().max()),
        float((ours_batched().abs() - reference).abs().max()),
    )
    base = median_seconds(baseline) / len(nodes)
    each_alone = floors.gradient_seconds(model, x, edge_index, [[node] for node in nodes.tolist()], HOPS) / len(nodes)
    together = floors.gradient_seconds(model, x, edge_index, [nodes.tolist()], HOPS) / len(nodes)
    agreement = f"max abs difference of |g| and Saliency {difference:.1e}"
    return [
        Row("1", "EdgeGradient per node, one adapter per node", "PyG CaptumExplainer('Saliency')", median_seconds(ours_one_by_one) / len(nodes), base, 10.0,
            agreement + floors.floor_note(each_alone, baseline=base), profile=dominant_operations(ours_one_by_one)),
        Row("1", f"EdgeGradient per node, {len(nodes)} nodes in one call", "PyG CaptumExplainer('Saliency')", median_seconds(ours_batched) / len(nodes), base, 10.0,
            agreement + floors.floor_note(together, baseline=base), profile=dominant_operations(ours_batched)),
    ]


def gradient_sign_vs_gnnexplainer(work: CoraWorkload, count: int, batch: int) -> List[Row]:
    r"""Item 2: GradientSign per node against PyG's GNNExplainer (100 epochs), with their cosine similarity:
    one adapter per node, and the first ``batch`` test nodes in one call."""
    model, x, edge_index = work.model, work.x, work.edge_index
    nodes = work.test_nodes[:count].tolist()
    many = work.test_nodes[:batch]
    explainer = Explainer(model, algorithm=PyGGNNExplainer(epochs=100), explanation_type="model", edge_mask_type="object", model_config=MODEL_CONFIG)
    signs: List[Tensor] = []
    masks: List[Tensor] = []
    edges: List[Tensor] = []

    def ours() -> None:
        signs.clear()
        edges.clear()
        for node in nodes:
            adapter = PyGAdapter(model, x, edge_index, index=node)
            signs.append(GradientSign(adapter).attribute(adapter.ones()))
            edges.append(adapter.edge_ids)

    def ours_batched() -> Tensor:
        adapter = PyGAdapter(model, x, edge_index, index=many)
        return GradientSign(adapter).attribute(adapter.ones())

    def baseline() -> None:
        torch.manual_seed(0)
        masks.clear()
        masks.extend(explainer(x, edge_index, index=node).edge_mask.view(1, -1) for node in nodes)

    base = median_seconds(baseline, repeats=1, warmup=0) / len(nodes)
    mine = median_seconds(ours) / len(nodes)
    batched = median_seconds(ours_batched) / many.numel()
    same = bool(torch.equal(ours_batched()[:count], torch.cat(signs)))
    cosines = torch.cat([cosine_similarity(p, m, entries=e) for p, m, e in zip(signs, masks, edges)])
    agreement = f"cosine similarity {float(cosines.mean()):.4f} ± {float(cosines.std()):.4f} over {len(nodes)} nodes"
    floor = floors.gradient_seconds(model, x, edge_index, [many.tolist()], HOPS) / many.numel()
    return [
        Row("2", "GradientSign per node, one adapter per node", "PyG GNNExplainer (100 epochs)", mine, base, None, agreement, profile=dominant_operations(ours)),
        Row("2", f"GradientSign per node, {many.numel()} Cora test nodes in one call", "PyG GNNExplainer (100 epochs)", batched, base, 5000.0,
            f"{agreement}; batched = one adapter per node on those {len(nodes)}: {same}" + floors.floor_note(floor, baseline=base),
            profile=dominant_operations(ours_batched)),
    ]


def occlusion_vs_loops(work: CoraWorkload, sampled: int, count: int) -> List[Row]:
    r"""Item 3: LayerwiseOcclusion against the paper's loop (one full forward per layer and edge), and
    EdgeOcclusion against Captum's occlusion through PyG's ``to_captum_model``.

    The loops are timed on ``sampled`` entries of one node's computation graph
    and extrapolated to all ``L * E`` (layerwise) or ``E`` (input-level) entries,
    which is what they evaluate per node; their values are compared on those
    entries. edgeattr's time is the mean over the first ``count`` test nodes.
    """
    model, x, edge_index = work.model, work.x, work.edge_index
    nodes = work.test_nodes[:count].tolist()
    node = nodes[0]
    layerwise = PyGAdapter(model, x, edge_index, index=node, layerwise=True)
    ours_layerwise = LayerwiseOcclusion(layerwise).attribute(layerwise.ones())[0]
    predicted = int(model(x, edge_index)[node].argmax())
    generator = torch.Generator().manual_seed(0)
    message_edge_ids = layerwise.edge_ids[layerwise.message_edges]
    picks = message_edge_ids[torch.randperm(message_edge_ids.numel(), generator=generator)[:sampled]]
    layers = [module for module in model.modules() if isinstance(module, MessagePassing)]
    num_layers, num_edges = len(layers), edge_index.size(1)

    def paper_loop() -> List[float]:
        drops = []
        with torch.no_grad():
            base = float(_masked_forward(model, x, edge_index, layers, None, None)[node, predicted])
            for position, edge in enumerate(picks.tolist()):
                z = _masked_forward(model, x, edge_index, layers, position % num_layers, edge)[node, predicted]
                drops.append(base - float(z))
        return drops

    start = time.perf_counter()
    drops = paper_loop()
    per_entry = (time.perf_counter() - start) / (len(picks) + 1)
    expected = torch.tensor(drops, dtype=ours_layerwise.dtype, device=x.device)
    got = ours_layerwise[torch.arange(len(picks)) % num_layers, picks]
    layerwise_agreement = f"max abs difference {float((got - expected).abs().max()):.1e} on {len(picks)} sampled entries"

    def ours_layerwise_run() -> None:
        for each in nodes:
            adapter = PyGAdapter(model, x, edge_index, index=each, layerwise=True)
            LayerwiseOcclusion(adapter).attribute(adapter.ones())

    captum_model = to_captum_model(model, mask_type="edge", output_idx=node)
    inputs, additional = to_captum_input(x, edge_index, "edge")
    groups = torch.full((1, num_edges), len(picks), dtype=torch.long, device=x.device)
    groups[0, picks] = torch.arange(len(picks), device=x.device)
    start = time.perf_counter()
    captum = FeatureAblation(captum_model).attribute(inputs, target=predicted, additional_forward_args=additional, feature_mask=groups, baselines=0.0)[0]
    captum_per_entry = (time.perf_counter() - start) / (len(picks) + 2)

    def ours_input(each: int) -> Tensor:
        adapter = PyGAdapter(model, x, edge_index, index=each)
        return EdgeOcclusion(adapter).attribute(adapter.ones())[0]

    def ours_input_run() -> None:
        for each in nodes:
            ours_input(each)

    input_agreement = f"max abs difference {float((ours_input(node)[picks] - captum[0, picks]).abs().max()):.1e} on {len(picks)} sampled edges"
    per_node = f"mean over {len(nodes)} test nodes"
    paper = per_entry * num_layers * num_edges
    floor = floors.occlusion_seconds(model, x, edge_index, nodes, HOPS) / len(nodes)
    return [
        Row("3", f"LayerwiseOcclusion per node ({per_node})", f"paper-style loop, {num_layers} x {num_edges} full forwards (timed on {len(picks)})",
            median_seconds(ours_layerwise_run, repeats=1) / len(nodes), paper, 1000.0, layerwise_agreement + floors.floor_note(floor, baseline=paper),
            profile=dominant_operations(ours_layerwise_run)),
        Row("3", f"EdgeOcclusion per node ({per_node})", f"Captum occlusion via PyG to_captum_model, {num_edges} forwards (timed on {len(picks)})",
            median_seconds(ours_input_run, repeats=1) / len(nodes), captum_per_entry * num_edges, None, input_agreement),
    ]


def _masked_forward(model: torch.nn.Module, x: Tensor, edge_index: Tensor, layers: List[MessagePassing], layer, edge) -> Tensor:
    """The model with edge ``edge`` of layer ``layer`` masked, through PyG's own explain hooks."""
    loops = edge_index[0] != edge_index[1]
    for index, module in enumerate(layers):
        mask = torch.ones(edge_index.size(1), device=x.device)
        if index == layer:
            mask[edge] = 0.0
        module.explain, module._edge_mask, module._loop_mask, module._apply_sigmoid = True, mask, loops, False
    try:
        return model(x, edge_index)
    finally:
        clear_masks(model)


def every_cora_node(work: CoraWorkload, chunk: int, sample: int) -> List[Row]:
    r"""Item 4a: LayerwiseOcclusion of Cora's nodes, targets batched ``chunk`` at a time.

    Runs a seeded random ``sample`` of the nodes (all 2708 when ``sample``
    is 2708) and extrapolates the time to every node.
    """
    model, x, edge_index = work.model, work.x, work.edge_index
    num_nodes = x.size(0)
    nodes = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(0))[:sample]
    degree = torch.bincount(edge_index[1], minlength=num_nodes)
    nodes = nodes[torch.argsort(degree[nodes])]  # similar sizes share a pass

    def sample_run() -> None:
        for group in nodes.split(chunk):
            adapter = PyGAdapter(model, x, edge_index, index=group, layerwise=True)
            LayerwiseOcclusion(adapter).attribute(adapter.ones())

    start = time.perf_counter()
    sample_run()
    seconds = (time.perf_counter() - start) * num_nodes / nodes.numel()
    memory = peak_memory_mib()
    floor = floors.occlusion_seconds(model, x, edge_index, nodes.tolist(), HOPS) * num_nodes / nodes.numel()
    occlusion = Row("4", f"LayerwiseOcclusion of all {num_nodes} Cora nodes ({chunk} per call; timed on {nodes.numel()})", "goal: 60 s",
                    seconds, 60.0, 1.0, f"{num_nodes / seconds:.1f} explanations/s; peak memory {memory:.0f} MiB" + floors.floor_note(floor, "all"),
                    unit="all", profile=dominant_operations(sample_run))
    return [occlusion, _every_node_gradient(work)]


def _every_node_gradient(work: CoraWorkload) -> Row:
    r"""Item 4a: EdgeGradient of every Cora node in one call against one whole-graph backward pass per node."""
    model, x, edge_index = work.model, work.x, work.edge_index
    every = torch.arange(x.size(0), device=x.device)

    def ours() -> Tensor:
        adapter = PyGAdapter(model, x, edge_index, index=every)
        return EdgeGradient(adapter).attribute(adapter.ones())

    def loop() -> Tensor:
        weight = torch.ones(edge_index.size(1), device=x.device, requires_grad=True)
        set_masks(model, weight, edge_index, apply_sigmoid=False)
        try:
            out = model(x, edge_index)
            predicted = out.argmax(1)
            return torch.stack([torch.autograd.grad(out[node, predicted[node]], weight, retain_graph=True)[0] for node in every.tolist()])
        finally:
            clear_masks(model)

    difference = float((ours() - loop()).abs().max())
    looped = median_seconds(loop, repeats=1)
    floor = floors.gradient_seconds(model, x, edge_index, [every.tolist()], HOPS)
    return Row("4", f"EdgeGradient of all {every.numel()} Cora nodes in one call", "one forward, then one backward pass through the whole graph per node",
               median_seconds(ours), looped, 10.0, f"max abs difference {difference:.1e}; peak memory {peak_memory_mib():.0f} MiB" + floors.floor_note(floor, "all", looped),
               unit="all", profile=dominant_operations(ours))


def large_graph(num_nodes: int, num_edges: int, chunk: int, sampled: int) -> List[Row]:
    r"""Items 4b and 5: EdgeGradient on a random graph with ``num_edges`` edges.

    4b: every node, ``chunk`` targets per call as sparse attributions, against
    a loop of single-target calls (timed on ``sampled`` nodes, extrapolated).
    5: one explanation against one forward pass of the model, with the
    adapter's check already made on these inputs and on new inputs.
    """
    x, edge_index = random_graph(num_nodes, num_edges, features=32, seed=0)
    torch.manual_seed(0)
    model = GCN(32, 32, 8).eval().to(x.device)
    with torch.no_grad():
        forward = median_seconds(lambda: model(x, edge_index))
    sample = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(1))[:sampled].to(x.device)

    def loop() -> List[Tensor]:
        results = []
        for node in sample.tolist():
            adapter = PyGAdapter(model, x, edge_index, index=node)
            results.append(EdgeGradient(adapter).attribute_sparse())
        return results

    loop_seconds = median_seconds(loop, repeats=1) / sampled
    batched = EdgeGradient(PyGAdapter(model, x, edge_index, index=sample)).attribute_sparse().to_dense()
    difference = float((batched - torch.cat([g.to_dense() for g in loop()])).abs().max())
    groups = torch.arange(num_nodes, device=x.device).split(chunk)

    def one_call(group: Tensor) -> None:
        EdgeGradient(PyGAdapter(model, x, edge_index, index=group)).attribute_sparse()

    start = time.perf_counter()
    for group in groups:
        one_call(group)
    every = time.perf_counter() - start
    memory = peak_memory_mib()
    middle = groups[len(groups) // 2]
    profile = dominant_operations(lambda: one_call(middle)) + f", one call of {chunk} nodes"
    floor = floors.gradient_seconds(model, x, edge_index, [middle.tolist()], HOPS) / middle.numel()

    def whole_graph() -> None:
        adapter = PyGAdapter(model, x, edge_index, index=0, restrict=False)
        EdgeGradient(adapter).attribute(adapter.ones())

    def one_node() -> None:
        adapter = PyGAdapter(model, x, edge_index, index=int(sample[0]))
        EdgeGradient(adapter).attribute(adapter.ones())

    def one_node_on_new_inputs() -> None:
        # New feature tensors: the adapter's check against the model's own output runs again.
        adapter = PyGAdapter(model, x.clone(), edge_index, index=int(sample[0]))
        EdgeGradient(adapter).attribute(adapter.ones())

    size = f"{num_nodes // 1000}k nodes, {num_edges / 1e6:.1f}M edges"
    budget = 100.0 * num_nodes / 100_000  # 100 s for 100k nodes; smaller graphs (--quick) in proportion
    return [
        Row("4", f"EdgeGradient of all nodes, {size}, {chunk} per call", "loop of single-target calls (timed on "
            f"{sampled} nodes)", every / num_nodes, loop_seconds, 10.0,
            f"{num_nodes / every:.0f} explanations/s; peak memory {memory:.0f} MiB; batched = loop to {difference:.1e}"
            + floors.floor_note(floor, baseline=loop_seconds)),
        Row("4", f"EdgeGradient of all nodes, {size}, {chunk} per call", f"goal: {budget:.0f} s", every, budget, 1.0,
            f"peak memory {memory:.0f} MiB, bounded by the {chunk} targets of a call" + floors.floor_note(floor * num_nodes, "all"), unit="all", profile=profile),
        Row("5", f"EdgeGradient of one node incl. adapter, {size}", "one forward pass of the model", median_seconds(one_node), forward, None,
            "restricted to the node's computation graph; the model already checked on these inputs", goal_max=3.0),
        Row("5", f"EdgeGradient of one node incl. adapter and its first check, {size}", "one forward pass of the model",
            median_seconds(one_node_on_new_inputs), forward, None,
            "new inputs: the check runs the model once on the full graph, then the restricted passes", goal_max=3.0),
        Row("5", f"EdgeGradient over the whole graph (restrict=False), {size}", "one forward pass of the model", median_seconds(whole_graph, repeats=2), forward, None,
            "forward + backward with a mask on every message", goal_max=3.0),
    ]


def walk_search(num_nodes: int, targets: int, epochs: int) -> List[Row]:
    r"""Item 6: the paper's walk search (:class:`~edgeattr.BestWalk`) per node against a per-node
    implementation in the style of the paper's code, on PyG's InfectionDataset (4-layer sum GraphSAGE).

    Both find the walk of every sampled valid target; edgeattr as a user would, with one
    adapter of all the targets and one search (:meth:`~edgeattr.BestWalk.walks`). The row
    reports whether the walks agree and each one's path accuracy.
    """
    from edgeattr import BestWalk
    from edgeattr.benchmarks.reference_paths import reference_walk
    from edgeattr.experiments.infection import valid_targets, walk_is_correct
    from edgeattr.experiments.infection_training import infection_graphs, infection_model, train_edgeattr

    graphs = infection_graphs(4, num_nodes, 0.004 * 1000 / num_nodes, 50 * num_nodes // 1000, 4, seed=0)
    model = infection_model(20, 4)
    train_edgeattr(model, graphs, epochs, seed=0)
    graph = graphs[-1]
    nodes = valid_targets(graph, 4)[:targets].tolist()
    ours_walks: List[List[int]] = []
    their_walks: List[List[int]] = []

    def ours() -> None:
        index = torch.tensor(nodes)
        adapter = PyGAdapter(model, graph.x, graph.edge_index, index=index, layerwise=True)
        ours_walks[:] = [walk.nodes.tolist() for walk in BestWalk(adapter).walks(target=graph.y[index])]

    def theirs() -> None:
        their_walks.clear()
        for node in nodes:
            their_walks.append(reference_walk(model, graph.x, graph.edge_index, index=node, target=int(graph.y[node]))[0])

    base = median_seconds(theirs, repeats=1, warmup=0) / len(nodes)
    mine = median_seconds(ours, repeats=1) / len(nodes)
    same = sum(a == b for a, b in zip(ours_walks, their_walks))
    accuracy = sum(walk_is_correct(torch.tensor(w), graph, n) for w, n in zip(ours_walks, nodes)) / len(nodes)
    return [Row("6", f"BestWalk per node, InfectionDataset ({num_nodes} nodes)", "per-node loop in the style of the paper's code", mine, base, 100.0,
                f"one adapter and one search for the {len(nodes)} targets; same walk on {same} of {len(nodes)}; "
                f"path accuracy {accuracy:.2%} (model trained {epochs} epochs)")]
