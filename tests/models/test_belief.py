"""Belief propagation on a junction tree against brute force over the full grid (a known truth)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from populace.models.belief import calibrate, log_evidence, marginal, row_evidence, sample
from populace.models.junction import JunctionTree, choose_graph

pytest.importorskip("jax")


@pytest.fixture(autouse=True)
def _x64() -> None:
    """64-bit floats, as every fit runs (``setup_jax``)."""
    from populace.inference.backend import setup_jax

    setup_jax(1)


def _brute(tree: JunctionTree, factors: list[np.ndarray]) -> np.ndarray:
    """The full joint of exp(sum of clique factors), normalised."""
    log_p = np.zeros(tree.shape)
    for clique, phi in zip(tree.cliques, factors):
        shape = [tree.shape[a] if a in clique else 1 for a in range(len(tree.shape))]
        log_p = log_p + phi.reshape(shape)
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


def _random_case(seed: int) -> tuple[JunctionTree, list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = tuple(int(x) for x in rng.integers(2, 4, 7))
    if seed % 2:
        # a connected tree: overlapping pairs and triples along a random order of the attributes
        order = rng.permutation(7)
        tables = [tuple(sorted(order[i : i + int(rng.integers(2, 4))])) for i in range(6)]
    else:
        tables = [tuple(sorted(rng.choice(7, size=int(rng.integers(1, 4)), replace=False))) for _ in range(3)]
    tree = choose_graph(shape, tables=tables)
    factors = [rng.normal(size=[shape[a] for a in c]) for c in tree.cliques]
    return tree, factors, _brute(tree, factors)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_clique_marginals_and_normaliser_match_brute_force(seed: int) -> None:
    tree, factors, p = _random_case(seed)
    log_z, marginals = calibrate(tree, factors)
    total = np.zeros(tree.shape)
    for clique, phi in zip(tree.cliques, factors):
        total = total + phi.reshape([tree.shape[a] if a in clique else 1 for a in range(len(tree.shape))])
    assert float(log_z) == pytest.approx(float(np.log(np.exp(total).sum())), rel=1e-10)
    for clique, m in zip(tree.cliques, marginals):
        drop = tuple(a for a in range(len(tree.shape)) if a not in clique)
        np.testing.assert_allclose(np.asarray(m), p.sum(axis=drop), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_marginals_over_any_attributes_match_brute_force(seed: int) -> None:
    tree, factors, p = _random_case(seed)
    _, marginals = calibrate(tree, factors)
    if seed % 2:
        assert len(tree.cliques) >= 3 and sum(q < 0 for q in tree.parent) == 1
    for subset in [(0, 6), (1, 3, 5), (2,), (0, 2, 4, 6)] + list(itertools.combinations(range(7), 2))[:8]:
        drop = tuple(a for a in range(7) if a not in subset)
        np.testing.assert_allclose(np.asarray(marginal(tree, marginals, subset)), p.sum(axis=drop), atol=1e-12)


def test_persons_sampled_down_the_tree_follow_the_joint() -> None:
    tree, factors, p = _random_case(5)
    assert sum(q < 0 for q in tree.parent) == 1  # one connected tree
    _, marginals = calibrate(tree, factors)
    n = 200_000
    codes = sample(tree, marginals, n, np.random.default_rng(0))
    counts = np.zeros(tree.shape)
    np.add.at(counts, tuple(codes.T), 1)
    # every cell within 4.5 binomial standard errors (about 1 in 150,000 by chance)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(counts / n - p) <= 4.5 * se + 1e-9)


def test_structural_zeros_stay_zero() -> None:
    tree = JunctionTree(shape=(2, 2, 2), cliques=((0, 1), (1, 2)), parent=(-1, 0))
    factors = [np.array([[0.0, -np.inf], [0.0, 0.0]]), np.zeros((2, 2))]
    _, marginals = calibrate(tree, factors)
    assert float(marginals[0][0, 1]) == 0.0
    assert float(marginal(tree, marginals, (0, 2))[0].sum()) == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_with_missing_and_coarse_answers_match_brute_force(seed: int) -> None:
    tree, factors, p = _random_case(seed)
    _, marginals = calibrate(tree, factors)
    rng = np.random.default_rng(seed + 10)
    rows = 40
    evidence = []
    for levels in tree.shape:
        allowed = np.zeros((rows, levels))
        kind = rng.integers(0, 3, rows)  # 0: one level, 1: missing, 2: a coarse set
        for r in range(rows):
            if kind[r] == 0:
                allowed[r, rng.integers(levels)] = 1
            elif kind[r] == 1:
                allowed[r] = 1
            else:
                allowed[r] = rng.random(levels) < 0.5
                allowed[r, rng.integers(levels)] = 1
        evidence.append(allowed)
    got = np.asarray(log_evidence(tree, marginals, evidence))
    for r in range(rows):
        mask = np.ones(tree.shape)
        for a, allowed in enumerate(evidence):
            mask = mask * allowed[r].reshape([-1 if b == a else 1 for b in range(len(tree.shape))])
        assert got[r] == pytest.approx(np.log((p * mask).sum()), rel=1e-10)


def test_a_weighted_sample_with_coarse_codes_scores_as_brute_force() -> None:
    tree, factors, p = _random_case(3)
    _, marginals = calibrate(tree, factors)
    rng = np.random.default_rng(7)
    rows = 60
    cells = np.stack([rng.integers(-1, n, rows) for n in tree.shape], axis=1)
    # attribute 0 has one coarse set (its first two levels), code = levels
    levels0 = tree.shape[0]
    coarse = np.concatenate([np.eye(levels0), np.r_[1.0, 1.0, np.zeros(levels0 - 2)][:, None]], axis=1)
    cells[rng.random(rows) < 0.3, 0] = levels0
    cells = np.concatenate([cells, cells[:10]])  # repeated rows are merged, their weights summed
    weights = rng.random(len(cells)) + 0.5
    evidence, summed = row_evidence(cells, weights, tree.shape, [coarse])
    assert len(summed) < len(cells) and summed.sum() == pytest.approx(weights.sum())
    got = float(np.sum(summed * np.asarray(log_evidence(tree, marginals, evidence))))
    expected = 0.0
    for row, w in zip(cells, weights):
        mask = np.ones(tree.shape)
        for a, code in enumerate(row):
            allowed = (
                np.ones(tree.shape[a]) if code < 0 else (coarse[:, code] if a == 0 else np.eye(tree.shape[a])[code])
            )
            mask = mask * allowed.reshape([-1 if b == a else 1 for b in range(len(tree.shape))])
        expected += w * np.log((p * mask).sum())
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    ("cliques", "parent"), [(((0, 1), (1, 2), (2, 3)), (-1, 0, 1)), (((0, 1), (1, 2), (1, 3)), (-1, 0, 0))]
)
@pytest.mark.parametrize("classes", [0, 3])
def test_rows_read_off_the_tables_score_as_propagated(cliques, parent, classes: int) -> None:
    """Rows answered in full take the gathered path; every row must score as by message passing."""
    from populace.models.belief import _propagated_log_evidence, _split_rows
    from populace.models.junction import with_latent_class

    rng = np.random.default_rng(classes)
    shape = (3, 4, 2, 3)
    tree = JunctionTree(shape=shape, cliques=cliques, parent=parent)
    if classes:
        tree = with_latent_class(tree, classes)
    _, marginals = calibrate(tree, [rng.normal(size=[tree.shape[a] for a in c]) for c in tree.cliques])
    marginals = [np.asarray(m) for m in marginals]
    rows = 40
    evidence = []
    for k in shape:
        e = np.zeros((rows, k))
        e[np.arange(rows), rng.integers(0, k, rows)] = 1
        e[:4] = 1  # missing
        e[4:7, :2] = 1  # coarse
        evidence.append(e)
    if classes:
        evidence.append(np.ones((rows, classes)))
    star_with_class = classes and parent == (-1, 0, 0)  # two attributes in every clique: propagated
    assert (_split_rows(tree, evidence) is None) == bool(star_with_class)
    gathered = np.asarray(log_evidence(tree, marginals, evidence))
    np.testing.assert_allclose(gathered, np.asarray(_propagated_log_evidence(tree, marginals, evidence)), atol=1e-12)
