"""Exact clique marginals of a decomposable model by belief propagation on its junction tree.

A decomposable model over many attributes is a product of clique factors,
``p(x) ∝ exp(sum_C phi_C(x_C))``, on the cliques of a :class:`~populace.models.junction.JunctionTree`.
:func:`calibrate` runs the two passes of sum-product (log space, JAX) and returns the log
normaliser and every clique's marginal; :func:`marginal` sums clique marginals to any
set of attributes (``joint --by``), passing messages over the part of the tree that
joins them; :func:`sample` draws whole persons down the tree (the root clique, then each
child clique given its separator). Arrays over a clique have one axis per attribute, in
the clique's (sorted) order.

Examples
--------
>>> import numpy as np
>>> from populace.models.junction import JunctionTree
>>> tree = JunctionTree(shape=(2, 2, 2), cliques=((0, 1), (1, 2)), parent=(-1, 0))
>>> phi = (np.log([[4.0, 1.0], [1.0, 4.0]]), np.zeros((2, 2)))
>>> log_z, marginals = calibrate(tree, phi)
>>> round(float(np.exp(log_z)), 1), np.asarray(marginals[1]).round(2).tolist()
(20.0, [[0.25, 0.25], [0.25, 0.25]])
>>> np.asarray(marginal(tree, marginals, (0, 2))).round(2).tolist()
[[0.25, 0.25], [0.25, 0.25]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from populace.models.junction import JunctionTree


def _xp(*arrays):  # noqa: ANN002, ANN202
    """NumPy when every array is a NumPy array (fast evaluation outside a model), else jax.numpy."""
    if all(isinstance(a, np.ndarray | np.generic | float | int) for a in arrays):
        return np
    import jax.numpy as jnp

    return jnp


def _expand(array, have: Sequence[int], want: Sequence[int]):  # noqa: ANN001, ANN202 - jax arrays
    """An array over the attributes ``have`` (sorted), broadcast against one over ``want`` (sorted, a superset)."""
    return _xp(array).reshape(array, [array.shape[have.index(a)] if a in have else 1 for a in want])


def _sum_to(array, have: Sequence[int], keep: Sequence[int], *, log: bool):  # noqa: ANN001, ANN202
    """Sum (or log-sum-exp) an array over ``have`` down to the attributes ``keep`` (sorted)."""
    drop = tuple(i for i, a in enumerate(have) if a not in keep)
    if not drop:
        return array
    if log:
        from jax.scipy.special import logsumexp

        return logsumexp(array, axis=drop)
    return _xp(array).sum(array, axis=drop)


def _conditional(table, have: Sequence[int], sep: Sequence[int]):  # noqa: ANN001, ANN202
    """``p(C | S) = p(C) / p(S)`` of a clique table over ``have``, 0 where ``p(S)`` is."""
    margin = _expand(_sum_to(table, have, sep, log=False), sep, have)
    return table / _xp(margin).where(margin > 0, margin, 1.0)


def calibrate(tree: JunctionTree, log_factors: Sequence):  # noqa: ANN201 - jax arrays
    """Log normaliser and clique marginals of ``p(x) ∝ exp(sum_C log_factors[C](x_C))``.

    Parameters
    ----------
    tree
        The junction tree; ``log_factors[i]`` is an array over ``tree.cliques[i]``.
    log_factors
        One log factor per clique (``-inf`` for structural zeros).

    Returns
    -------
    (jax.Array, tuple of jax.Array)
        ``log Z`` and each clique's marginal (shares summing to one).
    """
    import jax.numpy as jnp

    cliques, parent = tree.cliques, tree.parent
    separators = tree.separators
    k = len(cliques)
    children = tree.children
    up: list = [None] * k  # message from clique i to its parent, over separators[i]
    for i in reversed(range(k)):  # children come after parents, so leaves first
        belief = jnp.asarray(log_factors[i])
        for c in children[i]:
            belief = belief + _expand(up[c], separators[c], cliques[i])
        up[i] = _sum_to(belief, cliques[i], separators[i], log=True)
    # roots: their upward "message" over no attributes is each part's log normaliser
    log_z = sum(up[i] for i in range(k) if parent[i] < 0)
    down: list = [None] * k  # message from the parent into clique i, over separators[i]
    beliefs: list = [None] * k
    for i in range(k):
        belief = jnp.asarray(log_factors[i])
        if parent[i] >= 0:
            belief = belief + _expand(down[i], separators[i], cliques[i])
        for c in children[i]:
            belief = belief + _expand(up[c], separators[c], cliques[i])
        beliefs[i] = belief
        for c in children[i]:
            rest = belief - _expand(up[c], separators[c], cliques[i])
            down[c] = _sum_to(rest, cliques[i], separators[c], log=True)
    marginals = []
    for i in range(k):
        root = i
        while parent[root] >= 0:
            root = parent[root]
        marginals.append(jnp.exp(beliefs[i] - up[root]))
    return log_z, tuple(marginals)


def marginal(tree: JunctionTree, marginals: Sequence, attributes: Sequence[int]):  # noqa: ANN201 - jax arrays
    """The joint share of ``attributes`` (returned in sorted order) from calibrated clique marginals.

    Inside one clique it is that clique's margin. Otherwise the tree's factorisation
    ``p(root) prod p(C | S)`` is summed bottom-up over the cliques on the paths from those
    holding a wanted attribute to their roots (a subtree without one sums to one), each
    clique keeping only the wanted attributes and its separator.
    """
    want = tuple(sorted(set(attributes)))
    for clique, m in zip(tree.cliques, marginals):
        if set(want) <= set(clique):
            return _sum_to(m, clique, want, log=False)
    parent, cliques, separators = tree.parent, tree.cliques, tree.separators
    needed: set[int] = set()
    for i, clique in enumerate(cliques):
        if set(clique) & set(want):
            while i >= 0 and i not in needed:
                needed.add(i)
                i = parent[i]
    carried: dict[int, tuple] = {}
    parts = []
    for i in sorted(needed, reverse=True):  # children come after parents: leaves first
        table, have = marginals[i], cliques[i]
        if parent[i] >= 0:
            table = _conditional(table, have, separators[i])
        for c in [c for c in tree.children[i] if c in needed]:
            table, have = _times(table, have, *carried.pop(c))
        keep = tuple(a for a in have if a in want or a in separators[i])
        table = _sum_to(table, have, keep, log=False)
        if parent[i] >= 0:
            carried[i] = (table, keep)
        else:
            parts.append((table, keep))
    table, have = parts[0]
    for other in parts[1:]:  # separate parts of a forest are independent
        table, have = _times(table, have, *other)
    return _sum_to(table, have, want, log=False)


def marginal_draws(tree: JunctionTree, draws: Sequence[np.ndarray], attributes: Sequence[int], *, batch: int = 256):  # noqa: ANN201
    """:func:`marginal` of every posterior draw: ``draws[i]`` is clique ``i``'s tables, shape (draws, *clique).

    Returns
    -------
    numpy.ndarray
        Shape (draws, *levels of ``attributes`` in sorted order). Up to ``batch`` draws
        one by one in NumPy; more in compiled batches of ``batch`` (JAX, compiled once
        per set of attributes).

    Examples
    --------
    >>> from populace.models.junction import JunctionTree
    >>> tree = JunctionTree(shape=(2, 2, 2), cliques=((0, 1), (1, 2)), parent=(-1, 0))
    >>> a = np.array([[[0.4, 0.1], [0.1, 0.4]]] * 3)
    >>> marginal_draws(tree, [a, a], (0, 2)).shape
    (3, 2, 2)
    """
    want = tuple(sorted(set(attributes)))
    n = int(np.asarray(draws[0]).shape[0])
    if n <= batch:  # a few draws: NumPy, draw by draw, is quicker than compiling
        return np.stack([np.asarray(marginal(tree, [np.asarray(d[i]) for d in draws], want)) for i in range(n)])
    import jax

    f = jax.jit(jax.vmap(lambda *tables: marginal(tree, tables, want)))
    parts = [np.asarray(f(*[np.asarray(d[s : s + batch]) for d in draws])) for s in range(0, n, batch)]
    return np.concatenate(parts, axis=0)


def _times(a, a_have: tuple[int, ...], b, b_have: tuple[int, ...]) -> tuple:  # noqa: ANN001
    """Product of two tables over their attributes' union (sorted)."""
    have = tuple(sorted(set(a_have) | set(b_have)))
    return _expand(a, a_have, have) * _expand(b, b_have, have), have


