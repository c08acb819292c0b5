"""Clique tables built top down meet every published table and agree on separators (known truth)."""

from __future__ import annotations

import numpy as np
import pytest

from populace.models.belief import calibrate, marginal
from populace.models.cliques import assign_tables, clique_tables
from populace.models.junction import choose_graph

pytest.importorskip("jax")


@pytest.fixture(autouse=True)
def _x64() -> None:
    from populace.inference.backend import setup_jax

    setup_jax(1)


def _case(seed: int):  # noqa: ANN202
    """A random true joint, its one-way tables and a few two- and three-way ones, a tree holding them."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(x) for x in rng.integers(2, 4, 7))
    truth = rng.dirichlet(np.ones(int(np.prod(shape)))).reshape(shape)
    axes_list = [(a,) for a in range(7)]
    order = rng.permutation(7)
    axes_list += [tuple(sorted(order[i : i + int(rng.integers(2, 4))])) for i in range(0, 6, 2)]
    tables = [(axes, truth.sum(axis=tuple(b for b in range(7) if b not in axes))) for axes in axes_list]
    tree = choose_graph(shape, tables=axes_list)
    log_weights = [rng.normal(size=[shape[a] for a in c]) for c in tree.cliques]
    return tree, tables, log_weights


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_table_met_and_separators_agree(seed: int) -> None:
    tree, tables, log_weights = _case(seed)
    out = clique_tables(tree, log_weights, assign_tables(tree, tables))
    for axes, share in tables:
        np.testing.assert_allclose(np.asarray(marginal(tree, out, axes)), share, atol=1e-6)
    for i, p in enumerate(tree.parent):
        if p < 0:
            continue
        sep = tree.separators[i]
        child = np.asarray(out[i]).sum(axis=tuple(j for j, a in enumerate(tree.cliques[i]) if a not in sep))
        parent = np.asarray(out[p]).sum(axis=tuple(j for j, a in enumerate(tree.cliques[p]) if a not in sep))
        np.testing.assert_allclose(child, parent, atol=1e-9)


def test_clique_tables_are_the_marginals_of_their_own_joint() -> None:
    tree, tables, log_weights = _case(4)
    out = clique_tables(tree, log_weights, assign_tables(tree, tables))
    # factors log p(C) - log p(S): calibrating them gives back the same clique tables
    factors = []
    for i, (clique, sep) in enumerate(zip(tree.cliques, tree.separators)):
        table = np.asarray(out[i])
        s = table.sum(axis=tuple(j for j, a in enumerate(clique) if a not in sep), keepdims=True)
        factors.append(np.log(table) - (np.log(s) if tree.parent[i] >= 0 else 0.0))
    log_z, again = calibrate(tree, factors)
    assert float(log_z) == pytest.approx(0.0, abs=1e-9)
    for a, b in zip(out, again):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-9)


def test_gradients_flow_through_every_clique() -> None:
    import jax
    import jax.numpy as jnp

    from populace.models.junction import JunctionTree

    # one-way tables only: every clique's association is free, so its weights matter
    rng = np.random.default_rng(6)
    tree = JunctionTree(shape=(2, 3, 2, 3), cliques=((0, 1), (1, 2), (2, 3)), parent=(-1, 0, 1))
    tables = [((a,), rng.dirichlet(np.ones(n))) for a, n in enumerate(tree.shape)]
    assigned = assign_tables(tree, tables)
    log_weights = [jnp.asarray(rng.normal(size=[tree.shape[a] for a in c])) for c in tree.cliques]

    def loss(ws):  # noqa: ANN001, ANN202
        return sum(jnp.sum(jnp.log(t) * jnp.arange(t.size).reshape(t.shape)) for t in clique_tables(tree, ws, assigned))

    grads = jax.grad(loss)(log_weights)
    assert all(np.isfinite(np.asarray(g)).all() and np.abs(np.asarray(g)).max() > 1e-6 for g in grads)
    # and the tables still hold
    out = clique_tables(tree, log_weights, assigned)
    for axes, share in tables:
        np.testing.assert_allclose(np.asarray(marginal(tree, out, axes)), share, atol=1e-6)
