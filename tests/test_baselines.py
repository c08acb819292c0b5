"""Bootstrap intervals of the point baselines: resampling, known spreads, coverage, seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import populace as pp
from populace import baselines
from populace.data.inputs import Inputs, load_inputs, take_rows
from populace.metrics import interval_metrics

NAMES = ("a", "b", "c", "d")


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def _levels(name: str, k: int) -> list[str]:
    return [f"{name}{i}" for i in range(k)]


def _inputs(counts: np.ndarray | None, cells: np.ndarray, weights: np.ndarray, shape: tuple[int, ...]) -> Inputs:
    """Inputs of a synthetic task: one-way tables of ``counts`` (if given) and a weighted sample.

    ``cells`` holds one row of level codes per sampled person (-1: missing).
    """
    names = NAMES[: len(shape)]
    attributes = tuple(pp.Attribute(name=n, levels=tuple(_levels(n, k))) for n, k in zip(names, shape))
    marginals = []
    if counts is not None:
        for axis, name in enumerate(names):
            margin = counts.sum(axis=tuple(a for a in range(len(shape)) if a != axis))
            table = pd.DataFrame({name: _levels(name, shape[axis]), "count": margin})
            marginals.append(pp.TableSource(file=f"{name}.csv", text=_csv(table)))
    sample = pd.DataFrame({n: [f"{n}{c}" if c >= 0 else "" for c in cells[:, i]] for i, n in enumerate(names)})
    sample["weight"] = weights
    microdata = pp.Microdata(source=pp.TableSource(file="sample.csv", text=_csv(sample)), weight="weight")
    return load_inputs(pp.Spec(attributes=attributes, marginals=marginals, microdata=microdata))


def _draw_cells(rng: np.random.Generator, truth: np.ndarray, n: int) -> np.ndarray:
    flat = rng.choice(truth.size, size=n, p=truth.ravel())
    return np.stack(np.unravel_index(flat, truth.shape), axis=1)


def test_taking_every_row_gives_back_the_sample_load_inputs_built():
    rng = np.random.default_rng(0)
    shape = (3, 2, 2)
    cells = rng.integers(0, 2, size=(60, 3))
    cells[::7, 1] = -1  # some rows miss an attribute
    weights = rng.choice([1.0, 2.5, 6.0], size=60)
    inputs = _inputs(None, cells, weights, shape)
    again = take_rows(inputs.sample, np.arange(inputs.sample.n_rows), inputs.spec)
    assert again.n_effective == pytest.approx(inputs.sample.n_effective)
    assert again.weight_total == pytest.approx(inputs.sample.weight_total)
    assert dict(again.patterns).keys() == dict(inputs.sample.patterns).keys()
    for axes, counts in inputs.sample.patterns:
        np.testing.assert_allclose(dict(again.patterns)[axes], counts)


def test_resample_keeps_the_tables_and_the_number_of_rows():
    rng = np.random.default_rng(1)
    truth = rng.dirichlet(np.ones(6)).reshape(3, 2)
    counts = rng.multinomial(10_000, truth.ravel()).reshape(3, 2)
    inputs = _inputs(counts, _draw_cells(rng, truth, 80), np.full(80, 125.0), (3, 2))
    replicate = baselines.resample(inputs, np.random.default_rng(2))
    assert replicate.tables == inputs.tables
    assert replicate.sample.n_rows == inputs.sample.n_rows
    assert not np.array_equal(baselines.sample_seed(replicate), baselines.sample_seed(inputs))


def test_resample_without_a_sample_is_refused():
    rng = np.random.default_rng(1)
    inputs = _inputs(None, rng.integers(0, 2, size=(10, 2)), np.ones(10), (2, 2))
    with pytest.raises(ValueError, match="no sample"):
        baselines.resample(dataclasses.replace(inputs, sample=None), rng)


def test_same_seed_gives_the_same_replicates():
    rng = np.random.default_rng(3)
    truth = rng.dirichlet(np.ones(8)).reshape(2, 2, 2)
    counts = rng.multinomial(10_000, truth.ravel()).reshape(2, 2, 2)
    inputs = _inputs(counts, _draw_cells(rng, truth, 100), np.full(100, 100.0), (2, 2, 2))

    def estimator(i: Inputs) -> np.ndarray:
        return baselines.ipf(i, 0.5, sweeps=20)

    first = baselines.bootstrap(estimator, inputs, seed=7, replicates=30)
    second = baselines.bootstrap(estimator, inputs, seed=7, replicates=30)
    other = baselines.bootstrap(estimator, inputs, seed=8, replicates=30)
    assert first.shape == (30, 2, 2, 2)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_interval_of_a_weighted_share_has_the_width_of_its_sampling_distribution():
    # A cell's weighted share is a ratio estimator; to first order its standard error is
    # sqrt(sum w_i^2 (y_i - p)^2) / sum w_i, so its 90% interval spans 2 * 1.645 of it.
    rng = np.random.default_rng(4)
    n, shape = 800, (2, 3)
    cells = _draw_cells(rng, np.array([[0.1, 0.2, 0.15], [0.3, 0.05, 0.2]]), n)
    weights = np.where(cells[:, 0] == 0, 1.0, 4.0) * rng.uniform(0.5, 1.5, size=n)
    inputs = _inputs(None, cells, weights, shape)
    reps = baselines.bootstrap(baselines.weighted_sample, inputs, seed=0, replicates=1000)
    lower, upper = np.quantile(reps, [0.05, 0.95], axis=0)
    share = baselines.weighted_sample(inputs)
    z = stats.norm.ppf(0.95)
    for cell in np.ndindex(shape):
        y = (cells == np.array(cell)).all(axis=1)
        se = np.sqrt(np.sum(weights**2 * (y - share[cell]) ** 2)) / weights.sum()
        assert upper[cell] - lower[cell] == pytest.approx(2 * z * se, rel=0.1)


def test_bootstrap_interval_of_ipf_covers_more_as_the_sample_grows():
    # With few persons the seed is mostly pseudo-counts, and the bootstrap cannot see the
    # bias that puts there; with many, IPF is nearly unbiased and its intervals near nominal.
    rng = np.random.default_rng(2)
    shape, population = (4, 4, 3, 2), 200_000
    truth = np.exp(rng.normal(0.0, 1.0, shape))
    counts = rng.multinomial(population, (truth / truth.sum()).ravel()).reshape(shape)
    truth = counts / population

    def coverage(n: int) -> float:
        inputs = _inputs(counts, _draw_cells(rng, truth, n), np.full(n, population / n), shape)
        reps = baselines.bootstrap(lambda i: baselines.ipf(i, 0.5, sweeps=20), inputs, seed=0, replicates=100)
        return interval_metrics(reps, truth, population, prob=0.9)["coverage"]

    small, large = coverage(50), coverage(5000)
    assert large >= 0.75
    assert large > small + 0.2


def test_independence_does_not_move_under_the_bootstrap():
    rng = np.random.default_rng(5)
    truth = rng.dirichlet(np.ones(6)).reshape(3, 2)
    counts = rng.multinomial(10_000, truth.ravel()).reshape(3, 2)
    inputs = _inputs(counts, _draw_cells(rng, truth, 50), np.full(50, 200.0), (3, 2))
    reps = baselines.bootstrap(baselines.independence, inputs, seed=0, replicates=5)
    np.testing.assert_allclose(reps, np.broadcast_to(reps[0], reps.shape))
