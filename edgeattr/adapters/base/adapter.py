r"""The Captum ``forward_func`` of an edge mask: mask checks, chunking, and scattering back."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterable, List, Optional, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.link import EncoderDecoder, is_encoder_decoder
from edgeattr.adapters.base.messages import Layer
from edgeattr.adapters.base.prepared import prepared
from edgeattr.adapters.base.verification import difference, not_reproduced
from edgeattr.deprecation import renamed
from edgeattr.errors import UnsupportedLayerError, VerificationError
from edgeattr.modes import check_mode, resolve_mode

#: Upper bound on the input elements (node and edge feature values, at least one per
#: node and edge) of one batched forward pass: 2**24, 128 MiB in float64.
DEFAULT_ELEMENTS_PER_PASS = 1 << 24


def check_mask(
    mask: Tensor,
    *,
    name: str,
    num_edges: int,
    num_layers: int,
    layerwise: bool,
    device: torch.device,
    floating: bool = True,
) -> None:
    r"""Raises an error naming the problem and the fix if ``mask`` does not fit the adapter.

    Args:
        mask (Tensor): Shape ``(B, E)``, or ``(B, L, E)`` when ``layerwise``.
        name (str): What to call the mask in messages.
        floating (bool): Whether a floating dtype is required (else bool).
    """
    expected = f"(B, {num_layers}, {num_edges})" if layerwise else f"(B, {num_edges})"
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {expected}, got {type(mask).__name__}")
    if mask.dim() != (3 if layerwise else 2):
        hint = (
            "this adapter is layerwise: pass a mask of shape (B, L, E), e.g. adapter.ones()"
            if layerwise
            else "this adapter is input-level: build it with layerwise=True for (B, L, E) masks"
        )
        raise ValueError(f"{name} must have shape {expected}, got {tuple(mask.shape)}; {hint}")
    if mask.size(0) == 0:
        raise ValueError(f"{name} must hold at least one mask, got shape {tuple(mask.shape)}")
    if mask.size(-1) != num_edges or (layerwise and mask.size(1) != num_layers):
        raise ValueError(
            f"{name} must have shape {expected} (the graph has {num_edges} edges"
            f"{f' and the model {num_layers} message-passing calls' if layerwise else ''}), "
            f"got {tuple(mask.shape)}"
        )
    if floating and not mask.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {mask.dtype}; use mask.float()")
    if not floating and mask.dtype != torch.bool:
        raise TypeError(f"{name} must be a bool tensor, got {mask.dtype}")
    if mask.device != device:
        raise ValueError(f"{name} is on {mask.device} but the graph is on {device}; use mask.to({str(device)!r})")
    # A finite sum has no NaN or inf among its terms: one reduction, without a mask of flags (the
    # rare sum that overflows is checked entry by entry).
    if floating and not bool(torch.isfinite(mask.sum())) and not bool(torch.isfinite(mask).all()):
        raise ValueError(f"{name} contains NaN or inf; masks must be finite")


class EdgeMaskAdapter(ABC):
    r"""A model bound to its graph, as a Captum ``forward_func`` of an edge mask.

    ``adapter(mask)`` runs the model with message ``e`` of layer ``l`` multiplied
    by ``mask[b, e]`` (input level) or ``mask[b, l, e]`` (layerwise) for every
    mask ``b`` of the batch, and returns the explained output row of each.

    Built with ``features=True`` (a :class:`GraphAdapter`), it is
    :math:`f(w, X)`: ``adapter(mask, x)`` also runs mask ``b`` with the node
    features ``x[b]`` ``(N, *F)`` in place of the model's, and
    :meth:`inputs` gives ``(mask, x)`` at their values, so that Captum
    attributes both in one call.

    Subclasses build the computation graph and intercept their framework's
    message passing; see :class:`~edgeattr.adapters.PyGAdapter`.
    """

    #: Number of edges of the graph the user passed (masks are indexed by these).
    num_edges: int
    #: Number of nodes of the graph the user passed.
    num_nodes: int
    #: Number of message-passing calls of one forward pass.
    num_layers: int
    #: Whether masks carry one row per layer.
    layerwise: bool
    #: The message-passing calls of one forward pass, in call order.
    layers: List[Layer]

    def __init__(self, model: torch.nn.Module, *, layerwise: bool, mode: Optional[str] = None, features: bool = False) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if features and self._features_instead is not None:
            raise ValueError(f"{type(self).__name__} attributes edges only, not node features (features=True): {self._features_instead}")
        #: The module called: the model, or for a model with ``encode`` and ``decode`` but no forward, both as one.
        self.model = EncoderDecoder(model) if is_encoder_decoder(model) else model
        self._name_of = ModuleNames(model)
        self.layerwise = layerwise
        self.features = features
        #: What the output means (see :mod:`edgeattr.modes`); ``None`` infers it from the output.
        self.mode = check_mode(mode)

    # -- what a framework adapter provides -------------------------------------------

    #: Edge ids (into the user's edges) of the computation graph's edges, ``(E_sub,)``.
    #: With several targets, their computation graphs follow each other, and an
    #: edge in several of them appears once for each.
    edge_ids: Tensor
    #: Positions in ``edge_ids`` of the edges whose messages can reach their target;
    #: zeroing the message of any other edge leaves the output unchanged.
    message_edges: Tensor
    #: For a layerwise adapter, where known: whether the message of each of ``edge_ids`` at each
    #: layer can reach its target, ``(L, E_sub)`` bool (a message at layer ``l`` travels at most the
    #: calls after it); ``None``: at every layer, those of ``message_edges``.
    message_layers: Optional[Tensor] = None
    #: Number of targets ``T``: row ``r`` of a batch of masks explains target ``r % T``.
    num_targets: int = 1
    #: Whether the forward function also takes node features after the mask, ``f(mask, x)``
    #: (an adapter built with ``features=True``); see :meth:`inputs`.
    features: bool = False
    #: What to use instead, named where ``features=True`` is refused; ``None`` for adapters that take node features.
    _features_instead: Optional[str] = "build a PyGAdapter or DGLAdapter with features=True"

    @property
    def edge_segment(self) -> Tensor:
        r"""The target (``0 .. T - 1``) whose computation graph holds each of ``edge_ids``, ``(E_sub,)``."""
        return torch.zeros_like(self.edge_ids)

    column_targets = renamed("column_targets", "edge_segment")

    @property
    @abstractmethod
    def device(self) -> torch.device:
        r"""Device of the graph."""

    @property
    def dtype(self) -> torch.dtype:
        r"""Floating dtype of the masks: that of the model's parameters, else of its floating inputs."""
        tensors = itertools.chain(self.model.parameters(), self._input_tensors())
        return next((t.dtype for t in tensors if t.is_floating_point()), torch.get_default_dtype())

    def _input_tensors(self) -> Iterable[Tensor]:
        r"""The tensors the model is called with (for :attr:`dtype`)."""
        return ()

    @abstractmethod
    def _batched(self, sub_mask: Tensor, *, keep: bool) -> Tensor:
        r"""Runs the model with masks over the computation graphs' edges.

        Args:
            sub_mask (Tensor): ``(C, E_sub)`` or ``(C, L, E_sub)``: message
                weights (``keep=False``) or bool masks of the edges kept, the
                rest deleted (``keep=True``).

        Returns:
            The explained output row of each target under each mask, ``(C * T, *out)``.
        """

    # -- the Captum forward_func ---------------------------------------------------------

    def ones(self) -> Tensor:
        r"""The all-ones mask of each target, shape ``(T, E)`` or ``(T, L, E)``, on the graph's device."""
        shape = (self.num_targets, self.num_layers, self.num_edges) if self.layerwise else (self.num_targets, self.num_edges)
        return torch.ones(shape, dtype=self.dtype, device=self.device)

    def inputs(self) -> Tuple[Tensor, ...]:
        r"""The inputs of the forward function at their values, as Captum takes them.

        Returns:
            tuple[Tensor]: ``(ones(),)``; with ``features=True``
            ``(ones(), x)``, the node features once per target, ``(T, N, *F)``.
        """
        return (self.ones(),)

    def __call__(self, mask: Tensor, x: Optional[Tensor] = None) -> Tensor:
        r"""Runs the model with each of ``B`` edge masks, and node features ``x`` if given.

        Args:
            mask (Tensor): Shape ``(B, E)``, or ``(B, L, E)`` when layerwise;
                with ``T`` targets, ``B`` is a multiple of ``T`` and row ``r``
                applies to target ``r % T``.
            x (Tensor, optional): Only for an adapter built with
                ``features=True``: the node features of each mask,
                ``(B, N, *F)``; row ``b`` replaces the features the model is
                called with in the pass of mask row ``b``. ``None`` keeps the
                features the adapter was built with.

        Returns:
            Tensor of shape ``(B, *out)``: the model's output row at the target
            (node or graph) of each mask. Differentiable in ``mask`` and ``x``;
            a mask of another floating dtype than the model's is cast to it,
            and ``x`` to the features' dtype.
        """
        self.check(mask, name="mask")
        sub_mask = self.compact(mask).to(self.dtype)
        if x is None:
            return self._batched(sub_mask, keep=False)
        return self._batched_features(sub_mask, x)

    def _batched_features(self, sub_mask: Tensor, x: Tensor) -> Tensor:
        r"""Like :meth:`_batched` at message weights ``sub_mask`` ``(C, ..., E_sub)``, with node features
        ``x`` ``(C * T, N, *F)`` in place of the model's; refused by an adapter without ``features=True``."""
        raise TypeError(f"{type(self).__name__} takes an edge mask only, so x (node features) cannot be passed; for node features, {self._features_instead}")

    def remove(self, keep: Tensor) -> Tensor:
        r"""Runs the model with edges deleted instead of their messages zeroed.

        Args:
            keep (Tensor): Bool tensor of shape ``(B, E)`` (or ``(B, L, E)`` when
                layerwise); ``False`` deletes the edge (from that layer).

        Returns:
            Tensor of shape ``(B, *out)``.
        """
        self.check(keep, name="keep", floating=False)
        return self._batched(self.compact(keep), keep=True)

    def compact(self, mask: Tensor) -> Tensor:
        r"""Masks over all edges to masks over the computation graphs' edges.

        Args:
            mask (Tensor): Shape ``(B, E)`` or ``(B, L, E)``, ``B = C * T``.

        Returns:
            Tensor of shape ``(C, E_sub)`` or ``(C, L, E_sub)``: column ``k`` of
            row ``c`` is ``mask[c * T + edge_segment[k], ..., edge_ids[k]]``.
        """
        if self.num_targets == 1:
            return mask.index_select(-1, self.edge_ids)
        rounds = mask.view((mask.size(0) // self.num_targets, self.num_targets) + mask.shape[1:])
        if self.layerwise:
            return rounds.transpose(1, 2)[:, :, self.edge_segment, self.edge_ids]
        return rounds[:, self.edge_segment, self.edge_ids]

    def forward_subgraph(self, mask: Tensor) -> Tensor:
        r"""Like calling the adapter, with masks over the computation graphs' edges only.

        Methods that run many masks (occlusion, sweeps) use this to avoid
        building masks over all edges of a large graph.

        Args:
            mask (Tensor): Shape ``(C, E_sub)``, or ``(C, L, E_sub)`` when
                layerwise; column ``k`` weights edge ``edge_ids[k]`` for target
                ``edge_segment[k]``.

        Returns:
            Tensor of shape ``(C * T, *out)``: row ``c * T + t`` is target ``t``'s
            output under mask ``c``.
        """
        self._check_subgraph(mask, "mask", floating=True)
        return self._batched(mask.to(self.dtype), keep=False)

    def remove_subgraph(self, keep: Tensor) -> Tensor:
        r"""Like :meth:`remove`, with ``keep`` over the computation graphs' edges only.

        Args:
            keep (Tensor): Bool, shape ``(C, E_sub)`` or ``(C, L, E_sub)``.

        Returns:
            Tensor of shape ``(C * T, *out)``.
        """
        self._check_subgraph(keep, "keep", floating=False)
        return self._batched(keep, keep=True)

    def _check_subgraph(self, mask: Tensor, name: str, floating: bool) -> None:
        check_mask(
            mask,
            name=name,
            num_edges=self.edge_ids.numel(),
            num_layers=self.num_layers,
            layerwise=self.layerwise,
            device=self.device,
            floating=floating,
        )

    def check(self, mask: Tensor, *, name: str = "mask", floating: bool = True) -> None:
        r"""Raises a clear error if ``mask`` does not fit this adapter."""
        check_mask(
            mask,
            name=name,
            num_edges=self.num_edges,
            num_layers=self.num_layers,
            layerwise=self.layerwise,
            device=self.device,
            floating=floating,
        )
        if mask.size(0) % self.num_targets:
            raise ValueError(
                f"{name} has {mask.size(0)} rows for {self.num_targets} targets: pass a multiple of "
                f"{self.num_targets} rows (row r explains target r % {self.num_targets}), e.g. adapter.ones()"
            )

    def expand(self, values: Tensor) -> Tensor:
        r"""Scatters values over the computation graphs' edges to all edges.

        Args:
            values (Tensor): Shape ``(C, E_sub)`` or ``(C, L, E_sub)``.

        Returns:
            Tensor of shape ``(C * T, E)`` or ``(C * T, L, E)``, row ``c * T + t``
            holding target ``t``'s values, with zeros outside its computation graph.
        """
        rounds = values.new_zeros((values.size(0), self.num_targets) + values.shape[1:-1] + (self.num_edges,))
        if self.layerwise and values.dim() == 3:
            rounds.transpose(1, 2)[:, :, self.edge_segment, self.edge_ids] = values
        else:
            rounds[:, self.edge_segment, self.edge_ids] = values
        return rounds.view((values.size(0) * self.num_targets,) + rounds.shape[2:])

    def _verify_whole_input(self, own_rows: Callable[[], Tensor]) -> None:
        r"""Checks that a pass at mask 1 reproduces the model's own output rows.

        For adapters that run the user's whole input one mask at a time, the
        only shortcut is edgeattr's weighting itself; a mismatch means the
        model is not deterministic, or its messages change where edgeattr
        cannot see.

        Args:
            own_rows (Callable): The explained row(s) of the model's own call,
                run here in the state explanations run in (eval mode, no grad).

        Raises:
            ValueError: for a single output column without a mode.
            VerificationError: if the outputs differ.
        """
        with torch.no_grad(), prepared(self.model):
            own = own_rows()
        resolve_mode(self.mode, own[0].numel())
        with torch.no_grad():
            out = self(self.ones())
        gap = difference(out, own)
        if gap is not None:
            raise VerificationError(not_reproduced(gap))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({type(self.model).__name__}, num_edges={self.num_edges}, "
            f"num_layers={self.num_layers}, layerwise={self.layerwise})"
        )


def run_in_passes(sub_mask: Tensor, per_pass: int, keep: bool, run: Callable[..., Tensor], *rows: Tensor) -> Tensor:
    r"""Runs masks ``per_pass`` at a time with ``run(copies, weights, keep, *chunks of rows)``; the outputs concatenated.

    Each tensor of ``rows`` (the node features of each mask) has one row per mask and is split with the masks.
    """
    outputs = []
    for chunk, *row_chunks in zip(sub_mask.split(per_pass), *(tensor.split(per_pass) for tensor in rows)):
        outputs.append(run(chunk.size(0), None, chunk, *row_chunks) if keep else run(chunk.size(0), chunk, None, *row_chunks))
    return torch.cat(outputs)


def repeat_rows(tensor: Tensor, copies: int) -> Tensor:
    r"""Stacks ``copies`` copies of ``tensor`` along dim 0."""
    return tensor.repeat((copies,) + (1,) * (tensor.dim() - 1)) if copies > 1 else tensor


def copy_offsets(copies: int, per_copy: int, step: int, device: torch.device) -> Tensor:
    r"""Offsets ``[0]*per_copy + [step]*per_copy + ...`` for ``copies`` copies."""
    return torch.arange(copies, device=device).repeat_interleave(per_copy) * step


#: Which part of a model's output is explained: a position (tuple, list), a key (dict) or a function of the output.
OutputSelector = Union[None, int, str, Callable[[Any], Any]]


def select_output(out: Any, output: OutputSelector) -> Tensor:
    r"""The tensor to explain among a model's outputs.

    Args:
        out (object): What the model returned: a tensor, or a tuple, list or
            dict holding one (SuperGAT's ``(log_softmax, attention_loss)``, the
            dict of a heterogeneous model).
        output (int, str or Callable, optional): The position, the key, or a
            function of ``out`` that returns the tensor; ``None`` for a model
            that returns a tensor.

    Raises:
        TypeError: for an output other than a tensor without ``output``, naming
            the choices, or a selection that is not a tensor.
    """
    if output is None:
        if isinstance(out, Tensor):
            return out
        if isinstance(out, (tuple, list)):
            choices = ", ".join(f"output={i} ({_described(value)})" for i, value in enumerate(out))
            raise TypeError(f"the model returned a {type(out).__name__} of {len(out)} values; choose the one to explain: {choices}")
        if isinstance(out, dict):
            choices = ", ".join(f"output={key!r} ({_described(value)})" for key, value in out.items())
            raise TypeError(f"the model returned a dict; choose the value to explain: {choices}")
        raise TypeError(f"the model must return a Tensor, got {type(out).__name__}; choose a tensor of its output with output=<a function>")
    try:
        selected = output(out) if callable(output) else out[output]
    except (IndexError, KeyError, TypeError) as error:
        raise TypeError(f"output={output!r} selects nothing of the model's output ({_described(out)}): {error}") from None
    if not isinstance(selected, Tensor):
        raise TypeError(f"output={output!r} selects a {type(selected).__name__} of the model's output, not a Tensor")
    return selected


def _described(value: Any) -> str:
    return f"Tensor {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__


def unsupported(name: str, module: Any, why: str) -> UnsupportedLayerError:
    r"""The error for a layer an edge mask cannot reach."""
    return UnsupportedLayerError(f"layer '{name}' ({type(module).__name__}) is not supported: {why}")


class ModuleNames:
    r"""Names modules in messages: qualified names inside the model, class names elsewhere.

    Args:
        model (torch.nn.Module): The model whose modules are named.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self._names = {id(module): name or type(model).__name__ for name, module in model.named_modules()}

    def __call__(self, module: Any) -> str:
        r"""The name of ``module``."""
        return self._names.get(id(module), type(module).__name__)
