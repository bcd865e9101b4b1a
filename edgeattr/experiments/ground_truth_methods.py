r"""The explainers compared against ground truth: edgeattr's methods and PyG's, each a function of one target.

edgeattr's run through :func:`edgeattr.explain` on the unmodified model; PyG's through
``torch_geometric.explain.Explainer`` with an edge mask of type ``'object'`` and no node mask.
Every function returns one score per edge of the target's graph, higher meaning more important,
for the class the model predicts.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm import CaptumExplainer, PGExplainer
from torch_geometric.explain.algorithm import GNNExplainer as PyGGNNExplainer

from edgeattr import explain
from edgeattr.experiments.ground_truth_data import ExplainedTarget, GroundTruthTask
from edgeattr.experiments.outputs import progress
from edgeattr.modes import BINARY

#: Method id -> its label in tables and figures, in the order they are shown.
METHODS: Dict[str, str] = {
    "edge_gradient": "EdgeGradient",
    "gradient_sign": "GradientSign",
    "edge_occlusion": "EdgeOcclusion",
    "layerwise_occlusion": "LayerwiseOcclusion (sum)",
    "gnnexplainer": "GNNExplainer",
    "pyg_gnnexplainer": "PyG GNNExplainer",
    "pyg_pgexplainer": "PyG PGExplainer",
    "pyg_integrated_gradients": "PyG Captum IG",
    "random": "Random",
}
#: edgeattr's methods, by the names :func:`edgeattr.explain` takes.
EDGEATTR_METHODS = ("edge_gradient", "gradient_sign", "edge_occlusion", "layerwise_occlusion", "gnnexplainer")

#: One explainer: a target -> one score per edge of its graph ``(E,)``.
ExplainFunction = Callable[[ExplainedTarget], Tensor]


@dataclass(frozen=True)
class ExplainerSettings:
    r"""The explainers' options; the defaults are PyG's.

    Attributes:
        gnnexplainer_epochs (int): Epochs of both GNNExplainers. (default: ``100``)
        pgexplainer_epochs (int): PGExplainer's training epochs over the targets. (default: ``30``)
        pgexplainer_lr (float): PGExplainer's learning rate. (default: ``0.003``)
        ig_steps (int): Integrated Gradients' steps. (default: ``50``)
    """

    gnnexplainer_epochs: int = 100
    pgexplainer_epochs: int = 30
    pgexplainer_lr: float = 0.003
    ig_steps: int = 50


def build_explainers(
    task: GroundTruthTask, settings: ExplainerSettings, methods: Sequence[str] = tuple(METHODS), seed: int = 0
) -> Tuple[Dict[str, ExplainFunction], Dict[str, float]]:
    r"""The explainers of ``methods`` for ``task``'s model, with PGExplainer trained on the task's targets.

    Args:
        task (GroundTruthTask): The model and the targets (PGExplainer trains on them, as it
            trains on the instances it explains in its paper).
        settings (ExplainerSettings): The explainers' options.
        methods (Sequence[str]): Ids of :data:`METHODS`. (default: all)
        seed (int): Seed of PGExplainer's network and training. (default: ``0``)

    Returns:
        ``(explainers, setup_seconds)``: method id -> function of a target, and method id ->
        seconds spent before the first explanation (PGExplainer's training; 0 for the others).

    Raises:
        ValueError: for an unknown method id.
    """
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    explainers: Dict[str, ExplainFunction] = {}
    setup = {name: 0.0 for name in methods}
    for name in methods:
        if name in EDGEATTR_METHODS:
            options = {"epochs": settings.gnnexplainer_epochs} if name == "gnnexplainer" else None
            explainers[name] = _edgeattr_method(task, name, options)
        elif name == "pyg_gnnexplainer":
            explainers[name] = _pyg_method(_pyg_explainer(task, PyGGNNExplainer(epochs=settings.gnnexplainer_epochs), "model"))
        elif name == "pyg_integrated_gradients":
            ig = CaptumExplainer("IntegratedGradients", n_steps=settings.ig_steps)
            explainers[name] = _pyg_method(_pyg_explainer(task, ig, "model", probabilities=task.mode == BINARY))
        elif name == "pyg_pgexplainer":
            start = time.perf_counter()
            explainers[name] = _trained_pgexplainer(task, settings, seed)
            setup[name] = time.perf_counter() - start
        else:
            explainers[name] = _random
    return explainers, setup


def _edgeattr_method(task: GroundTruthTask, method: str, options: Optional[Mapping[str, Any]]) -> ExplainFunction:
    """:func:`edgeattr.explain` with ``method``; LayerwiseOcclusion's ``edge_mask`` is its sum over layers."""

    def run(target: ExplainedTarget) -> Tensor:
        explanation = explain(task.model, target.x, target.edge_index, index=target.index, task=task.level, mode=task.mode, method=method, options=options)
        return explanation.edge_mask

    return run


def _pyg_explainer(task: GroundTruthTask, algorithm: torch.nn.Module, explanation_type: str, probabilities: bool = False) -> Explainer:
    """PyG's Explainer of ``task``'s model with an edge mask only; with ``probabilities``, of the model
    followed by a sigmoid (PyG's CaptumExplainer takes binary classifiers that return probabilities).

    Each explainer gets its own copy of the model: PyG's GNNExplainer leaves its mask registered as
    a parameter of the model's layers, and the next ``set_masks`` on those layers would wrap another
    explainer's mask in a new parameter, cut off from that explainer's gradients.
    """
    model = copy.deepcopy(task.model)
    return Explainer(
        _Sigmoid(model) if probabilities else model,
        algorithm=algorithm,
        explanation_type=explanation_type,
        edge_mask_type="object",
        node_mask_type=None,
        model_config=dict(mode=task.mode, task_level=task.level, return_type="probs" if probabilities else "raw"),
    )


class _Sigmoid(torch.nn.Module):
    """A binary classifier's logit turned into the probability of class 1."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        return torch.sigmoid(self.model(*args, **kwargs))


def _pyg_method(explainer: Explainer) -> ExplainFunction:
    """A PyG explainer of the model's own prediction (explanation type ``'model'``)."""

    def run(target: ExplainedTarget) -> Tensor:
        return explainer(target.x, target.edge_index, index=target.index).edge_mask.detach()

    return run


def _trained_pgexplainer(task: GroundTruthTask, settings: ExplainerSettings, seed: int) -> ExplainFunction:
    """PGExplainer, trained as PyG's documentation does: ``algorithm.train`` for every epoch and
    target, against the model's predictions (explanation type ``'phenomenon'``)."""
    torch.manual_seed(seed)
    explainer = _pyg_explainer(task, PGExplainer(epochs=settings.pgexplainer_epochs, lr=settings.pgexplainer_lr), "phenomenon")

    def predicted(target: ExplainedTarget) -> Tensor:
        with torch.no_grad():
            return explainer.get_target(explainer.get_prediction(target.x, target.edge_index))

    predictions = [predicted(target) for target in task.targets]
    with warnings.catch_warnings():  # PyG's train() returns float(loss) of a tensor that requires grad
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")
        for epoch in progress(range(settings.pgexplainer_epochs), f"training PGExplainer on {task.name}"):
            for target, prediction in zip(task.targets, predictions):
                explainer.algorithm.train(epoch, explainer.model, target.x, target.edge_index, target=prediction, index=target.index)

    def run(target: ExplainedTarget) -> Tensor:
        return explainer(target.x, target.edge_index, target=predicted(target), index=target.index).edge_mask.detach()

    return run


def _random(target: ExplainedTarget) -> Tensor:
    """Uniform random scores: the reference an explainer must beat (ROC AUC 0.5 in expectation)."""
    return torch.rand(target.edge_index.size(1))


__all__ = ["METHODS", "EDGEATTR_METHODS", "ExplainerSettings", "ExplainFunction", "build_explainers"]