def sample(
    tree: JunctionTree, marginals: Sequence, n: int, rng: np.random.Generator, draw: np.ndarray | None = None
) -> np.ndarray:
    """``n`` persons drawn from calibrated clique marginals: level codes, shape (n, attributes).

    With ``draw`` (one index per person), each marginal has a leading axis of posterior
    draws and person ``k`` is drawn from draw ``draw[k]``'s tables: every draw at once.

    Examples
    --------
    >>> from populace.models.junction import JunctionTree
    >>> tree = JunctionTree(shape=(2, 2), cliques=((0, 1),), parent=(-1,))
    >>> codes = sample(tree, [np.array([[0.5, 0.0], [0.0, 0.5]])], 1000, np.random.default_rng(0))
    >>> bool((codes[:, 0] == codes[:, 1]).all())
    True
    >>> two = np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]])  # draw 0: (0, 0); draw 1: (1, 1)
    >>> sample(tree, [two], 3, np.random.default_rng(0), draw=np.array([1, 0, 1])).tolist()
    [[1, 1], [0, 0], [1, 1]]
    """
    codes = np.full((n, len(tree.shape)), -1, dtype=np.int64)
    for i, (clique, sep) in enumerate(zip(tree.cliques, tree.separators)):
        m = np.asarray(marginals[i], dtype=float)
        free = [a for a in clique if a not in sep]
        # rows: the separator's levels (flattened, after the draw), columns: the free attributes' cells
        lead = 0 if draw is None else 1
        order = [*range(lead), *(lead + clique.index(a) for a in (*sep, *free))]
        rows = int(np.prod([tree.shape[a] for a in sep]))
        table = np.transpose(m, order).reshape((m.shape[0] if lead else 1) * rows, -1)
        row = np.zeros(n, dtype=np.int64) if draw is None else np.asarray(draw, dtype=np.int64)
        for a in sep:
            row = row * tree.shape[a] + codes[:, a]
        # Inverse CDF by one search over every row's cumulative table laid end to end
        # (row r's runs from r to r + 1): n log(cells) work, not n x cells.
        total = table.sum(axis=1, keepdims=True)
        cum = np.cumsum(np.divide(table, total, out=np.full_like(table, 1.0 / table.shape[1]), where=total > 0), 1)
        cum[:, -1] = 1.0
        flat = (cum + np.arange(len(cum))[:, None]).ravel()
        cell = np.searchsorted(flat, row + rng.random(n)) - row * table.shape[1]
        cell = np.clip(cell, 0, table.shape[1] - 1)
        for a in reversed(free):
            codes[:, a] = cell % tree.shape[a]
            cell = cell // tree.shape[a]
    return codes


