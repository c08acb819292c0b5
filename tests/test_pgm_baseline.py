"""The Private-PGM baseline (benchmarks/pgm_baseline.py) recovers a known chain-structured joint."""

from __future__ import annotations

import importlib
import pathlib
import types

import numpy as np
import pytest

pytest.importorskip("mbi")

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SHAPE = (3, 2, 4, 3)
CHAIN = ((0, 1), (1, 2), (2, 3))


@pytest.fixture
def pgm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """benchmarks/pgm_baseline.py (benchmarks/ is a folder of scripts, not a package)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("pgm_baseline")


def _truth(seed: int = 0) -> np.ndarray:
    """A random log-linear joint over SHAPE with strong interactions along the chain 0-1-2-3."""
    rng = np.random.default_rng(seed)
    log_p = np.zeros(SHAPE)
    for a, k in enumerate(SHAPE):
        log_p = log_p + np.expand_dims(rng.normal(0.0, 0.5, k), [b for b in range(len(SHAPE)) if b != a])
    for (a, b), scale in zip(CHAIN, (1.5, 1.5, 1.0)):
        pair = rng.normal(0.0, scale, (SHAPE[a], SHAPE[b]))
        log_p = log_p + np.expand_dims(pair, [c for c in range(len(SHAPE)) if c not in (a, b)])
    p = np.exp(log_p)
    return p / p.sum()


def _margin(p: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return p.sum(axis=tuple(a for a in range(p.ndim) if a not in axes))


def _tvd(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


def _one_way(p: np.ndarray) -> list[tuple[tuple[int, ...], np.ndarray]]:
    return [((a,), _margin(p, (a,))) for a in range(p.ndim)]


def test_exact_two_way_tables_recover_the_chain(pgm: types.ModuleType):
    p = _truth()
    # The (0, 1) table is given over (1, 0): fit_private_pgm must accept unsorted axes.
    tables = _one_way(p) + [((1, 0), _margin(p, (0, 1)).T), ((1, 2), _margin(p, (1, 2)))]
    fit = pgm.fit_private_pgm(SHAPE, tables)
    assert (fit.estimator, fit.stages) == ("mirror_descent", 1)  # one weight: no continuation
    assert fit.seconds > 0
    for axes in ((0, 1), (1, 2)):
        assert np.abs(fit.marginal(axes) - _margin(p, axes)).max() < 1e-3
    for a in range(len(SHAPE)):
        assert fit.marginal((a,)).shape == (SHAPE[a],)
        assert np.abs(fit.marginal((a,)) - _margin(p, (a,))).max() < 1e-3
    # marginal() answers in sorted attribute order whatever order it is asked in.
    np.testing.assert_allclose(fit.marginal((2, 1)), fit.marginal((1, 2)))
    assert fit.marginal((2, 0)).shape == (SHAPE[0], SHAPE[2])
    assert fit.marginal((0, 1, 2, 3)).sum() == pytest.approx(1.0)
    truth_02 = _margin(p, (0, 2))
    independence = np.outer(_margin(p, (0,)), _margin(p, (2,)))
    assert _tvd(independence, truth_02) > 0.02  # the truth's (0, 2) association is not negligible
    assert _tvd(fit.marginal((0, 2)), truth_02) < _tvd(independence, truth_02)


def test_sample_margins_add_the_associations_the_tables_lack(pgm: types.ModuleType):
    p = _truth()
    rng = np.random.default_rng(1)
    persons = rng.choice(p.size, size=5000, p=p.ravel())
    sample = np.stack(np.unravel_index(persons, SHAPE), axis=1)
    fit = pgm.fit_private_pgm(SHAPE, _one_way(p), sample=sample, sample_axes=list(CHAIN))
    assert (fit.estimator, fit.stages) == ("lbfgs", pgm.STAGES)  # exact and sample weights mixed
    truth_01 = _margin(p, (0, 1))
    assert _tvd(fit.marginal((0, 1)), truth_01) < 0.03
    # Better than independence, which is all the one-way tables say about (0, 1).
    assert _tvd(fit.marginal((0, 1)), truth_01) < 0.5 * _tvd(np.outer(_margin(p, (0,)), _margin(p, (1,))), truth_01)
    for a in range(len(SHAPE)):
        assert np.abs(fit.marginal((a,)) - _margin(p, (a,))).max() < 1e-3


def test_inputs_are_checked(pgm: types.ModuleType):
    p = _truth()
    with pytest.raises(ValueError, match="shape"):
        pgm.fit_private_pgm(SHAPE, [((0, 1), _margin(p, (0, 1)).T)])
    with pytest.raises(ValueError, match="sums to"):
        pgm.fit_private_pgm(SHAPE, [((0,), 2 * _margin(p, (0,)))])
    with pytest.raises(ValueError, match="needs a sample"):
        pgm.fit_private_pgm(SHAPE, _one_way(p), sample_axes=[(0, 1)])
    with pytest.raises(ValueError, match="outside"):
        pgm.fit_private_pgm(SHAPE, _one_way(p), sample=np.full((3, 4), 3), sample_axes=[(0, 1)])
