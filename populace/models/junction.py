"""Choosing a decomposable graph over many attributes, and its junction tree.

A model over many attributes cannot hold the full cell grid (17 TV16 attributes: 3e12
cells). A decomposable model keeps only clique tables: the cliques of a chordal graph,
joined in a junction tree, with ``p(x) = prod p(x_C) / prod p(x_S)`` over cliques ``C``
and separators ``S``. This module picks that graph from the inputs (issue 14):

1. every published table's attributes are forced into one clique, so the table is a
   margin of one clique table and can be met exactly there;
2. the rest of the graph is a Chow-Liu tree: edges in order of the sample's mutual
   information, each kept if it joins two parts not yet connected (a maximum-weight
   spanning tree, Chow and Liu 1968). With ``prune``, an edge is also dropped when the
   sample cannot tell it from independence (``2 n MI``, the G statistic, at most
   ``df log n``: BIC, Suzuki 1993); off by default, because a missing edge fixes the
   attributes on either side as independent, with no uncertainty left: on a known tree
   (``tests/models/test_decomposable.py``) one pruned edge took the 90% coverage of
   two-way cells from 93% to 43%, where a kept weak edge is shrunk by its prior;
3. the graph is triangulated by greedy min-fill elimination, its maximal cliques joined
   by a maximum-weight spanning tree on separator sizes (which gives the running
   intersection property for a chordal graph), with a bound on the largest clique.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> a = rng.integers(0, 2, 2000)
>>> b = np.where(rng.random(2000) < 0.9, a, 1 - a)      # b follows a
>>> c = np.where(rng.random(2000) < 0.9, b, 1 - b)      # c follows b
>>> d = rng.integers(0, 3, 2000)                         # d is independent
>>> codes = np.stack([a, b, c, d], axis=1)
>>> choose_graph((2, 2, 2, 3), codes=codes, prune=True).cliques
((0, 1), (1, 2), (3,))
>>> tree = choose_graph((2, 2, 2, 3), codes=codes)   # d joins by its strongest (weak) link
>>> len(tree.cliques), tree.edges[:2]
(3, ((0, 1), (1, 2)))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from populace.errors import SpecError

# Largest clique, in attributes (treewidth + 1), unless a published table forces a larger
# one. A clique table of 4 attributes of 5-10 levels holds 625-10,000 cells: small enough
# for a dense log-linear factor and its projection.
MAX_CLIQUE_ATTRIBUTES = 4
# Largest clique table, in cells, for the same reason.
MAX_CLIQUE_CELLS = 20_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class JunctionTree:
    """Cliques of a chordal graph over the attributes, joined in a tree.

    Attributes
    ----------
    shape
        Levels of each attribute.
    cliques
        Attribute indices of each clique (sorted), root first, every clique after its
        parent.
    parent
        Index of each clique's parent in ``cliques``; ``-1`` for a root (the graph may be
        a forest: one root per connected part).
    """

    shape: tuple[int, ...]
    cliques: tuple[tuple[int, ...], ...]
    parent: tuple[int, ...]

    @classmethod
    def from_dict(cls, data: dict) -> JunctionTree:
        """The tree a fit recorded (``shape``, ``cliques``, ``parent`` lists; :meth:`to_dict`)."""
        return cls(
            shape=tuple(int(s) for s in data["shape"]),
            cliques=tuple(tuple(int(a) for a in c) for c in data["cliques"]),
            parent=tuple(int(p) for p in data["parent"]),
        )

    def to_dict(self) -> dict[str, list]:
        """JSON-ready ``shape``, ``cliques`` and ``parent``.

        Examples
        --------
        >>> tree = JunctionTree(shape=(2, 3), cliques=((0, 1),), parent=(-1,))
        >>> JunctionTree.from_dict(tree.to_dict()) == tree
        True
        """
        return {"shape": list(self.shape), "cliques": [list(c) for c in self.cliques], "parent": list(self.parent)}

    @property
    def separators(self) -> tuple[tuple[int, ...], ...]:
        """Attributes each clique shares with its parent (empty for a root)."""
        return tuple(
            tuple(sorted(set(c) & set(self.cliques[p]))) if p >= 0 else () for c, p in zip(self.cliques, self.parent)
        )

    @property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """Indices of each clique's children in ``cliques``."""
        return tuple(tuple(c for c, p in enumerate(self.parent) if p == i) for i in range(len(self.cliques)))

    @property
    def width(self) -> int:
        """Treewidth of the graph: attributes in the largest clique, minus one."""
        return max(len(c) for c in self.cliques) - 1

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """The graph's edges (pairs of attribute indices that share a clique), sorted."""
        pairs = {(a, b) for c in self.cliques for i, a in enumerate(c) for b in c[i + 1 :]}
        return tuple(sorted(pairs))

    def clique_cells(self) -> tuple[int, ...]:
        """Cells of each clique table."""
        return tuple(int(np.prod([self.shape[a] for a in c])) for c in self.cliques)

    def describe(self, names: Sequence[str]) -> str:
        """One line: the cliques by attribute name, a dash joining a clique to its parent's part."""
        parts: list[list[str]] = []
        for c, p in zip(self.cliques, self.parent):
            label = "{" + ", ".join(names[a] for a in c) + "}"
            if p < 0:
                parts.append([label])
            else:
                parts[-1].append(label)
        largest = max(range(len(self.cliques)), key=lambda i: (len(self.cliques[i]), self.clique_cells()[i]))
        return (
            f"{len(self.cliques)} cliques, largest {len(self.cliques[largest])} attributes "
            f"({self.clique_cells()[largest]:,} cells): " + "; ".join(" - ".join(p) for p in parts)
        )