def log_evidence(tree: JunctionTree, marginals: Sequence, evidence: Sequence):  # noqa: ANN201 - jax arrays
    """Log probability of each row's answers under calibrated clique marginals, shape (rows,).

    Parameters
    ----------
    tree
        The junction tree.
    marginals
        Calibrated clique marginals (:func:`calibrate`), consistent on separators.
    evidence
        Per attribute, a (rows, levels) array of 1 for the levels a row's answer allows
        and 0 elsewhere: one level for an answer, a set for a coarse answer (college
        yes/no against five education levels), every level for a missing one.

    Notes
    -----
    The joint is ``prod_C p(C) / prod_S p(S)``; each factor ``p(C) / p(S)`` times the
    evidence of the attributes it is first to hold is summed from the leaves up, one
    message over the separator per row, so a row costs the cells of its cliques, never
    the grid. Rows answered in full are read off the tables instead (one entry per
    clique), when at most one attribute (the latent class) is in every clique.

    Examples
    --------
    >>> from populace.models.junction import JunctionTree
    >>> tree = JunctionTree(shape=(2, 2), cliques=((0, 1),), parent=(-1,))
    >>> p = [np.array([[0.4, 0.1], [0.2, 0.3]])]
    >>> ev = [np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 1.0], [0.0, 1.0]])]
    >>> [round(float(v), 2) for v in np.exp(np.asarray(log_evidence(tree, p, ev)))]  # p(0, 1), p(b = 1)
    [0.1, 0.4]
    """
    if all(isinstance(e, np.ndarray) for e in evidence):
        split = _split_rows(tree, evidence)
        if split is not None:
            return _split_log_evidence(tree, marginals, evidence, *split)
    return _propagated_log_evidence(tree, marginals, evidence)


def _split_rows(tree: JunctionTree, evidence: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int | None] | None:
    """Rows answered in full (every attribute one level, but one held by every clique) and the shared attribute.

    ``None`` when no row is, or more than one attribute is in every clique (the
    propagated path then takes every row).
    """
    shared = set.intersection(*(set(c) for c in tree.cliques))
    if len(shared) > 1:
        return None
    common = next(iter(shared)) if shared else None
    answered = [a for a in range(len(evidence)) if a != common]
    full = np.ones(evidence[0].shape[0], dtype=bool)
    for a in answered:
        e = evidence[a]
        full &= ((e == 0) | (e == 1)).all(axis=1) & (e.sum(axis=1) == 1)
    if not full.any():
        return None
    return np.flatnonzero(full), np.flatnonzero(~full), common


