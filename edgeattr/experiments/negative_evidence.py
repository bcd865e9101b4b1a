r"""Negative evidence: edge gradients against GNNExplainer on the paper's synthetic graph.

White nodes are labelled by the colour most of their coloured neighbours have;
a 1-layer sum GraphSAGE (no bias, no root weight) learns it. For a white node,
an edge from the majority colour is positive evidence and one from another
colour negative evidence. GNNExplainer keeps the positive evidence only: its
mask matches the gradient sign P = 1[g > eps]. A reverse GNNExplainer, which
explains the other class, finds the negative evidence, so that GNNExplainer
minus reverse GNNExplainer matches the signed edge gradient g.

Binary (2 colours, one logit, BCE + L1): cos(P, GNNExplainer) (paper 0.9979 ±
0.0029), cos(g, GNNExplainer - reverse) (paper 0.9741 ± 0.0315), cos(1[g < -eps],
reverse GNNExplainer) and cos(g, GNNExplainer). With k >= 3 colours (one logit
per class, cross-entropy + L1): cos(P, GNNExplainer) (paper, 3 classes: 0.9977 ±
0.0038) and cos(g, GNNExplainer). Means and standard deviations over the
explained white nodes of a test graph; the model is trained on other graphs.

``--recipe paper`` (the default) builds the graphs and trains as the paper's
reference notebooks do (counts cycling through all ordered pairs, one Adam
step per training graph); ``--recipe edgeattr`` draws the counts at random and
takes full-batch steps. ``--seeds N`` repeats the run for N seeds and reports
every figure's mean ± std, min-max and first seed's value.

Writes nodes_<k>class.csv (one row per explained node of the first seed;
nodes_<k>class_seed<s>.csv for the others), summary.json and
negative_evidence_<k>class.png (the panels around one node).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TypedDict

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from edgeattr.adapters.pyg import PyGAdapter
from edgeattr.attribution import EdgeGradient, GNNExplainer, GradientSign
from edgeattr.experiments.cache import load_or_train
from edgeattr.experiments.models import SumSAGE
from edgeattr.experiments.negative_evidence_recipes import RECIPES, model_weights, recipe_graphs, train_per_graph
from edgeattr.experiments.outputs import ResultFolder, progress
from edgeattr.experiments.seed_spread import spread_over_seeds
from edgeattr.experiments.training import train_node_classifier
from edgeattr.metrics import cosine_similarity
from edgeattr.plotting import edge_attribution_figure


class GNNExplainerOptions(TypedDict):
    r"""Keyword arguments of :class:`~edgeattr.GNNExplainer`."""

    epochs: int
    lr: float
    edge_ent: float
    edge_size: float


#: GNNExplainer as the paper runs it on this graph.
GNNEXPLAINER_OPTIONS: GNNExplainerOptions = dict(epochs=100, lr=0.5, edge_ent=0.0, edge_size=0.001)

#: Node fill per colour index of the one-hot features: white, then the colours.
PALETTE = ["white", "tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple"]
COLOUR_NAMES = ["white", "blue", "red", "green", "orange", "purple"]

#: The paper's numbers (mean, std over explained nodes).
PAPER = {
    "2": {"cos_sign_gnnexplainer": (0.9979, 0.0029), "cos_gradient_difference": (0.9741, 0.0315)},
    "3": {"cos_sign_gnnexplainer": (0.9977, 0.0038)},
}


def node_colours(data: Data) -> List[str]:
    r"""Matplotlib fill colour of every node of a negative-evidence graph (white, blue, red, green, ...)."""
    colours = data.x.argmax(1).tolist()
    if max(colours) >= len(PALETTE):
        raise ValueError(f"at most {len(PALETTE) - 1} colours can be drawn, the graph has {max(colours)}")
    return [PALETTE[c] for c in colours]


def explained_nodes(data: Data, min_links: int = 2, min_margin: int = 1) -> Tensor:
    r"""The white nodes with clear evidence, as the paper selects its nodes to train on and explain.

    A white node is kept when it has at least ``min_links`` neighbours of every
    colour (so there is negative evidence to find) and its majority colour
    leads the runner-up by at least ``min_margin`` links. The paper takes
    ``min_margin=2`` for two colours and ``1`` for three.

    Args:
        data (Data): A graph of :func:`~edgeattr.experiments.synthetic.negative_evidence_graph`.
        min_links (int): Fewest links to each colour. (default: ``2``)
        min_margin (int): Least lead of the majority colour. (default: ``1``)

    Returns:
        Tensor: Bool mask ``(N,)``.
    """
    top = data.link_counts.topk(2, dim=1).values
    return data.white_mask & (data.link_counts.min(1).values >= min_links) & (top[:, 0] - top[:, 1] >= min_margin)


def paper_margin(num_colours: int) -> int:
    r"""The paper's least lead of the majority colour: 2 links with two colours, 1 with more."""
    return 2 if num_colours == 2 else 1