def with_latent_class(tree: JunctionTree, classes: int) -> JunctionTree:
    """The tree with a latent class attribute (the last index, ``classes`` levels) in every clique.

    Given the class the attributes keep the tree's conditional independences; summed over
    it, attributes in different cliques are associated through it (a mixture of tree
    models). The class joins every clique, so the running intersection still holds; the
    roots of a forest become children of the first root, joined by the class alone.

    Examples
    --------
    >>> tree = JunctionTree(shape=(2, 3, 2), cliques=((0, 1), (2,)), parent=(-1, -1))
    >>> mixed = with_latent_class(tree, 4)
    >>> mixed.shape, mixed.cliques, mixed.parent, mixed.separators
    ((2, 3, 2, 4), ((0, 1, 3), (2, 3)), (-1, 0), ((), (3,)))
    """
    if classes < 2:
        raise ValueError(f"a latent class needs at least 2 classes, got {classes}")
    c = len(tree.shape)
    roots = [i for i, p in enumerate(tree.parent) if p < 0]
    parent = tuple(roots[0] if (p < 0 and i != roots[0]) else p for i, p in enumerate(tree.parent))
    return JunctionTree(
        shape=(*tree.shape, int(classes)),
        cliques=tuple((*clique, c) for clique in tree.cliques),
        parent=parent,
    )


