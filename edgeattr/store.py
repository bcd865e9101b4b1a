r"""Attributions on disk: Parquet shards of ``(target, edge[, layer], value)`` rows and the manifest that lists them.

A run of :func:`edgeattr.explain_all` writes into one folder:

- ``manifest.json``: what was explained (method, options, task, the targets,
  a fingerprint of the model's parameters and the inputs) and the shards,
  each with its targets (positions ``first .. last - 1`` of the targets) and
  its file; written once, when the run starts;
- ``shard-00000.parquet``, ...: one row per non-zero attribution (or per
  edge of each target's top ``k``), columns ``target`` (the target's id),
  ``edge`` (the edge's id: a column of ``edge_index``, a DGL edge id),
  ``layer`` (layerwise runs only) and ``value``;
- ``shard-00000.json``, ...: the shard's record, written once its Parquet
  file is: its row count and the explained class of each of its targets.
  A shard is written when its record and its file are there.

Every file is written under a temporary name and then renamed, so that a
folder never holds half a shard or half a record, and no file is ever
rewritten: a run stopped at any point and started again with the same
arguments skips the shards it recorded, and recording a shard costs the same
whatever the number of targets.

The folder is a local path or the URI of any filesystem pyarrow opens
(``s3://bucket/runs/cora``, ``gs://...``, ``hdfs://...``; see
``pyarrow.fs.FileSystem.from_uri``), so that the workers of a cluster write
their shards to shared storage (:class:`RunFolder`). Shards are written by
:func:`write_shard`, wherever a shard is explained, and recorded in the
manifest by :meth:`AttributionStore.record`, in the one process that owns it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, Union

import torch
from torch import Tensor

#: The manifest's file name within a run's folder.
MANIFEST = "manifest.json"
#: Version of the folder's layout, checked on reading.
FORMAT_VERSION = 2


@dataclass
class Shard:
    r"""One shard of a run: targets ``first .. last - 1`` (positions in the manifest's targets).

    Attributes:
        first, last (int): The shard's targets.
        file (str): Its Parquet file, relative to the folder.
        done (bool): Whether it is written (its file and its record are there).
        rows (int): Rows in the file (from its record).
        classes (list[int]): The explained class of each of its targets (from its record).
    """

    first: int
    last: int
    file: str
    done: bool = False
    rows: int = 0
    classes: List[int] = field(default_factory=list)

    @property
    def record(self) -> str:
        r"""The file of its record, beside its Parquet file: ``shard-00000.json``."""
        return os.path.splitext(self.file)[0] + ".json"


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
        r"""``manifest.json``: the run, its shards' targets and files; what is written is in the shards' records."""
        layout = [{"first": shard.first, "last": shard.last, "file": shard.file} for shard in self.shards]
        return json.dumps({**asdict(replace(self, shards=[])), "shards": layout}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        r"""The manifest of ``manifest.json``, every shard not written (:func:`read_manifest` reads the records too)."""
        data = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"the manifest has format version {data.get('version')}; this edgeattr reads version {FORMAT_VERSION}: "
                f"run explain_all again into a new out= folder"
            )
        data["shards"] = [Shard(**shard) for shard in data["shards"]]
        return cls(**data)


@dataclass(frozen=True)
class RunFolder:
    r"""A run's folder on a filesystem pyarrow reads and writes: local disk, or shared storage of a cluster.

    It pickles (the filesystem with it), so that a worker process writes where the driver reads.

    Attributes:
        filesystem (pyarrow.fs.FileSystem): The filesystem.
        path (str): The folder on it (absolute for local folders).
    """

    filesystem: Any
    path: str

    @classmethod
    def of(cls, folder: FolderLike) -> "RunFolder":
        r"""The folder named by a local path (made absolute) or a URI such as ``'s3://bucket/runs/cora'``."""
        import pyarrow.fs

        if isinstance(folder, RunFolder):
            return folder
        text = os.fspath(folder)
        if "://" in text:
            filesystem, path = pyarrow.fs.FileSystem.from_uri(text)
            return cls(filesystem, path.rstrip("/"))
        return cls(pyarrow.fs.LocalFileSystem(), os.path.abspath(text))

    def __str__(self) -> str:
        kind = self.filesystem.type_name
        return self.path if kind == "local" else f"{kind}://{self.path}"

    def file(self, name: str) -> str:
        r"""The path of the file ``name`` of the folder, on its filesystem."""
        return f"{self.path}/{name}"

    def exists(self, name: str) -> bool:
        r"""Whether the folder holds the file ``name``."""
        import pyarrow.fs

        return self.filesystem.get_file_info(self.file(name)).type == pyarrow.fs.FileType.File

    def read_text(self, name: str) -> str:
        r"""The contents of the file ``name``, as text."""
        with self.filesystem.open_input_stream(self.file(name), compression=None) as stream:
            return stream.read().decode()

    def create(self) -> None:
        r"""Creates the folder (and its parents) if missing."""
        self.filesystem.create_dir(self.path, recursive=True)

    def names(self) -> Set[str]:
        r"""The names of the files in the folder (one listing)."""
        import pyarrow.fs

        found = self.filesystem.get_file_info(pyarrow.fs.FileSelector(self.path))
        return {info.base_name for info in found if info.type == pyarrow.fs.FileType.File}

    def write_atomically(self, name: str, write: Callable[[Any], None]) -> None:
        r"""Writes the file ``name`` whole or not at all: ``write(stream)`` fills a temporary file, renamed when complete.

        The temporary name is unique to the call, so that two writers of one file
        (a task and its retry) never write into each other's; a failed write
        removes its temporary file.
        """
        final = self.file(name)
        temporary = f"{final}.{uuid.uuid4().hex}.tmp"
        try:
            with self.filesystem.open_output_stream(temporary, compression=None) as stream:
                write(stream)
            self.filesystem.move(temporary, final)
        except BaseException:
            with contextlib.suppress(OSError):
                self.filesystem.delete_file(temporary)
            raise


#: How a run's folder may be given: a local path, a filesystem URI or a :class:`RunFolder`.
FolderLike = Union[str, "os.PathLike[str]", RunFolder]


@dataclass
class ShardRows:
    r"""The rows of one shard, ``(R,)`` each, and the explained class of each of its targets.

    Attributes:
        targets (Tensor): Each row's target id.
        edges (Tensor): Each row's edge id.
        layers (Tensor, optional): Each row's layer (layerwise runs only).
        values (Tensor): The attributions.
        classes (list[int]): The explained class of each of the shard's targets, in order.
    """

    targets: Tensor
    edges: Tensor
    layers: Optional[Tensor]
    values: Tensor
    classes: List[int]


def write_shard(folder: FolderLike, shard: Shard, rows: ShardRows) -> Shard:
    r"""Writes ``rows`` as the Parquet file of ``shard``, atomically; the manifest is left to its owner.

    Any process may call it (a worker of a cluster writes the shards it explains); the
    process that owns the manifest records the returned shard with :meth:`AttributionStore.record`.

    Args:
        folder (str, Path or RunFolder): The run's folder.
        shard (Shard): The shard, as the manifest lists it.
        rows (ShardRows): Its rows.

    Returns:
        Shard: ``shard`` written: ``done``, with its row count and classes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"target": rows.targets, "edge": rows.edges, **({"layer": rows.layers} if rows.layers is not None else {}), "value": rows.values}
    table = pa.table({name: column.detach().cpu().numpy() for name, column in columns.items()})
    RunFolder.of(folder).write_atomically(shard.file, lambda stream: pq.write_table(table, stream))
    return replace(shard, done=True, rows=table.num_rows, classes=[int(c) for c in rows.classes])


