"""Exceptions raised by edgeattr's own input checks."""


class UnsupportedLayerError(TypeError):
    r"""A layer of the model passes messages in a way an edge mask cannot reach.

    Raised for layers that bypass message passing (relational convolutions that
    split ``edge_index`` by relation, fused sparse-adjacency kernels, dense
    convolutions) instead of returning attributions that silently ignore them.
    """
