"""Private-PGM as a baseline: a graphical model fitted to published marginals (and a sample's).

Private-PGM (McKenna, Sheldon and Miklau 2019, "Graphical-model based estimation and
inference for differential privacy", ICML; the ``mbi`` package) takes noisy linear
measurements of marginal tables, each with the standard deviation of its noise, and fits the
Markov random field over the measured cliques whose marginals ``mu`` minimise the
noise-weighted squared error ``sum_m ||mu_m - y_m||^2 / (2 sigma_m^2)`` over the marginal
polytope. With consistent exact tables the fit is the maximum-entropy (log-linear, IPF)
joint that meets them. It is the off-the-shelf tool a user would reach for to get "a joint
from published marginals", which is why it is a baseline here.

How the measurements are weighted (``mbi`` works on counts, so shares are scaled by
``total``, N, and the fitted counts are divided by it again):

* A published table holds exact population shares. It is given a standard deviation of
  ``exact_sd`` on the share scale (``exact_sd * N`` counts). By default that is 1e-4, or
  a 30th of the smallest sample table's error if that is smaller (a large sample): the
  exact tables then weigh at least 900 times as much as any sample table, so the fit meets
  them closely (to ~1e-5 against a 5,000-person sample) and the sample decides only what
  the tables leave open, while the weights stay within a ratio an optimiser can handle.
* A sample margin over ``axes`` from ``n`` persons estimates the population shares with the
  sampling error of a multinomial proportion, ``sqrt(p (1 - p) / n)`` per cell. ``mbi``
  takes one standard deviation per table, so each gets the root mean square of that over
  its cells (estimated from the sample), times N: about ``N / sqrt(n k)`` for a table of
  ``k`` even cells, i.e. ``sqrt(n / k)`` on the sample's own count scale, the weight a user
  would give a measurement carrying sampling noise. The finite-population correction, and
  the correlation between margins of one sample, are ignored (mbi assumes independent
  noise).

The optimiser: when the measurements' weights are alike (exact tables only, or sample
margins only) mbi's mirror descent (the paper's Algorithm 1, mbi's recommended estimator)
is used. With both exact and sample tables the weights differ a thousandfold or more, and
a first-order method whose step is set by the largest weight barely fits the associations
that only the sample measures: on the 72-cell test domain (tests/test_pgm_baseline.py,
truth seed 1) with a 5,000-person sample, the (0, 1) margin mirror descent gave was at TVD
0.035 from the truth after 2,000 steps and 0.012 after 40,000, against 0.009 at
convergence; L-BFGS on the potentials (also in ``mbi.estimation``, same loss) was at 0.015
after 2,000. So the mixed case uses L-BFGS with continuation: ``STAGES`` fits, each
warm-started from the last, with the exact tables' standard deviation stepped
geometrically from a third of the smallest sample table's down to ``exact_sd``. Over six
random truths this brought the loss to within 4% of its minimum (within 0.1% for four),
where one 2,000-step fit at the final weights was up to 6 times the minimum.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

# Default scale of the counts handed to mbi (the shares times this).
DEFAULT_TOTAL = 1e6
# mbi's estimators offered (name here -> class in mbi.estimation); "auto" picks one.
ESTIMATORS = {"lbfgs": "LBFGS", "mirror_descent": "MirrorDescent"}
# Fits of the continuation when exact and sample tables are mixed (see the module docstring),
# and how far below the smallest sample table's standard deviation the exact tables' starts.
STAGES = 3
FIRST_STAGE_RATIO = 3.0
# Standard deviation, on the share scale, given to an exact published table (at most), and
# how many times smaller than the smallest sample table's it is kept by default.
EXACT_SHARE_SD = 1e-4
EXACT_SD_RATIO = 30.0


@dataclasses.dataclass(frozen=True)
class PGMResult:
    """A fitted Private-PGM model.

    Attributes
    ----------
    model
        The fitted ``mbi.MarkovRandomField`` (on the count scale, summing to ``total``).
    shape
        Levels of each attribute.
    total
        The total the shares were scaled by.
    seconds
        Wall time of the fit: building the measurements, JIT compilation (most of it for
        small domains; mbi compiles once per set of cliques per process), the optimiser's
        steps and the final marginals.
    estimator
        The mbi estimator used (``"mirror_descent"`` or ``"lbfgs"``).
    stages
        Fits run (more than one when exact and sample tables are mixed).
    exact_sd
        Standard deviation, on the share scale, the exact tables had in the last fit.
    """

    model: Any
    shape: tuple[int, ...]
    total: float
    seconds: float
    estimator: str
    stages: int
    exact_sd: float

    def marginal(self, axes: tuple[int, ...]) -> np.ndarray:
        """The fitted share table over ``axes``, in sorted attribute order.

        Parameters
        ----------
        axes
            Attributes (indices into ``shape``), in any order, without repeats.

        Returns
        -------
        numpy.ndarray
            Shares (summing to 1) with one axis per attribute of ``sorted(axes)``.
        """
        order = tuple(sorted(int(a) for a in axes))
        _check_axes(order, len(self.shape))
        factor = self.model.project(order).transpose(order)
        counts = np.clip(np.asarray(factor.datavector(flatten=False), dtype=float), 0.0, None)
        return counts / counts.sum()


def _check_axes(axes: Sequence[int], d: int) -> None:
    if len(axes) == 0:
        raise ValueError("a table needs at least one attribute")
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated attribute in {tuple(axes)}")
    if any(a < 0 or a >= d for a in axes):
        raise ValueError(f"attribute out of range 0..{d - 1} in {tuple(axes)}")


def _sorted_table(
    shape: tuple[int, ...], axes: tuple[int, ...], table: np.ndarray
) -> tuple[tuple[int, ...], np.ndarray]:
    """``table`` over ``axes`` re-expressed over ``sorted(axes)``, after checking it."""
    axes = tuple(int(a) for a in axes)
    _check_axes(axes, len(shape))
    table = np.asarray(table, dtype=float)
    expected = tuple(shape[a] for a in axes)
    if table.shape != expected:
        raise ValueError(f"table over {axes} has shape {table.shape}, expected {expected}")
    order = tuple(sorted(axes))
    return order, np.transpose(table, [axes.index(a) for a in order])


def _sample_margin(sample: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """The sample's share table over ``axes`` (sorted), from its level codes."""
    sizes = tuple(shape[a] for a in axes)
    flat = np.ravel_multi_index(tuple(sample[:, a] for a in axes), sizes)
    counts = np.bincount(flat, minlength=int(np.prod(sizes))).astype(float)
    return (counts / counts.sum()).reshape(sizes)


