"""Posteriors built without a sampler, for fast unit tests (CausalPy's mock-sampler idea).

Draws of the joint are Gamma-perturbed copies of a centre (a Dirichlet draw, normalised)
projected onto the exact tables with NumPy IPF, so every draw meets the exact tables as
a fitted posterior does, and :func:`populace.check` sees them met. Nothing here imports
JAX or NumPyro.
"""

from __future__ import annotations

import numpy as np

from populace.baselines import ipf
from populace.data.examples import example_spec_path
from populace.data.inputs import Inputs, load_inputs
from populace.models.projection import ipf_numpy
from populace.posterior import Posterior
from populace.spec import Attribute, Spec, TableSource

# Dirichlet concentration of the draws around their centre: cell sd is about
# sqrt(p (1 - p) / CONCENTRATION), a spread like a fit on a 1% sample's worth of rows.
CONCENTRATION = 2000.0
# IPF sweeps onto the exact tables; the example's exact tables meet to 1e-15 in 30.
SWEEPS = 50

# A 2 x 3 population whose joint is known; its sex margin is the one published table.
KNOWN_JOINT = np.array([[0.10, 0.22, 0.20], [0.18, 0.20, 0.10]])
KNOWN_SEX_TABLE = "sex,count\nfemale,520\nmale,480\n"


def example_spec() -> Spec:
    """The embedded CPS 1988 example (6 attributes, 512 cells)."""
    return Spec.from_yaml(example_spec_path())


def known_spec() -> Spec:
    """A tiny in-memory spec (sex x age) whose truth is :data:`KNOWN_JOINT`."""
    return Spec(
        attributes=[
            Attribute(name="sex", levels=("female", "male")),
            Attribute(name="age", levels=("young", "middle", "old"), ordered=True),
        ],
        marginals=[TableSource(file="sex.csv", text=KNOWN_SEX_TABLE)],
        name="known",
    )


def exact_targets(inputs: Inputs) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """The exact tables as IPF targets (axes, shares)."""
    return [(t.axes, t.counts / t.total) for t in inputs.exact_tables]


def joint_draws(
    inputs: Inputs,
    centre: np.ndarray,
    *,
    chains: int,
    draws: int,
    seed: int,
    concentration: float = CONCENTRATION,
    sweeps: int = SWEEPS,
) -> np.ndarray:
    """Draws (chains, draws, *grid) of joints near ``centre`` that meet every exact table.

    Each draw is Dirichlet(``concentration * centre``) on the cells where ``centre`` is
    positive (zero elsewhere), then projected onto the exact tables.
    """
    rng = np.random.default_rng(seed)
    positive = centre > 0
    targets = exact_targets(inputs)
    out = np.empty((chains, draws, *centre.shape))
    for c in range(chains):
        for d in range(draws):
            g = np.where(positive, rng.gamma(np.where(positive, concentration * centre, 1.0)), 0.0)
            out[c, d] = ipf_numpy(g, targets, sweeps)[0] if targets else g / g.sum()
    return out


def posterior_from_draws(spec: Spec, inputs: Inputs, draws: np.ndarray, *, seed: int = 0) -> Posterior:
    """A NUTS-like posterior of ``draws`` (chain, draw, *grid) with no divergences."""
    chains, n = draws.shape[:2]
    return Posterior.from_arrays(
        spec=spec,
        inputs=inputs,
        variables={"p": (("chain", "draw", *spec.names), draws)},
        coords={},
        stats={"diverging": np.zeros((chains, n), dtype=bool)},
        meta={"method": "nuts", "mcmc": True, "draws": n, "chains": chains, "seed": seed},
    )


def fake_example_posterior(*, chains: int = 2, draws: int = 50, seed: int = 0, spec: Spec | None = None) -> Posterior:
    """The CPS 1988 example (or ``spec``) with draws around IPF (pseudo-count 0.5) instead of a fit."""
    spec = example_spec() if spec is None else spec
    inputs = load_inputs(spec)
    centre = ipf(inputs, 0.5)
    return posterior_from_draws(
        spec, inputs, joint_draws(inputs, centre, chains=chains, draws=draws, seed=seed), seed=seed
    )


def fake_known_posterior(
    *, chains: int = 2, draws: int = 100, seed: int = 0, centre: np.ndarray = KNOWN_JOINT
) -> Posterior:
    """The tiny sex x age spec with draws around ``centre`` (default :data:`KNOWN_JOINT`)."""
    spec = known_spec()
    inputs = load_inputs(spec)
    # one table: a single sweep meets it exactly
    p = joint_draws(inputs, centre, chains=chains, draws=draws, seed=seed, sweeps=1)
    return posterior_from_draws(spec, inputs, p, seed=seed)
