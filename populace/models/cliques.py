"""Clique tables of a decomposable model that meet the published tables exactly.

The joint of a decomposable model is ``prod_C p(C) / prod_S p(S)`` over the cliques and
separators of its junction tree (:mod:`populace.models.junction`). Its clique tables are
built top down (:func:`clique_tables`): the root's from its free log weights, each
child's as its parent's separator margin times a conditional from its own log weights;
each is then projected (:func:`populace.models.projection.project`, IPF with an implicit
gradient) onto the published tables it holds and, for a child, onto the separator margin
its parent fixed, so the cliques stay consistent. Every projection is over one small
clique table, never the grid. A table's margin on a separator is met by the parent as
well (:func:`assign_tables`), so a child's targets always agree with each other.

Examples
--------
>>> import numpy as np
>>> from populace.models.junction import JunctionTree
>>> tree = JunctionTree(shape=(2, 2, 2), cliques=((0, 1), (1, 2)), parent=(-1, 0))
>>> tables = [((1, 2), np.array([[0.1, 0.2], [0.3, 0.4]])), ((0,), np.array([0.5, 0.5]))]
>>> assigned = assign_tables(tree, tables)
>>> [[axes for axes, _ in clique] for clique in assigned]
[[(0,), (1,)], [(0, 1)]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from populace.models.junction import JunctionTree

Target = tuple[tuple[int, ...], np.ndarray]

# Most IPF sweeps of a clique's projection. A clique with cells near zero under extreme
# parameters (a bootstrap draw far out on adult's 5% sample) converges slowly: after the
# general limit of 200 sweeps, relationship x sex was still 0.10 points off; the sweeps
# stop as soon as no margin moves by the tolerance, so the limit costs only such draws.
CLIQUE_SWEEPS = 5000


def assign_tables(tree: JunctionTree, tables: Sequence[Target]) -> tuple[tuple[Target, ...], ...]:
    """Per clique, the targets it meets: ``(positions within the clique, shares)``.

    Each table goes to the top clique holding all its attributes; a table held by a
    child clique also sends its margin over the child's separator up to the parent (and
    so on), so that the separator margin the parent fixes agrees with it. Tables are
    shares over their attributes in the order given.
    """
    queue: list[tuple[tuple[int, ...], Any]] = []
    for axes, share in tables:
        order = tuple(int(i) for i in np.argsort(axes))
        share = share if _is_traced(share) else np.asarray(share, dtype=float)
        queue.append((tuple(int(axes[i]) for i in order), share.transpose(order)))
    assigned: list[dict[tuple[int, ...], Any]] = [{} for _ in tree.cliques]
    while queue:
        axes, share = queue.pop(0)
        top = top_clique(tree, axes)
        if axes in assigned[top]:
            continue
        assigned[top][axes] = share
        parent = tree.parent[top]
        shared = tuple(a for a in axes if a in tree.separators[top])
        if parent >= 0 and shared and shared != axes:
            drop = tuple(i for i, a in enumerate(axes) if a not in shared)
            queue.append((shared, share.sum(axis=drop)))
    return tuple(
        tuple((tuple(clique.index(a) for a in axes), share) for axes, share in sorted(targets.items()))
        for clique, targets in zip(tree.cliques, assigned)
    )


def top_clique(tree: JunctionTree, axes: Sequence[int]) -> int:
    """The first clique (the top of the subtree, cliques being in breadth-first order) holding all of ``axes``."""
    holders = [i for i, c in enumerate(tree.cliques) if set(axes) <= set(c)]
    if not holders:
        raise ValueError(f"no clique holds the attributes {tuple(axes)}")
    return min(holders)


def _is_traced(share: Any) -> bool:
    """Whether ``share`` is a JAX array (a table whose shares are a model parameter: an ``se`` table)."""
    return type(share).__module__.startswith("jax")


def clique_tables(tree: JunctionTree, log_weights: Sequence, assigned: Sequence[Sequence[Target]]):  # noqa: ANN201
    """Clique tables (shares) from free log weights, meeting every assigned target.

    Parameters
    ----------
    tree
        The junction tree.
    log_weights
        One array per clique over its attributes; for a child only the conditional on
        its separator matters (terms over the separator alone cancel).
    assigned
        :func:`assign_tables`'s output.

    Returns
    -------
    tuple of jax.Array
        ``p(C)`` for each clique, consistent on separators.
    """
    import jax
    import jax.numpy as jnp

    from populace.models.projection import project

    out: list = []
    for i, clique in enumerate(tree.cliques):
        lw = jnp.asarray(log_weights[i])
        targets = [(axes, jnp.asarray(share)) for axes, share in assigned[i]]
        parent = tree.parent[i]
        if parent >= 0:
            sep = tree.separators[i]
            above = tree.cliques[parent]
            margin = jnp.sum(out[parent], axis=tuple(j for j, a in enumerate(above) if a not in sep))
            pos = tuple(clique.index(a) for a in sep)
            free = tuple(j for j in range(len(clique)) if j not in pos)
            conditional = jax.nn.log_softmax(lw, axis=free) if free else jnp.zeros_like(lw)
            shape = [lw.shape[j] if j in pos else 1 for j in range(len(clique))]
            lw = conditional + jnp.log(jnp.maximum(margin, 1e-300)).reshape(shape)
            targets.append((pos, margin))
        out.append(
            project(lw, targets, max_sweeps=CLIQUE_SWEEPS)
            if targets
            else jax.nn.softmax(lw.reshape(-1)).reshape(lw.shape)
        )
    return tuple(out)