def mutual_information(
    codes: np.ndarray, shape: Sequence[int], weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise mutual information (nats) of a sample, and the weight of rows behind each pair.

    Parameters
    ----------
    codes
        (rows, attributes) level codes; ``-1`` marks a missing answer (a pair uses the
        rows that answer both).
    shape
        Levels of each attribute.
    weights
        Row weights (default 1), taken as given: normalise design weights to the sample
        size (or an effective size) first.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Symmetric (attributes, attributes) mutual information with a zero diagonal, and
        the summed weight of the rows each pair was computed on.

    Examples
    --------
    >>> codes = np.array([[0, 0], [1, 1], [0, 0], [1, 1]])
    >>> mi, n = mutual_information(codes, (2, 2))
    >>> round(float(mi[0, 1]), 4), float(n[0, 1])   # log 2: one attribute tells the other
    (0.6931, 4.0)
    """
    codes = np.asarray(codes)
    d = codes.shape[1]
    w = np.ones(len(codes)) if weights is None else np.asarray(weights, dtype=float)
    mi, support = np.zeros((d, d)), np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1, d):
            both = (codes[:, i] >= 0) & (codes[:, j] >= 0)
            table = np.zeros((shape[i], shape[j]))
            np.add.at(table, (codes[both, i], codes[both, j]), w[both])
            n = table.sum()
            support[i, j] = support[j, i] = n
            if n <= 0:
                continue
            p = table / n
            outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
            positive = p > 0
            mi[i, j] = mi[j, i] = float(np.sum(p[positive] * np.log(p[positive] / outer[positive])))
    return mi, support


def choose_graph(
    shape: Sequence[int],
    *,
    tables: Sequence[Sequence[int]] = (),
    codes: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    max_attributes: int = MAX_CLIQUE_ATTRIBUTES,
    max_cells: int = MAX_CLIQUE_CELLS,
    names: Sequence[str] | None = None,
    prune: bool = False,
) -> JunctionTree:
    """The junction tree of published tables plus the sample's Chow-Liu tree (see the module docstring).

    Parameters
    ----------
    shape
        Levels of each attribute.
    tables
        Attribute indices of each published table: each lands inside one clique.
    codes, weights
        The sample as in :func:`mutual_information`; without one, only the tables join
        attributes.
    max_attributes, max_cells
        Bound on a clique the sample adds to: an edge that would make a larger clique
        is left out. Tables are exempt (a published table must be met), but a clique
        over ``max_cells`` made by tables alone is an error.
    names
        Attribute names, for error messages.
    prune
        Leave out edges the sample cannot tell from independence (BIC).

    Returns
    -------
    JunctionTree

    Raises
    ------
    SpecError
        When the published tables alone force a clique of more than ``max_cells`` cells.
    """
    shape = tuple(int(s) for s in shape)
    d = len(shape)
    names = tuple(names) if names is not None else tuple(f"attribute {i}" for i in range(d))
    adjacency = np.zeros((d, d), dtype=bool)
    for table in tables:
        for a in table:
            for b in table:
                adjacency[a, b] = a != b
    tree = _junction_tree(shape, adjacency)
    too_big = [(c, cells) for c, cells in zip(tree.cliques, tree.clique_cells()) if cells > max_cells]
    if too_big:
        clique, cells = too_big[0]
        raise SpecError(
            f"the published tables join {', '.join(names[a] for a in clique)} into one clique of {cells:,} "
            f"cells (most {max_cells:,}): publish fewer overlapping tables or coarsen an attribute"
        )
    if codes is None or len(codes) == 0:
        return tree
    mi, support = mutual_information(codes, shape, weights)
    component = _components(adjacency)
    forced = set(tree.cliques)  # cliques the tables alone make are exempt from the bound
    order = sorted(((mi[i, j], i, j) for i in range(d) for j in range(i + 1, d)), reverse=True)
    for value, i, j in order:
        if component[i] == component[j]:
            continue
        df = (shape[i] - 1) * (shape[j] - 1)
        n = support[i, j]
        if prune and (n <= 1 or 2 * n * value <= df * np.log(n)):
            continue
        trial = adjacency.copy()
        trial[i, j] = trial[j, i] = True
        candidate = _junction_tree(shape, trial)
        sizes = [(len(c), cells) for c, cells in zip(candidate.cliques, candidate.clique_cells())]
        if any(
            (k > max_attributes or cells > max_cells) and c not in forced
            for c, (k, cells) in zip(candidate.cliques, sizes)
        ):
            continue
        adjacency, tree = trial, candidate
        component = np.where(component == component[j], component[i], component)
    return tree


def _components(adjacency: np.ndarray) -> np.ndarray:
    """Connected-component label of each node."""
    d = len(adjacency)
    label = np.arange(d)
    changed = True
    while changed:
        changed = False
        for i in range(d):
            for j in np.flatnonzero(adjacency[i]):
                low = min(label[i], label[j])
                if label[i] != low or label[j] != low:
                    label[i] = label[j] = low
                    changed = True
    return label


def _junction_tree(shape: tuple[int, ...], adjacency: np.ndarray) -> JunctionTree:
    """Triangulate by greedy min-fill, then join the maximal cliques by separator size."""
    cliques = _triangulated_cliques(adjacency, shape)
    k = len(cliques)
    # maximum-weight spanning forest of the clique graph (Kruskal), weights = separator sizes
    pairs = sorted(
        ((len(set(cliques[a]) & set(cliques[b])), a, b) for a in range(k) for b in range(a + 1, k)), reverse=True
    )
    label = list(range(k))
    links: list[tuple[int, int]] = []
    for weight, a, b in pairs:
        if weight == 0 or label[a] == label[b]:
            continue
        old = label[b]
        label = [label[a] if x == old else x for x in label]
        links.append((a, b))
    neighbours: dict[int, list[int]] = {i: [] for i in range(k)}
    for a, b in links:
        neighbours[a].append(b)
        neighbours[b].append(a)
    # roots: the largest clique of each part first, then breadth first
    order, parent_of, seen = [], {}, set()
    for root in sorted(range(k), key=lambda i: (-len(cliques[i]), cliques[i])):
        if root in seen:
            continue
        seen.add(root)
        queue, parent_of[root] = [root], -1
        while queue:
            node = queue.pop(0)
            order.append(node)
            for nxt in sorted(neighbours[node], key=lambda i: cliques[i]):
                if nxt not in seen:
                    seen.add(nxt)
                    parent_of[nxt] = node
                    queue.append(nxt)
    position = {node: i for i, node in enumerate(order)}
    return JunctionTree(
        shape=shape,
        cliques=tuple(cliques[i] for i in order),
        parent=tuple(position[parent_of[i]] if parent_of[i] >= 0 else -1 for i in order),
    )


def _triangulated_cliques(adjacency: np.ndarray, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Maximal cliques of the graph made chordal by eliminating, each time, the node needing fewest fill-in edges.

    Ties go to the node whose clique (it and its neighbours) has fewest cells, then the lowest index.
    """
    graph = adjacency.copy()
    remaining = set(range(len(graph)))
    found: list[set[int]] = []
    while remaining:

        def cost(v: int) -> tuple[int, int, int]:
            nbrs = [u for u in remaining if graph[v, u]]
            fill = sum(not graph[a, b] for i, a in enumerate(nbrs) for b in nbrs[i + 1 :])
            return fill, int(np.prod([shape[u] for u in nbrs + [v]])), v

        v = min(remaining, key=cost)
        nbrs = [u for u in remaining if graph[v, u]]
        for a in nbrs:
            for b in nbrs:
                if a != b:
                    graph[a, b] = True
        clique = {v, *nbrs}
        if not any(clique <= c for c in found):
            found = [c for c in found if not c <= clique] + [clique]
        remaining.remove(v)
    return sorted(tuple(sorted(c)) for c in found)
