r"""Attributions on disk: Parquet shards of ``(target, edge[, layer], value)`` rows and the manifest that lists them.

A run of :func:`edgeattr.explain_all` writes into one folder:

- ``manifest.json``: what was explained (method, options, task, the targets,
  a fingerprint of the model's parameters and the inputs) and the shards,
  each with its targets (positions ``first .. last - 1`` of the targets),
  their explained classes and whether it is written;
- ``shard-00000.parquet``, ...: one row per non-zero attribution (or per
  edge of each target's top ``k``), columns ``target`` (the target's id),
  ``edge`` (the edge's id: a column of ``edge_index``, a DGL edge id),
  ``layer`` (layerwise runs only) and ``value``.

Every file is written under a temporary name and then renamed, so that a
folder never holds half a shard or half a manifest: a run stopped at any point
and started again with the same arguments skips the shards it finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import torch
from torch import Tensor

#: The manifest's file name within a run's folder.
MANIFEST = "manifest.json"
#: Version of the folder's layout, checked on reading.
FORMAT_VERSION = 1


@dataclass
class Shard:
    r"""One shard of a run: targets ``first .. last - 1`` (positions in the manifest's targets).

    Attributes:
        first, last (int): The shard's targets.
        file (str): Its Parquet file, relative to the folder.
        done (bool): Whether the file is written.
        rows (int): Rows in the file.
        classes (list[int]): The explained class of each of its targets.
    """

    first: int
    last: int
    file: str
    done: bool = False
    rows: int = 0
    classes: List[int] = field(default_factory=list)


@dataclass
class Manifest:
    r"""What a run explains and where its shards are.

    Attributes:
        fingerprint (str): SHA-256 of the model's parameters and buffers, the
            inputs' values and the run's settings (see :func:`content_fingerprint`).
        settings (dict): The run's settings as given (method, options, task,
            layerwise, topk, mode), JSON values.
        task (str): ``'node'``, ``'graph'`` or ``'edge'``.
        targets (list[int]): The explained node, graph or pair ids, in order.
        num_edges (int): Edges of the graph (the columns of an attribution).
        num_layers (int): Rows per target of a layerwise run (1 otherwise).
        layerwise (bool): Whether rows carry a ``layer``.
        shards (list[Shard]): The shards, in target order.
        version (int): :data:`FORMAT_VERSION`.
    """

    fingerprint: str
    settings: Dict[str, Any]
    task: str
    targets: List[int]
    num_edges: int
    num_layers: int
    layerwise: bool
    shards: List[Shard]
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        data = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"the manifest has format version {data.get('version')}; this edgeattr reads version {FORMAT_VERSION}")
        data["shards"] = [Shard(**shard) for shard in data["shards"]]
        return cls(**data)


class AttributionStore:
    r"""A run's folder: its manifest and shards, written atomically.

    Args:
        folder (str or Path): The run's folder (created if missing).
        manifest (Manifest): The run; :meth:`open` reads or starts one.
    """

    def __init__(self, folder: Union[str, pathlib.Path], manifest: Manifest) -> None:
        self.folder = pathlib.Path(folder)
        self.manifest = manifest

    @classmethod
    def open(cls, folder: Union[str, pathlib.Path], wanted: Manifest) -> "AttributionStore":
        r"""The store of the run ``wanted``: resumed where the folder holds the same run, else started.

        Raises:
            ValueError: if the folder holds another run (its fingerprint, targets or
                shards differ): results of different runs are never mixed.
        """
        folder = pathlib.Path(folder)
        path = folder / MANIFEST
        if path.exists():
            found = Manifest.from_json(path.read_text())
            same = (found.fingerprint, found.targets, [(s.first, s.last) for s in found.shards]) == (
                wanted.fingerprint, wanted.targets, [(s.first, s.last) for s in wanted.shards]
            )
            if not same:
                raise ValueError(
                    f"{folder} holds the results of another run (other model parameters, inputs, settings, targets or "
                    f"shard size): pass a new out= folder, or delete that one to start again"
                )
            store = cls(folder, found)
            for shard in found.shards:  # a shard whose file was removed is written again
                shard.done = shard.done and (folder / shard.file).exists()
            return store
        folder.mkdir(parents=True, exist_ok=True)
        store = cls(folder, wanted)
        store._write_manifest()
        return store

    def pending(self) -> List[int]:
        r"""Indices of the shards still to write."""
        return [i for i, shard in enumerate(self.manifest.shards) if not shard.done]

    def write(self, index: int, targets: Tensor, edges: Tensor, layers: Optional[Tensor], values: Tensor, classes: List[int]) -> None:
        r"""Writes shard ``index`` (its rows, ``(R,)`` each) and marks it done in the manifest.

        Args:
            index (int): The shard.
            targets, edges (Tensor): Target and edge id of each row.
            layers (Tensor, optional): Layer of each row (layerwise runs).
            values (Tensor): The attributions.
            classes (list[int]): The explained class of each of the shard's targets.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        shard = self.manifest.shards[index]
        columns = {"target": targets, "edge": edges, **({"layer": layers} if layers is not None else {}), "value": values}
        table = pa.table({name: column.detach().cpu().numpy() for name, column in columns.items()})
        path = self.folder / shard.file
        temporary = path.with_name(path.name + ".tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, path)
        shard.done, shard.rows, shard.classes = True, table.num_rows, [int(c) for c in classes]
        self._write_manifest()

    def _write_manifest(self) -> None:
        path = self.folder / MANIFEST
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(self.manifest.to_json())
        os.replace(temporary, path)


def read_attributions(folder: Union[str, pathlib.Path], as_table: bool = False) -> Any:
    r"""The attributions of a finished run of :func:`edgeattr.explain_all`.

    Args:
        folder (str or Path): The run's folder.
        as_table (bool, optional): Return the rows as a ``pyarrow.Table``
            (``table.to_pandas()`` for a data frame) instead of a tensor.
            (default: ``False``)

    Returns:
        Tensor or pyarrow.Table: A sparse COO tensor ``(T, E)`` (``(T, L, E)``
        for a layerwise run) whose row ``t`` is the ``t``-th target of the
        manifest (``read_manifest(folder).targets[t]``); or the table of
        ``target`` (the id), ``edge``, [``layer``,] ``value`` rows.

    Raises:
        ValueError: if a shard is not written yet (rerun :func:`edgeattr.explain_all`
            with the same arguments to finish it).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    missing = [shard.file for shard in manifest.shards if not shard.done]
    if missing:
        raise ValueError(f"{len(missing)} of {len(manifest.shards)} shards are not written yet ({missing[0]}, ...): run explain_all again with the same arguments to finish them")
    table = pa.concat_tables([pq.read_table(folder / shard.file) for shard in manifest.shards])
    if as_table:
        return table
    targets = torch.tensor(manifest.targets, dtype=torch.long)
    order = torch.argsort(targets)
    ids = torch.from_numpy(table.column("target").to_numpy()).long()
    index = [order[torch.searchsorted(targets[order], ids)]]  # each row's position among the targets
    if manifest.layerwise:
        index.append(torch.from_numpy(table.column("layer").to_numpy()).long())
    index.append(torch.from_numpy(table.column("edge").to_numpy()).long())
    shape = (len(manifest.targets),) + ((manifest.num_layers,) if manifest.layerwise else ()) + (manifest.num_edges,)
    values = torch.from_numpy(table.column("value").to_numpy().copy())
    return torch.sparse_coo_tensor(torch.stack(index), values, shape).coalesce()


def read_target(folder: Union[str, pathlib.Path], target: int) -> Tuple[Manifest, int, Tensor]:
    r"""One target's attributions in a run, read from its shard alone.

    Args:
        folder (str or Path): The run's folder.
        target (int): The target's id (a node, graph or pair id among the manifest's targets).

    Returns:
        tuple: The manifest, the target's explained class, and its attributions,
        dense, ``(E,)`` (``(L, E)`` for a layerwise run), zero for the edges
        without a row (zero attributions, or outside a ``topk`` run's top edges).

    Raises:
        ValueError: if the run has no such target or its shard is not written yet.
    """
    import pyarrow.parquet as pq

    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    if target not in manifest.targets:
        raise ValueError(f"the run in {folder} did not explain target {target}; its targets are listed in read_manifest(folder).targets")
    position = manifest.targets.index(target)
    shard = next(shard for shard in manifest.shards if shard.first <= position < shard.last)
    if not shard.done:
        raise ValueError(f"the shard of target {target} ({shard.file}) is not written yet: run explain_all again with the same arguments to finish it")
    table = pq.read_table(folder / shard.file, filters=[("target", "=", target)])
    shape = ((manifest.num_layers,) if manifest.layerwise else ()) + (manifest.num_edges,)
    index = tuple(torch.tensor(table.column(name).to_numpy(), dtype=torch.long) for name in (("layer", "edge") if manifest.layerwise else ("edge",)))
    column = torch.tensor(table.column("value").to_numpy())
    values = torch.zeros(shape, dtype=column.dtype).index_put_(index, column)
    return manifest, shard.classes[position - shard.first], values


def read_manifest(folder: Union[str, pathlib.Path]) -> Manifest:
    r"""The manifest of a run's folder.

    Raises:
        FileNotFoundError: naming the folder, if it holds no run.
    """
    path = pathlib.Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{folder} holds no edgeattr run ({MANIFEST} is missing); explain_all(..., out={str(folder)!r}) writes one")
    return Manifest.from_json(path.read_text())


def content_fingerprint(model: torch.nn.Module, values: Iterable[Any], settings: Dict[str, Any]) -> str:
    r"""SHA-256 of the model's parameters and buffers, every tensor among ``values``, and ``settings``.

    Tensors are read by their bytes, dtype and shape, so that equal values give
    equal fingerprints in another process. Containers (tuples, lists, dicts,
    PyG ``Data``, DGL graphs) are read through their tensors.
    """
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        _update(digest, tensor)
    for value in values:
        for tensor in _tensors(value):
            _update(digest, tensor)
    digest.update(json.dumps(settings, sort_keys=True, default=repr).encode())
    return digest.hexdigest()


def _update(digest: Any, tensor: Tensor) -> None:
    tensor = tensor.detach()
    if tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
    digest.update(tensor.cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())


def _tensors(value: Any) -> Iterable[Tensor]:
    """The tensors held by an input: itself, a container's items, a graph's structure and data."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            yield from _tensors(value[key])
    elif hasattr(value, "edges") and hasattr(value, "ndata"):  # a DGL graph
        yield from value.edges(order="eid")
        for data in (value.ndata, value.edata):
            for key in sorted(data.keys(), key=repr):
                yield from _tensors(data[key])
    elif hasattr(value, "items") and callable(value.items):  # a PyG Data or Batch
        for _, item in sorted(value.items(), key=lambda pair: pair[0]):
            yield from _tensors(item)
