"""The decomposable model on a junction tree: tables met in every draw, a known tree joint recovered."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from populace.models.belief import calibrate, marginal, row_evidence, sample
from populace.models.decomposable import build_decomposable
from populace.models.junction import JunctionTree, choose_graph

pytest.importorskip("numpyro")


@pytest.fixture(autouse=True)
def _x64() -> None:
    from populace.inference.backend import setup_jax

    setup_jax(1)


def _truth(seed: int) -> tuple[JunctionTree, list[np.ndarray]]:
    """A known tree joint over six attributes: strong associations along a chain and a branch."""
    rng = np.random.default_rng(seed)
    shape = (3, 2, 4, 3, 2, 3)
    tree = JunctionTree(shape=shape, cliques=((0, 1), (0, 2), (2, 3), (2, 4), (4, 5)), parent=(-1, 0, 1, 1, 3))
    factors = [rng.normal(scale=1.2, size=[shape[a] for a in c]) for c in tree.cliques]
    return tree, list(calibrate(tree, factors)[1])


def _one_way(tree: JunctionTree, marginals: list[np.ndarray]) -> list[tuple[tuple[int, ...], np.ndarray]]:
    return [((a,), np.asarray(marginal(tree, marginals, (a,)))) for a in range(len(tree.shape))]


def test_prior_draws_meet_every_table() -> None:
    import jax
    from numpyro.infer import Predictive

    true_tree, truth = _truth(0)
    tables = _one_way(true_tree, truth) + [((1, 3), np.asarray(marginal(true_tree, truth, (1, 3))))]
    tree = choose_graph(true_tree.shape, tables=[axes for axes, _ in tables])
    model = build_decomposable(tuple("abcdef"), true_tree.shape, tree, tables)
    draws = Predictive(model.model, num_samples=5)(jax.random.PRNGKey(0))
    for s in range(5):
        cliques = [np.asarray(draws[f"p_{i}"][s]) for i in range(len(tree.cliques))]
        for axes, share in tables:
            np.testing.assert_allclose(np.asarray(marginal(tree, cliques, axes)), share, atol=1e-6)
    assert {k for k in model.recorded if k.startswith("p_")} == {f"p_{i}" for i in range(len(tree.cliques))}


@pytest.mark.slow
def test_recovers_a_known_tree_joint_from_one_way_tables_and_a_sample() -> None:
    import jax
    from numpyro.infer import MCMC, NUTS

    true_tree, truth = _truth(1)
    shape = true_tree.shape
    rng = np.random.default_rng(2)
    codes = sample(true_tree, truth, 1500, rng)
    codes[rng.random(codes.shape) < 0.1] = -1  # missing answers
    tables = _one_way(true_tree, truth)
    tree = choose_graph(shape, tables=[axes for axes, _ in tables], codes=codes)
    evidence, weights = row_evidence(codes, np.ones(len(codes)), shape)
    model = build_decomposable(tuple("abcdef"), shape, tree, tables, evidence=evidence, weights=weights)
    mcmc = MCMC(NUTS(model.model, target_accept_prob=0.9), num_warmup=300, num_samples=300, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0))
    draws = mcmc.get_samples()
    n = len(draws["p_0"])
    tvd_model, tvd_independent, covered, cells = [], [], 0, 0
    for pair in itertools.combinations(range(len(shape)), 2):
        true = np.asarray(marginal(true_tree, truth, pair))
        per_draw = np.stack(
            [np.asarray(marginal(tree, [draws[f"p_{i}"][s] for i in range(len(tree.cliques))], pair)) for s in range(n)]
        )
        tvd_model.append(0.5 * np.abs(per_draw.mean(axis=0) - true).sum())
        tvd_independent.append(0.5 * np.abs(np.outer(tables[pair[0]][1], tables[pair[1]][1]) - true).sum())
        low, high = np.quantile(per_draw, [0.05, 0.95], axis=0)
        covered += int(((low <= true) & (true <= high)).sum())
        cells += true.size
    assert np.mean(tvd_model) < 0.5 * np.mean(tvd_independent)
    assert covered / cells >= 0.8