def train_sum_sage(
    graphs: Sequence[Data],
    masks: Sequence[Tensor],
    epochs: int,
    lr: float,
    l1: float = 0.01,
    seed: int = 0,
    cache_dir: Optional[str] = "",
    config: Optional[Mapping[str, Any]] = None,
    recipe: str = "edgeattr",
) -> Tuple[SumSAGE, Dict[str, float]]:
    r"""Trains the paper's 1-layer sum GraphSAGE on the masked nodes of one or more graphs.

    Adam with binary cross-entropy (two colours: one logit) or cross-entropy
    (more colours: one logit per class), plus ``l1`` times the weights' L1
    norm. The initial weights are drawn right after ``torch.manual_seed(seed)``.
    Recipe ``edgeattr`` takes one full-batch step per epoch on the disjoint
    union of the graphs; ``paper`` one step per graph per epoch, in order
    (:func:`~edgeattr.experiments.negative_evidence_recipes.train_per_graph`).

    Args:
        graphs (Sequence[Data]): Negative-evidence graphs with the same colours.
        masks (Sequence[Tensor]): Bool ``(N,)`` per graph: the nodes trained on.
        epochs (int): Epochs.
        lr (float): Adam's learning rate.
        l1 (float): L1 penalty. (default: ``0.01``)
        seed (int): Seed of the initial weights. (default: ``0``)
        cache_dir (str, optional): Trained-model cache, as :func:`~edgeattr.experiments.cache.load_or_train`
            takes it (``None``: the default folder); ``""`` trains without it. (default: ``""``)
        config (Mapping, optional): What generated the graphs, part of the cache key.
        recipe (str): ``'edgeattr'`` or ``'paper'``, part of the cache key. (default: ``'edgeattr'``)

    Returns:
        tuple: The model in eval mode and ``{"train_accuracy": ...}``.
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    union = Batch.from_data_list(list(graphs))
    train_mask = torch.cat(list(masks))
    num_colours = union.link_counts.size(1)
    torch.manual_seed(seed)
    model = SumSAGE(union.num_features, 1 if num_colours == 2 else num_colours)

    def train(model: SumSAGE) -> Dict[str, float]:
        if recipe == "paper":
            accuracy = train_per_graph(model, graphs, masks, epochs=epochs, lr=lr, l1=l1)
        else:
            accuracy = train_node_classifier(model, union.x, union.edge_index, union.y, train_mask, epochs=epochs, lr=lr, l1=l1, seed=seed)
        return {"train_accuracy": accuracy}

    key = {"experiment": "negative-evidence", "model": "SumSAGE", "recipe": recipe, **dict(config or {}), "epochs": epochs, "lr": lr, "l1": l1, "seed": seed}
    metrics = load_or_train(model, key, train, cache_dir, code=[train_node_classifier, train_per_graph])
    model.eval()
    return model, metrics


@dataclass
class NodeExplanations:
    r"""The explanations of one white node over the ``K`` edges into it, each ``(1, K)``.

    Attributes:
        edges (Tensor): Ids of the edges into the node, ``(K,)``.
        gradient (Tensor): Edge gradient :math:`g` of the predicted class.
        sign (Tensor): :math:`P = 1[g > \varepsilon]`.
        gnnexplainer (Tensor): GNNExplainer's mask for the predicted class.
        negative_sign (Tensor, optional): :math:`1[g < -\varepsilon]` (one logit only).
        reverse (Tensor, optional): GNNExplainer's mask for the other class (one logit only).
    """

    edges: Tensor
    gradient: Tensor
    sign: Tensor
    gnnexplainer: Tensor
    negative_sign: Optional[Tensor]
    reverse: Optional[Tensor]


def explain_node(model: SumSAGE, data: Data, node: int, eps: float, gnnexplainer_options: Mapping[str, Any], seed: int = 0) -> NodeExplanations:
    r"""Explains ``node`` with the edge gradient, its sign, GNNExplainer and (one logit) the reverse GNNExplainer.

    The model has one sum-aggregating layer, so only the edges into ``node``
    carry messages to it and no normaliser reads the others: every other edge
    has zero gradient and lies outside GNNExplainer's hard mask. The methods
    therefore run on the graph of those edges, with all nodes kept (so that
    GNNExplainer's initial spread, which depends on the node count, is the
    full graph's); without the coloured hubs' edges this is hundreds of times
    cheaper. For a single-logit model the reverse explanations take the
    flipped target (explained quantity :math:`-\operatorname{sign}(z) z`), so
    :math:`1[-g > \varepsilon] = 1[g < -\varepsilon]`.

    Args:
        model (Module): A trained :class:`~edgeattr.experiments.models.SumSAGE`.
        data (Data): The graph.
        node (int): The explained node.
        eps (float): Threshold :math:`\varepsilon` of the gradient sign.
        gnnexplainer_options (Mapping): Keyword arguments of :class:`~edgeattr.GNNExplainer`.
        seed (int): GNNExplainer's initial masks are drawn after seeding with
            ``seed + node``. (default: ``0``)

    Returns:
        :class:`NodeExplanations`.

    Raises:
        ValueError: for a model with more than one message-passing layer.
    """
    edges = (data.edge_index[1] == node).nonzero().view(-1)
    adapter = PyGAdapter(model, data.x, data.edge_index[:, edges], index=node, mode=model.mode)
    if adapter.num_layers != 1:
        raise ValueError(f"explain_node takes a model with one message-passing layer, got {adapter.num_layers}")
    ones = adapter.ones()
    gradient = EdgeGradient(adapter).attribute(ones)
    sign = GradientSign(adapter, eps=eps).attribute(ones)
    explainer = GNNExplainer(adapter, **gnnexplainer_options)
    torch.manual_seed(seed + node)
    gnnexplainer = explainer.attribute(ones)
    negative_sign = reverse = None
    with torch.no_grad():
        output = adapter(ones).view(-1)
    if output.numel() == 1:
        flipped = int(output[0] <= 0)
        negative_sign = GradientSign(adapter, eps=eps).attribute(ones, target=flipped)
        torch.manual_seed(seed + node)
        reverse = explainer.attribute(ones, target=flipped)
    return NodeExplanations(edges, gradient, sign, gnnexplainer, negative_sign, reverse)


def comparisons(explained: NodeExplanations) -> Dict[str, float]:
    r"""The experiment's cosine similarities for one node (see the module's description).

    Edges not into the node are zero in every explanation, so the cosines
    over the edges into it equal those over all edges, as the paper takes them.
    """
    def cos(a: Tensor, b: Tensor) -> float:
        return float(cosine_similarity(a, b)[0])

    row = {
        "cos_sign_gnnexplainer": cos(explained.sign, explained.gnnexplainer),
        "cos_gradient_gnnexplainer": cos(explained.gradient, explained.gnnexplainer),
    }
    if explained.reverse is not None and explained.negative_sign is not None:
        row["cos_gradient_difference"] = cos(explained.gradient, explained.gnnexplainer - explained.reverse)
        row["cos_negative_sign_reverse"] = cos(explained.negative_sign, explained.reverse)
    return row


def run_variant(args: argparse.Namespace, num_colours: int, seed: int, folder: ResultFolder) -> Dict[str, Any]:
    r"""Builds the graphs of ``args.recipe``, trains (or loads) the model, explains the test graph's nodes and writes the files.

    Args:
        args (Namespace): The parsed flags of :func:`add_arguments`.
        num_colours (int): Colours, i.e. classes.
        seed (int): Seed of graphs, training and explanations.
        folder (ResultFolder): Where the CSV and (for ``seed == args.seed``) the figure go.

    Returns:
        dict: The seed's summary: ``seed``, sizes, accuracies, ``{"mean", "std"}`` over
        the explained nodes of every cosine, the trained ``weights``, the drawn node and ``seconds``.
    """
    started = time.perf_counter()
    shape = dict(
        num_nodes=args.graph_size, nodes_per_colour=args.nodes_per_colour, num_colours=num_colours,
        min_links=args.min_links, max_links=args.max_links, p_white=args.p_white,
    )
    margin = paper_margin(num_colours)
    train_graphs, test = recipe_graphs(args.recipe, shape, args.train_graphs, seed)
    model, metrics = train_sum_sage(
        train_graphs, [explained_nodes(g, min_margin=margin) for g in train_graphs], epochs=args.epochs, lr=args.lr,
        l1=args.l1, seed=seed, cache_dir=args.cache_dir, config={**shape, "train_graphs": args.train_graphs, "min_margin": margin},
        recipe=args.recipe,
    )
    candidates = explained_nodes(test, min_margin=margin).nonzero().view(-1)
    with torch.no_grad():
        logits = model(test.x, test.edge_index)
    predicted = (logits.view(-1) > 0).long() if logits.size(1) == 1 else logits.argmax(1)
    test_accuracy = float((predicted[candidates] == test.y[candidates]).float().mean())
    nodes = candidates[: args.explained].tolist() if args.explained > 0 else candidates.tolist()

    rows, shown = [], None
    for node in progress(nodes, f"explaining ({num_colours} colours, seed {seed})"):
        explained = explain_node(model, test, node, args.eps, {**GNNEXPLAINER_OPTIONS, "epochs": args.gnnexplainer_epochs}, seed=seed)
        shown = shown or (node, explained)
        counts = {f"{COLOUR_NAMES[c + 1]}_links": int(test.link_counts[node, c]) for c in range(num_colours)}
        white_links = int((test.white_mask[test.edge_index[0]] & (test.edge_index[1] == node)).sum())
        rows.append({"node": node, "label": int(test.y[node]), "predicted": int(predicted[node]), **counts, "white_links": white_links, **comparisons(explained)})
    first = seed == args.seed
    folder.write_csv(f"nodes_{num_colours}class.csv" if first else f"nodes_{num_colours}class_seed{seed}.csv", rows)
    if shown is not None and first:
        _draw(folder, test, *shown, num_colours)

    summary: Dict[str, Any] = {
        "seed": seed, "colours": num_colours, "explained_nodes": len(rows), "candidate_nodes": int(candidates.numel()),
        "edges": int(test.num_edges), "test_accuracy": test_accuracy, **metrics, "weights": model_weights(model),
        "shown": rows[0] if rows else None,
    }
    for name in (key for key in (rows[0] if rows else {}) if key.startswith("cos_")):
        values = torch.tensor([row[name] for row in rows], dtype=torch.float64)
        summary[name] = {"mean": float(values.mean()), "std": float(values.std()) if len(rows) > 1 else 0.0}
    summary["seconds"] = time.perf_counter() - started
    return summary


def seed_figures(summary: Mapping[str, Any]) -> Dict[str, float]:
    r"""The figures of one seed's summary that spread over seeds: every cosine's mean over nodes and the accuracies."""
    figures = {name: float(value["mean"]) for name, value in summary.items() if name.startswith("cos_")}
    return {**figures, "test_accuracy": float(summary["test_accuracy"]), "train_accuracy": float(summary["train_accuracy"])}


def variant_result(num_colours: int, per_seed: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    r"""One variant over seeds: the paper's numbers, each seed's summary and the spread of its figures.

    Args:
        num_colours (int): Colours of the variant.
        per_seed (Sequence[Mapping]): What :func:`run_variant` returns, per seed, the first seed first.

    Returns:
        dict: ``paper``, ``per_seed`` and ``spread`` (:func:`~edgeattr.experiments.seed_spread.spread_over_seeds` of :func:`seed_figures`).
    """
    return {
        "paper": PAPER.get(str(num_colours), {}), "per_seed": list(per_seed),
        "spread": spread_over_seeds([seed_figures(summary) for summary in per_seed]),
    }


def _draw(folder: ResultFolder, data: Data, node: int, explained: NodeExplanations, num_colours: int) -> None:
    label = COLOUR_NAMES[int(data.y[node]) + 1]
    panels = {"edge gradients": explained.gradient[0], "GNNExplainer": explained.gnnexplainer[0]}
    bars = {"edge gradients": "edge gradient (signed)", "GNNExplainer": "mask"}
    if explained.reverse is not None:
        panels["reverse GNNExplainer (drawn as -mask)"] = -explained.reverse[0]
        bars["reverse GNNExplainer (drawn as -mask)"] = "-mask"
    limits = {title: 1.0 for title in panels if "GNNExplainer" in title}
    figure = edge_attribution_figure(data.edge_index[:, explained.edges], panels, node, node_colors=node_colours(data), limits=limits, colorbar_labels=bars, seed=0)
    figure.suptitle(f"white node {node}, {label} majority ({num_colours} colours)", y=1.02)
    folder.save_figure(f"negative_evidence_{num_colours}class.png", figure)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The experiment's flags; the defaults are the paper's sizes: about 25 minutes per seed on a shared 2-core CPU."""
    parser.add_argument("--recipe", choices=RECIPES, default=RECIPES[0],
                        help="paper: the reference's graphs (counts cycling through all ordered pairs) and per-graph Adam steps; "
                             "edgeattr: random counts and full-batch steps (default: paper)")
    parser.add_argument("--seeds", type=int, default=1, help="train and explain with seeds --seed .. --seed + N - 1 and report the spread (default: 1)")
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 3], help="colours (= classes) of each variant (default: 2 3)")
    parser.add_argument("--graph-size", type=int, default=2000, help="nodes per graph (default: 2000, as the paper)")
    parser.add_argument("--nodes-per-colour", type=int, default=10, help="coloured nodes per colour (default: 10)")
    parser.add_argument("--min-links", type=int, default=1, help="fewest links from a white node to one colour (default: 1)")
    parser.add_argument("--max-links", type=int, default=10, help="most links from a white node to one colour (default: 10)")
    parser.add_argument("--p-white", type=float, default=0.005, help="white-white edge probability (default: 0.005)")
    parser.add_argument("--train-graphs", type=int, default=4, help="graphs trained on; the test graph is another (default: 4)")
    parser.add_argument("--epochs", type=int, default=1000, help="training epochs (default: 1000)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate (default: 0.01)")
    parser.add_argument("--l1", type=float, default=0.01, help="L1 penalty on the weights (default: 0.01)")
    parser.add_argument("--explained", type=int, default=0, help="white nodes explained per variant; 0: all, as the paper (default: 0)")
    parser.add_argument("--eps", type=float, default=0.001, help="threshold of the gradient sign (default: 0.001)")
    parser.add_argument("--gnnexplainer-epochs", type=int, default=100, help="GNNExplainer's epochs (default: 100)")


