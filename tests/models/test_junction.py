"""Graph choice for a decomposable model: known trees recovered, tables kept in cliques, junction trees valid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from populace.errors import SpecError
from populace.models.junction import JunctionTree, choose_graph, mutual_information


def _tree_sample(n: int, shape: tuple[int, ...], edges: list[tuple[int, int]], seed: int) -> np.ndarray:
    """Rows from a known tree: each child copies a random map of its parent's level with probability 0.8."""
    rng = np.random.default_rng(seed)
    codes = np.full((n, len(shape)), -1)
    parent = {child: par for par, child in edges}
    for a in range(len(shape)):  # parents come before children in these trees
        if a not in parent:
            codes[:, a] = rng.integers(0, shape[a], n)
            continue
        mapping = rng.permutation(np.arange(shape[parent[a]]) % shape[a])
        follow = rng.random(n) < 0.8
        codes[:, a] = np.where(follow, mapping[codes[:, parent[a]]], rng.integers(0, shape[a], n))
    return codes


def _running_intersection(tree: JunctionTree) -> bool:
    """Every attribute's cliques form one connected subtree of the junction tree."""
    for a in range(len(tree.shape)):
        holding = {i for i, c in enumerate(tree.cliques) if a in c}
        tops = [i for i in holding if tree.parent[i] not in holding]
        if len(tops) > 1:
            return False
    return True


def test_chow_liu_recovers_a_known_tree() -> None:
    shape = (3, 2, 4, 3, 2, 5)
    edges = [(0, 1), (0, 2), (2, 3), (2, 4)]  # attribute 5 stands alone
    codes = _tree_sample(4000, shape, edges, seed=1)
    tree = choose_graph(shape, codes=codes, prune=True)
    assert set(tree.edges) == set(edges)
    assert (5,) in tree.cliques
    assert tree.width == 1
    assert _running_intersection(tree)


def test_published_tables_land_inside_one_clique() -> None:
    shape = (2, 3, 4, 2, 3)
    tables = [(0, 1), (1, 2), (0, 2), (3,), (2, 4)]  # a triangle: one clique {0, 1, 2}
    tree = choose_graph(shape, tables=tables)
    for table in tables:
        assert any(set(table) <= set(c) for c in tree.cliques), table
    assert (0, 1, 2) in tree.cliques
    assert _running_intersection(tree)


def test_tables_and_sample_together_form_a_valid_junction_tree() -> None:
    rng = np.random.default_rng(3)
    shape = tuple(int(x) for x in rng.integers(2, 5, 9))
    edges = [(0, 1), (1, 2), (1, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8)]
    codes = _tree_sample(3000, shape, edges, seed=4)
    codes[rng.random(codes.shape) < 0.1] = -1  # missing answers are left out pair by pair
    tables = [(0, 4, 8), (2, 6)]
    tree = choose_graph(shape, tables=tables, codes=codes)
    assert _running_intersection(tree)
    for table in tables:
        assert any(set(table) <= set(c) for c in tree.cliques)
    # chordal: every cycle closed by the tables is triangulated inside the clique bound or a table
    assert all(len(c) <= 4 or any(set(t) <= set(c) for t in tables) for c in tree.cliques)
    # each attribute appears, and each clique after its parent
    assert set(itertools.chain(*tree.cliques)) == set(range(9))
    assert all(p < i for i, p in enumerate(tree.parent))


def test_independent_attributes_stay_apart_when_pruned_and_join_otherwise() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 3, (2000, 4))
    pruned = choose_graph((3, 3, 3, 3), codes=codes, prune=True)
    assert pruned.cliques == ((0,), (1,), (2,), (3,))
    assert pruned.edges == ()
    tree = choose_graph((3, 3, 3, 3), codes=codes)  # a spanning tree: weak edges left to the prior
    assert len(tree.edges) == 3 and _running_intersection(tree)


def test_mutual_information_matches_a_hand_computed_value() -> None:
    # p(a, b) = [[0.4, 0.1], [0.1, 0.4]]
    codes = np.array([[0, 0]] * 4 + [[0, 1]] + [[1, 0]] + [[1, 1]] * 4)
    mi, support = mutual_information(codes, (2, 2))
    p = np.array([[0.4, 0.1], [0.1, 0.4]])
    expected = float(np.sum(p * np.log(p / 0.25)))
    assert mi[0, 1] == pytest.approx(expected)
    assert support[0, 1] == 10


def test_tables_forcing_a_huge_clique_are_refused_by_name() -> None:
    with pytest.raises(SpecError, match="region, age, income"):
        choose_graph((50, 40, 30), tables=[(0, 1), (1, 2), (0, 2)], names=("region", "age", "income"), max_cells=10_000)