def _split_log_evidence(tree, marginals, evidence, full, rest, common):  # noqa: ANN001, ANN202 - jax arrays
    """:func:`log_evidence` with the rows answered in full read off the tables, the rest propagated.

    A row answered in full (but for ``common``, an attribute every clique holds: the latent
    class) has ``p(x) = sum_k e(k) p(x_root, k) prod_C p(x_C, k | x_S, k)``: one gathered
    entry per clique and level of ``common``, where propagation would touch every cell of
    every clique.
    """
    import jax.numpy as jnp

    codes = np.stack(
        [evidence[a][full].argmax(axis=1) if a != common else np.zeros(full.size, int) for a in range(len(evidence))],
        axis=1,
    )
    product = jnp.asarray(evidence[common][full]) if common is not None else jnp.ones((full.size, 1))
    for i, have in enumerate(tree.cliques):
        table = jnp.asarray(marginals[i])
        if tree.parent[i] >= 0:
            table = _conditional(table, have, tree.separators[i])
        if common is not None:
            table = jnp.moveaxis(table, have.index(common), -1)
        index = tuple(jnp.asarray(codes[:, a]) for a in have if a != common)
        picked = table[index] if index else jnp.broadcast_to(table, (full.size, *table.shape))
        product = product * picked.reshape(full.size, -1)
    fast = jnp.log(jnp.sum(product, axis=1))
    if rest.size == 0:
        return fast
    slow = _propagated_log_evidence(tree, marginals, [e[rest] for e in evidence])
    rows = evidence[0].shape[0]
    return jnp.zeros(rows).at[jnp.asarray(full)].set(fast).at[jnp.asarray(rest)].set(slow)


def _propagated_log_evidence(tree: JunctionTree, marginals: Sequence, evidence: Sequence):  # noqa: ANN201 - jax arrays
    """:func:`log_evidence` by passing one message per row up the tree (any evidence)."""
    import jax.numpy as jnp

    cliques, parent, separators = tree.cliques, tree.parent, tree.separators
    k = len(cliques)
    first: dict[int, int] = {}
    for i, clique in enumerate(cliques):
        for a in clique:
            first.setdefault(a, i)
    children = tree.children
    rows = jnp.asarray(evidence[0]).shape[0]
    up: list = [None] * k
    total = jnp.zeros(rows)
    for i in reversed(range(k)):
        have = cliques[i]
        table = jnp.asarray(marginals[i])
        if parent[i] >= 0:
            table = _conditional(table, have, separators[i])
        belief = jnp.broadcast_to(table, (rows, *table.shape))
        for a in have:
            if first[a] == i:
                shape = [rows] + [table.shape[j] if b == a else 1 for j, b in enumerate(have)]
                belief = belief * jnp.reshape(jnp.asarray(evidence[a]), shape)
        for c in children[i]:
            shape = [rows] + [belief.shape[1 + j] if b in separators[c] else 1 for j, b in enumerate(have)]
            belief = belief * jnp.reshape(up[c], shape)
        drop = tuple(1 + j for j, b in enumerate(have) if b not in separators[i])
        up[i] = jnp.sum(belief, axis=drop) if drop else belief
        if parent[i] < 0:
            total = total + jnp.log(up[i])
    return total


def row_evidence(
    row_cells: np.ndarray, weights: np.ndarray, shape: Sequence[int], coarse_maps: Sequence[np.ndarray | None] = ()
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-attribute evidence (for :func:`log_evidence`) of a sample's distinct rows, and their summed weights.

    Parameters
    ----------
    row_cells
        (rows, attributes) codes as :class:`populace.data.inputs.Sample` keeps them: a
        level, ``-1`` where not answered, ``levels + j`` for the ``j``-th coarse set.
    weights
        Row weights (already scaled to the effective sample size).
    shape
        Levels of each attribute.
    coarse_maps
        Per attribute, :func:`populace.data.inputs.coarse_map` (levels x codes), or
        ``None`` (or absent) for an attribute without coarse sets.

    Returns
    -------
    (list of numpy.ndarray, numpy.ndarray)
        One (distinct rows, levels) 0/1 array per attribute, and each distinct row's weight.

    Examples
    --------
    >>> college = np.array([[1, 0, 1], [0, 1, 1]])  # two levels, then one coarse set of both
    >>> ev, w = row_evidence(np.array([[0, -1], [0, -1], [1, 2]]), np.ones(3), (2, 2), [None, college])
    >>> [e.tolist() for e in ev], w.tolist()
    ([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]], [2.0, 1.0])
    """
    distinct, inverse = np.unique(np.asarray(row_cells), axis=0, return_inverse=True)
    summed = np.bincount(inverse.reshape(-1), weights=np.asarray(weights, dtype=float), minlength=len(distinct))
    evidence = []
    for a, levels in enumerate(shape):
        codes = distinct[:, a]
        m = coarse_maps[a] if a < len(coarse_maps) and coarse_maps[a] is not None else np.eye(levels)
        # a column of ones for "not answered", after the levels and coarse sets
        table = np.concatenate([np.asarray(m, dtype=float), np.ones((levels, 1))], axis=1)
        evidence.append(table[:, np.where(codes < 0, table.shape[1] - 1, codes)].T)
    return evidence, summed