#: Flags that say where results go, not what ran.
_PLACES = ("out", "cache_dir", "root", "run", "command", "experiment")


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Runs every variant of ``args.classes`` for every seed and writes ``summary.json``; returns the summary.

    Returns:
        dict: ``recipe``, ``seeds``, ``settings`` (the flags), ``threads`` and
        ``variants``: ``{"<k>class": variant_result(...)}``.
    """
    if any(k < 2 for k in args.classes):
        raise ValueError(f"--classes takes numbers of colours of at least 2, got {args.classes}")
    if args.seeds < 1:
        raise ValueError(f"--seeds takes the number of seeds to run, at least 1, got {args.seeds}")
    folder = ResultFolder(args.out)
    seeds = list(range(args.seed, args.seed + args.seeds))
    variants = {f"{k}class": variant_result(k, [run_variant(args, k, seed, folder) for seed in seeds]) for k in args.classes}
    settings = {name: value for name, value in sorted(vars(args).items()) if name not in _PLACES and name not in ("seed", "seeds")}
    summary = {"recipe": args.recipe, "seeds": seeds, "settings": settings, "threads": torch.get_num_threads(), "variants": variants}
    folder.write_json("summary.json", summary)
    for name, result in variants.items():
        numbers = ", ".join(
            f"{key} {value['mean']:.4f} ± {value['std']:.4f} [{value['min']:.4f}, {value['max']:.4f}]" for key, value in result["spread"].items()
        )
        print(f"{name} ({args.recipe}, seeds {seeds[0]}-{seeds[-1]}): {numbers}")
    print(f"wrote {folder.path}")
    return summary