class AttributionStore:
    r"""A run's folder and its manifest; this object alone records the shards written.

    Args:
        folder (str, Path or RunFolder): The run's folder.
        manifest (Manifest): The run; :meth:`open` reads or starts one.
    """

    def __init__(self, folder: FolderLike, manifest: Manifest) -> None:
        self.folder = RunFolder.of(folder)
        self.manifest = manifest

    @classmethod
    def open(cls, folder: FolderLike, wanted: Manifest) -> "AttributionStore":
        r"""The store of the run ``wanted``: resumed where the folder holds the same run, else started.

        Raises:
            ValueError: if the folder holds another run (its fingerprint, targets or
                shards differ): results of different runs are never mixed.
        """
        folder = RunFolder.of(folder)
        if folder.exists(MANIFEST):
            found = read_manifest(folder)
            same = (found.fingerprint, found.targets, [(s.first, s.last) for s in found.shards]) == (
                wanted.fingerprint, wanted.targets, [(s.first, s.last) for s in wanted.shards]
            )
            if not same:
                raise ValueError(
                    f"{folder} holds the results of another run (other model parameters, inputs, settings, targets or "
                    f"shard size): pass a new out= folder, or delete that one to start again"
                )
            return cls(folder, found)
        folder.create()
        text = wanted.to_json().encode()
        folder.write_atomically(MANIFEST, lambda stream: stream.write(text))
        return cls(folder, wanted)

    def pending(self) -> List[int]:
        r"""Indices of the shards still to write."""
        return [i for i, shard in enumerate(self.manifest.shards) if not shard.done]

    def record(self, index: int, written: Shard) -> None:
        r"""Records shard ``index`` as written (what :func:`write_shard` returned): writes its record, atomically.

        Raises:
            ValueError: if ``written`` is another shard, or not written.
        """
        listed = self.manifest.shards[index]
        if (written.first, written.last, written.file) != (listed.first, listed.last, listed.file) or not written.done:
            raise ValueError(f"shard {index} is {listed}; got {written}: record a shard that write_shard() wrote")
        text = json.dumps({"rows": written.rows, "classes": written.classes}).encode()
        self.folder.write_atomically(written.record, lambda stream: stream.write(text))
        self.manifest.shards[index] = written


