"""A brute-force transcription of the paper's sign-flip statistic (track_grads/tracking_gradients*.py)."""

from typing import Callable, Iterable, Tuple

import torch
from torch import Tensor

#: d z / d p for mask parameters p, the weights sigmoid(p) (True) or p itself (False): one full forward and backward.
Gradient = Callable[[Tensor, bool], Tensor]


def reference_statistic(gradient: Gradient, num_edges: int, swept_edges: Iterable[int], reversals_only: bool = False) -> Tuple[Tensor, float, Tensor]:
    """The reference's flags over all edges, its rate and the gradient at a mask of ones, by a plain loop.

    The gradient at a mask of ones (weights 1, no sigmoid: PyG's Captum InputXGradient there) gives the signs
    compared against; for every swept edge and parameter w in arange(0, 1, 0.05), with every other parameter
    1 and the weights sigmoid(p), each edge whose sign differs (reversals only, for graph tasks) is flagged.
    """
    ones = torch.ones(num_edges, dtype=torch.float64)
    at_ones = gradient(ones, False)
    flags = torch.zeros_like(ones, dtype=torch.bool)
    for edge in swept_edges:
        for w in torch.arange(0, 1, 0.05, dtype=torch.float64):
            parameters = ones.clone()
            parameters[edge] = w
            signs = gradient(parameters, True).sign()
            flags |= (signs - at_ones.sign()).abs() > 1 if reversals_only else signs != at_ones.sign()
    return flags, float(flags.sum()) / float((at_ones != 0).sum()), at_ones