def _sample_tables(
    shape: tuple[int, ...], sample: np.ndarray | None, sample_axes: Sequence[tuple[int, ...]]
) -> list[tuple[tuple[int, ...], np.ndarray, float]]:
    """The sample's margins over ``sample_axes`` as (sorted axes, shares, standard deviation)."""
    if sample is None:
        raise ValueError("sample_axes needs a sample")
    sample = np.asarray(sample)
    if sample.ndim != 2 or sample.shape[1] != len(shape) or len(sample) == 0:
        raise ValueError(f"sample must be a non-empty (n, {len(shape)}) array, got shape {sample.shape}")
    if not np.issubdtype(sample.dtype, np.integer):
        raise ValueError("sample must hold integer level codes")
    if (sample < 0).any() or (sample >= np.asarray(shape)).any():
        raise ValueError("sample has a level code outside its attribute's levels")
    n = len(sample)
    out = []
    for axes in sample_axes:
        order = tuple(sorted(int(a) for a in axes))
        _check_axes(order, len(shape))
        shares = _sample_margin(sample, shape, order)
        # Root mean square over the table's cells of a sample proportion's standard error.
        sd = float(np.sqrt(np.mean(shares * (1.0 - shares)) / n))
        # A table with every person in one cell shows no spread: floor the error at one person's share.
        out.append((order, shares, max(sd, 1.0 / n)))
    return out