def read_attributions(folder: FolderLike, as_table: bool = False) -> Any:
    r"""The attributions of a finished run of :func:`edgeattr.explain_all`.

    Args:
        folder (str, Path or RunFolder): The run's folder: a local path or a
            filesystem URI (``'s3://bucket/runs/cora'``).
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

    folder = RunFolder.of(folder)
    manifest = read_manifest(folder)
    missing = [shard.file for shard in manifest.shards if not shard.done]
    if missing:
        raise ValueError(f"{len(missing)} of {len(manifest.shards)} shards are not written yet ({missing[0]}, ...): run explain_all again with the same arguments to finish them")
    table = pa.concat_tables([pq.read_table(folder.file(shard.file), filesystem=folder.filesystem) for shard in manifest.shards])
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


def read_target(folder: FolderLike, target: int) -> Tuple[Manifest, int, Tensor]:
    r"""One target's attributions in a run, read from its shard alone.

    Args:
        folder (str, Path or RunFolder): The run's folder: a local path or a filesystem URI.
        target (int): The target's id (a node, graph or pair id among the manifest's targets).

    Returns:
        tuple: The manifest (with the record of the target's shard alone read), the target's explained class, and its attributions,
        dense, ``(E,)`` (``(L, E)`` for a layerwise run), zero for the edges
        without a row (zero attributions, or outside a ``topk`` run's top edges).

    Raises:
        ValueError: if the run has no such target or its shard is not written yet.
    """
    import pyarrow.parquet as pq

    folder = RunFolder.of(folder)
    manifest = _manifest_of(folder)
    if target not in manifest.targets:
        raise ValueError(f"the run in {folder} did not explain target {target}; its targets are listed in read_manifest(folder).targets")
    position = manifest.targets.index(target)
    shard = next(shard for shard in manifest.shards if shard.first <= position < shard.last)
    _read_record(folder, shard, folder.exists)
    if not shard.done:
        raise ValueError(f"the shard of target {target} ({shard.file}) is not written yet: run explain_all again with the same arguments to finish it")
    table = pq.read_table(folder.file(shard.file), filesystem=folder.filesystem, filters=[("target", "=", target)])
    shape = ((manifest.num_layers,) if manifest.layerwise else ()) + (manifest.num_edges,)
    index = tuple(torch.tensor(table.column(name).to_numpy(), dtype=torch.long) for name in (("layer", "edge") if manifest.layerwise else ("edge",)))
    column = torch.tensor(table.column("value").to_numpy())
    values = torch.zeros(shape, dtype=column.dtype).index_put_(index, column)
    return manifest, shard.classes[position - shard.first], values


def read_manifest(folder: FolderLike) -> Manifest:
    r"""The manifest of a run's folder (a local path or a filesystem URI), with what its shards' records say.

    A shard whose record or Parquet file is missing is not written (a run
    stopped before recording it, a file deleted): the next run writes it again.

    Raises:
        FileNotFoundError: naming the folder, if it holds no run.
    """
    folder = RunFolder.of(folder)
    manifest = _manifest_of(folder)
    present = folder.names()
    for shard in manifest.shards:
        _read_record(folder, shard, present.__contains__)
    return manifest


def _manifest_of(folder: RunFolder) -> Manifest:
    """The run's ``manifest.json``, every shard not written yet (see :func:`read_manifest`)."""
    if not folder.exists(MANIFEST):
        raise FileNotFoundError(f"{folder} holds no edgeattr run ({MANIFEST} is missing); explain_all(..., out={str(folder)!r}) writes one")
    return Manifest.from_json(folder.read_text(MANIFEST))


def _read_record(folder: RunFolder, shard: Shard, present: Callable[[str], bool]) -> None:
    """Marks ``shard`` written, with its rows and classes, where its record and Parquet file are ``present``."""
    if present(shard.record) and present(shard.file):
        record = json.loads(folder.read_text(shard.record))
        shard.done, shard.rows, shard.classes = True, record["rows"], record["classes"]


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
