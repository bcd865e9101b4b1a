"""Small seeded datasets written in the raw formats of PyG's Planetoid, WebKB and TUDataset classes.

The experiments load datasets through PyG from a ``root``; these files let the
tests run that whole path offline, without the real raw files.
"""

import os
import pickle

import numpy as np
import torch

WEBKB_NODES, WEBKB_FEATURES, WEBKB_CLASSES = 60, 12, 5
TU_GRAPHS = 40
#: Planetoid's public split: the first PLANETOID_TRAIN nodes train, the next 500 validate, the last PLANETOID_TEST test.
PLANETOID_TRAIN, PLANETOID_TEST, PLANETOID_FEATURES, PLANETOID_CLASSES = 14, 20, 8, 7
PLANETOID_NODES = PLANETOID_TRAIN + 500 + PLANETOID_TEST


def write_webkb(root: str, name: str = "cornell", seed: int = 0) -> None:
    """``root/WebKB/<name>/raw``: a random graph, binary features, labels and 10 splits of 36/12/12 nodes."""
    folder = os.path.join(root, "WebKB", name, "raw")
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    features = (torch.rand(WEBKB_NODES, WEBKB_FEATURES, generator=g) < 0.3).int()
    labels = torch.randint(0, WEBKB_CLASSES, (WEBKB_NODES,), generator=g)
    labels[:WEBKB_CLASSES] = torch.arange(WEBKB_CLASSES)
    src = torch.randint(0, WEBKB_NODES, (150,), generator=g)
    dst = (src + torch.randint(1, WEBKB_NODES, (150,), generator=g)) % WEBKB_NODES
    with open(os.path.join(folder, "out1_node_feature_label.txt"), "w") as handle:
        handle.write("node_id\tfeature\tlabel\n")
        for node in range(WEBKB_NODES):
            handle.write(f"{node}\t{','.join(map(str, features[node].tolist()))}\t{int(labels[node])}\n")
    with open(os.path.join(folder, "out1_graph_edges.txt"), "w") as handle:
        handle.write("node_id\tnode_id\n")
        for s, d in zip(src.tolist(), dst.tolist()):
            handle.write(f"{s}\t{d}\n")
    for split in range(10):
        order = torch.randperm(WEBKB_NODES, generator=g).numpy()
        masks = {key: np.zeros(WEBKB_NODES, dtype=bool) for key in ("train_mask", "val_mask", "test_mask")}
        masks["train_mask"][order[:36]] = True
        masks["val_mask"][order[36:48]] = True
        masks["test_mask"][order[48:]] = True
        np.savez(os.path.join(folder, f"{name}_split_0.6_0.2_{split}.npz"), **masks)


def write_tudataset(root: str, name: str = "MUTAG", seed: int = 0) -> None:
    """``root/TUDataset/<name>/raw``: TU_GRAPHS small random trees, node labels and 4 edge labels."""
    folder = os.path.join(root, "TUDataset", name, "raw")
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    edges, indicator, node_labels, edge_labels, graph_labels = [], [], [], [], []
    first = 1
    for graph in range(TU_GRAPHS):
        size = int(torch.randint(6, 12, (1,), generator=g))
        indicator += [graph + 1] * size
        node_labels += torch.randint(0, 7, (size,), generator=g).tolist()
        for node in range(1, size):  # a random tree plus one chord, both directions of each
            parent = int(torch.randint(0, node, (1,), generator=g))
            kind = int(torch.randint(0, 4, (1,), generator=g))
            edges += [(first + node, first + parent), (first + parent, first + node)]
            edge_labels += [kind, kind]
        graph_labels.append(1 if graph % 2 else -1)
        first += size
    files = {
        "A": [f"{s}, {d}" for s, d in edges],
        "graph_indicator": indicator,
        "node_labels": node_labels,
        "edge_labels": edge_labels,
        "graph_labels": graph_labels,
    }
    for suffix, lines in files.items():
        with open(os.path.join(folder, f"{name}_{suffix}.txt"), "w") as handle:
            handle.write("\n".join(map(str, lines)) + "\n")


def write_planetoid(root: str, name: str = "Cora", seed: int = 0) -> None:
    """``root/Planetoid/<name>/raw`` (the public split) and ``root/Planetoid/<name>/geom-gcn/raw``
    (the same graph and 10 splits of 60/20/20 % in ``<name>_split_0.6_0.2_<i>.npz``): a random graph,
    binary features and one-hot labels, pickled as the ``ind.<name>.*`` files; the test rows are
    listed in shuffled order in ``test.index``, as in the real files."""
    g = torch.Generator().manual_seed(seed)
    features = (torch.rand(PLANETOID_NODES, PLANETOID_FEATURES, generator=g) < 0.3).float().numpy()
    labels = torch.randint(0, PLANETOID_CLASSES, (PLANETOID_NODES,), generator=g)
    labels[:PLANETOID_CLASSES] = torch.arange(PLANETOID_CLASSES)
    one_hot = np.eye(PLANETOID_CLASSES, dtype=np.float32)[labels.numpy()]
    first_test = PLANETOID_NODES - PLANETOID_TEST
    test_order = (first_test + torch.randperm(PLANETOID_TEST, generator=g)).tolist()
    graph: dict = {node: [] for node in range(PLANETOID_NODES)}
    for _ in range(3 * PLANETOID_NODES):
        u, v = torch.randint(0, PLANETOID_NODES, (2,), generator=g).tolist()
        if u != v:
            graph[u].append(v)
            graph[v].append(u)
    files = {"x": features[:PLANETOID_TRAIN], "y": one_hot[:PLANETOID_TRAIN], "allx": features[:first_test], "ally": one_hot[:first_test],
             "tx": features[test_order], "ty": one_hot[test_order], "graph": graph}
    prefix = name.lower()
    public, geom_gcn = (os.path.join(root, "Planetoid", name, *parts, "raw") for parts in ((), ("geom-gcn",)))
    for folder in (public, geom_gcn):
        os.makedirs(folder, exist_ok=True)
        for key, value in files.items():
            with open(os.path.join(folder, f"ind.{prefix}.{key}"), "wb") as handle:
                pickle.dump(value, handle)
        with open(os.path.join(folder, f"ind.{prefix}.test.index"), "w") as handle:
            handle.write("\n".join(map(str, test_order)) + "\n")
    train, val = int(0.6 * PLANETOID_NODES), int(0.2 * PLANETOID_NODES)
    for split in range(10):
        order = torch.randperm(PLANETOID_NODES, generator=g).numpy()
        masks = {key: np.zeros(PLANETOID_NODES, dtype=bool) for key in ("train_mask", "val_mask", "test_mask")}
        masks["train_mask"][order[:train]] = True
        masks["val_mask"][order[train:train + val]] = True
        masks["test_mask"][order[train + val:]] = True
        np.savez(os.path.join(geom_gcn, f"{prefix}_split_0.6_0.2_{split}.npz"), **masks)