def fit_private_pgm(
    shape: tuple[int, ...],
    tables: list[tuple[tuple[int, ...], np.ndarray]],
    *,
    sample: np.ndarray | None = None,
    sample_axes: Sequence[tuple[int, ...]] = (),
    iters: int = 2000,
    total: float = DEFAULT_TOTAL,
    exact_sd: float | None = None,
    estimator: str = "auto",
) -> PGMResult:
    """Fit Private-PGM to exact published tables and, optionally, a sample's margins.

    Parameters
    ----------
    shape
        Levels of each categorical attribute; attributes are indexed ``0..d-1``.
    tables
        Published tables as ``(axes, shares)``: ``shares`` has one axis per attribute of
        ``axes``, in that order (not necessarily sorted), and sums to 1. They are taken as
        exact population shares (standard deviation ``exact_sd``).
    sample
        Optional ``(n, d)`` integer level codes of a simple random sample of persons.
    sample_axes
        Attribute subsets whose sample margins are also measured, each with its sampling
        error (see the module docstring). Requires ``sample``.
    iters
        Optimiser steps per fit (rounded up to a multiple of mbi's block of 50). There is
        one fit, or ``STAGES`` of them when exact and sample tables are mixed.
    total
        The count scale the shares are put on for mbi (the population total, say).
    exact_sd
        Standard deviation, on the share scale, of an exact table's measurement; ``None``
        for ``EXACT_SHARE_SD``, capped at a ``EXACT_SD_RATIO``-th of the smallest sample
        table's.
    estimator
        ``"mirror_descent"``, ``"lbfgs"`` or ``"auto"``: mirror descent when all
        measurements carry one weight, L-BFGS when exact and sample tables are mixed.

    Returns
    -------
    PGMResult
        The fitted model, with its fit time.
    """
    from populace.inference.backend import setup_jax

    setup_jax(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # float32 / compilation-cache notes at import
        import jax
        import mbi
        from mbi import estimation

    shape = tuple(int(k) for k in shape)
    if not tables and not sample_axes:
        raise ValueError("nothing to fit: no tables and no sample margins")
    if estimator != "auto" and estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be 'auto' or one of {sorted(ESTIMATORS)}, got {estimator!r}")
    total = float(total)
    start = time.perf_counter()
    exact = []  # (sorted axes, shares over them)
    for axes, shares in tables:
        order, table = _sorted_table(shape, tuple(axes), shares)
        if not np.isclose(table.sum(), 1.0, atol=1e-6):
            raise ValueError(f"table over {tuple(axes)} sums to {table.sum()}, not 1")
        exact.append((order, table))
    # (sorted axes, shares over them, standard deviation on the share scale)
    sampled = _sample_tables(shape, sample, sample_axes) if sample_axes else []
    smallest = min((sd for _, _, sd in sampled), default=np.inf)
    if exact_sd is None:
        exact_sd = min(EXACT_SHARE_SD, smallest / EXACT_SD_RATIO)
    mixed = bool(exact) and bool(sampled)
    if estimator == "auto":
        estimator = "lbfgs" if mixed else "mirror_descent"
    first = smallest / FIRST_STAGE_RATIO
    schedule = np.geomspace(first, exact_sd, STAGES) if mixed and first > exact_sd else np.array([exact_sd])
    domain = mbi.Domain(tuple(range(len(shape))), shape)
    fitter = getattr(estimation, ESTIMATORS[estimator])()
    sample_measurements = [
        mbi.LinearMeasurement(table.ravel() * total, order, stddev=sd * total) for order, table, sd in sampled
    ]
    model = None
    for sd in schedule:
        measurements = [
            mbi.LinearMeasurement(table.ravel() * total, order, stddev=float(sd) * total) for order, table in exact
        ]
        model = fitter.estimate(
            domain, measurements + sample_measurements, known_total=total, iters=iters, warm_start=model
        )
    jax.block_until_ready(model.marginals)  # JAX dispatches asynchronously: wait for the fit
    seconds = time.perf_counter() - start
    return PGMResult(
        model=model,
        shape=shape,
        total=total,
        seconds=seconds,
        estimator=estimator,
        stages=len(schedule),
        exact_sd=float(exact_sd),
    )
