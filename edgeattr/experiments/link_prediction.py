r"""Link prediction on a node dataset's graph: held-out edges, a GNN encoder and a dot-product decoder, as PyG's
``link_pred.py`` trains it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric import seed_everything
from torch_geometric.data import Data
from torch_geometric.transforms import RandomLinkSplit
from torch_geometric.utils import negative_sampling

from edgeattr.experiments.models import build_model
from edgeattr.ground_truth import roc_auc

#: Size of the node embeddings the decoder scores.
EMBEDDING = 32


class LinkPredictor(torch.nn.Module):
    r"""A GNN encoder and a dot-product decoder: the logit of pair :math:`(u, v)` is :math:`z_u^\top z_v`.

    Args:
        encoder (torch.nn.Module): ``encoder(x, edge_index)`` giving node embeddings ``(N, D)``.
    """

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: Tensor, edge_index: Tensor, edge_label_index: Tensor) -> Tensor:
        r"""The logit of each pair of ``edge_label_index`` ``(2, P)``, shape ``(P,)``."""
        z = self.encoder(x, edge_index)
        return (z[edge_label_index[0]] * z[edge_label_index[1]]).sum(dim=-1)


@dataclass
class LinkSplit:
    r"""A graph's edges split for link prediction (PyG's ``RandomLinkSplit``, undirected).

    Attributes:
        train (Data): The message graph (training edges), with ``edge_label_index`` its positive pairs.
        test (Data): The same message graph, with held-out pairs in ``edge_label_index``
            (positive and as many negative) and their labels in ``edge_label``.
    """

    train: Data
    test: Data


def split_links(graph: Data, seed: int = 0) -> LinkSplit:
    r"""10% of the undirected edges held out for testing (with as many negative pairs), 5% for validation, seeded."""
    seed_everything(seed)
    train, _, test = RandomLinkSplit(num_val=0.05, num_test=0.1, is_undirected=True, add_negative_train_samples=False)(graph)
    return LinkSplit(train, test)


def train_link_predictor(architecture: str, split: LinkSplit, depth: int = 2, epochs: int = 100, lr: float = 0.01, seed: int = 0) -> Tuple[LinkPredictor, float]:
    r"""Trains a :class:`LinkPredictor` with one fresh negative pair per positive each epoch (binary cross-entropy).

    Args:
        architecture (str): The encoder, as :func:`~edgeattr.experiments.models.build_model` names it.
        split (LinkSplit): The edges.
        depth (int): Message-passing layers. (default: ``2``)
        epochs (int): Full-batch Adam steps. (default: ``100``)
        lr (float): Learning rate. (default: ``0.01``)
        seed (int): Seed of the weights and the negative pairs. (default: ``0``)

    Returns:
        tuple: The model in eval mode and its ROC AUC on the test pairs.
    """
    seed_everything(seed)  # negative sampling draws from Python's random module too
    train = split.train
    model = LinkPredictor(build_model(architecture, train.num_features, EMBEDDING, depth))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    positives = train.edge_label_index
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        negatives = negative_sampling(train.edge_index, num_nodes=train.num_nodes, num_neg_samples=positives.size(1))
        pairs = torch.cat([positives, negatives], 1)
        labels = torch.cat([torch.ones(positives.size(1)), torch.zeros(negatives.size(1))])
        loss = F.binary_cross_entropy_with_logits(model(train.x, train.edge_index, pairs), labels)
        loss.backward()
        optimizer.step()
    model.eval()
    test = split.test
    with torch.no_grad():
        scores = model(test.x, test.edge_index, test.edge_label_index)
    return model, float(roc_auc(scores, test.edge_label.bool()))
