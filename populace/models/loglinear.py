"""The hierarchical log-linear model over the cell grid, as a NumPyro model.

``p = project(softmax(eta))`` where ``eta`` sums the free main effects and interactions
(:mod:`populace.models.terms`), structural zeros are ``-inf``, and ``project`` meets the
exact tables (:mod:`populace.models.projection`). Tables with standard errors enter as
Gaussian observations of ``population * margin(p)``; microdata as a weighted categorical
likelihood on the margin of the attributes each person reports.

Priors (all effects non-centred, so NUTS sees unit-scale coordinates):

- main effects: ``sigma_main * z``, ``sigma_main ~ HalfNormal(MAIN_SCALE)``;
- interactions of order k: ``tau_k * lam_term * z`` with a global ``tau_k`` and a local
  ``lam_term``, both half-normal: a global-local shrinkage prior that pools the terms;
- area-varying pair effects (geography): the same with their own global scale, so areas
  are shrunk toward the national interaction;
- ordered attributes: the standard normal ``z`` is cumulated along the ordered axis
  (a first-order random walk), so neighbouring levels get similar effects;
- every effect is centred along each of its axes, so an interaction carries no main
  effect and the terms do not compete.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from populace.data.inputs import Inputs
from populace.models.projection import MAX_SWEEPS, ipf_numpy, sweeps_needed
from populace.models.terms import GEOGRAPHY, MAIN, Term, model_terms

# Prior scale of main effects (log-share differences between levels); 2 allows levels
# whose shares differ by e^4 ~ 50x without fighting the prior.
MAIN_SCALE = 2.0
# Global scale of k-way interactions: HalfNormal(INTERACTION_SCALE / (k - 1)). Log odds
# ratios of real demographic tables are mostly within +-2 (Agresti 2013, ch. 9 examples).
INTERACTION_SCALE = 1.0
# Smallest latent count of a table with standard errors, as a fraction of its se: keeps
# every latent share positive so the projection stays defined.
LATENT_FLOOR = 1e-3
# Global scale of area-varying deviations from the national interactions.
GEOGRAPHY_SCALE = 0.5


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoglinearModel:
    """Everything the NumPyro model needs, as NumPy arrays; call :meth:`model` to sample."""

    shape: tuple[int, ...]
    support: np.ndarray
    terms: tuple[Term, ...]
    term_names: tuple[str, ...]
    ordered: tuple[bool, ...]
    exact: tuple[tuple[tuple[int, ...], np.ndarray], ...]
    se_tables: tuple[tuple[tuple[int, ...], np.ndarray, np.ndarray], ...]
    se_constraints: tuple[tuple[tuple[tuple[int, ...], np.ndarray], ...], ...]
    patterns: tuple[tuple[tuple[int, ...], np.ndarray], ...]
    population: float
    sweeps: int

    def model(self) -> None:
        """The NumPyro model: samples the effects and records the joint as ``p``."""
        import jax
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        from populace.models.projection import ipf_jax

        ndim = len(self.shape)
        eta = jnp.zeros(self.shape)
        kinds = {t.kind for t in self.terms}
        sigma_main = numpyro.sample("sigma_main", dist.HalfNormal(MAIN_SCALE)) if MAIN in kinds else None
        orders = sorted({len(t.axes) for t in self.terms if t.kind != MAIN and t.kind != GEOGRAPHY})
        tau = {k: numpyro.sample(f"tau_{k}", dist.HalfNormal(INTERACTION_SCALE / (k - 1))) for k in orders}
        tau_geo = numpyro.sample("tau_geo", dist.HalfNormal(GEOGRAPHY_SCALE)) if GEOGRAPHY in kinds else None
        for term, name in zip(self.terms, self.term_names):
            shape = tuple(self.shape[a] for a in term.axes)
            z = numpyro.sample(f"z[{name}]", dist.Normal(0.0, 1.0).expand(shape).to_event(len(shape)))
            for i, a in enumerate(term.axes):
                if self.ordered[a]:
                    z = jnp.cumsum(z, axis=i) / np.sqrt(shape[i])
            for i in range(len(shape)):
                z = z - z.mean(axis=i, keepdims=True)
            if term.kind == MAIN:
                scale = sigma_main
            else:
                lam = numpyro.sample(f"lam[{name}]", dist.HalfNormal(1.0))
                scale = (tau_geo if term.kind == GEOGRAPHY else tau[len(term.axes)]) * lam
            full = [1] * ndim
            for a, n in zip(term.axes, shape):
                full[a] = n
            eta = eta + (scale * z).reshape(full)
        support = jnp.asarray(self.support)
        eta = jnp.where(support, eta, -jnp.inf)
        p = jax.nn.softmax(eta.reshape(-1)).reshape(self.shape)
        targets = [(axes, jnp.asarray(target)) for axes, target in self.exact]
        for i, (axes, counts, se) in enumerate(self.se_tables):
            # Latent true counts of a table with standard errors: flat prior plus the
            # Gaussian measurement gives M ~ Normal(count, se); the joint then meets M
            # exactly (after M is made consistent with the exact tables).
            eps = numpyro.sample(f"eps[{i}]", dist.Normal(0.0, 1.0).expand(counts.shape).to_event(counts.ndim))
            latent = jnp.maximum(counts + se * eps, LATENT_FLOOR * se)
            share = latent / latent.sum()
            share = ipf_jax(share, [(sub, jnp.asarray(t)) for sub, t in self.se_constraints[i]], self.sweeps)
            targets.append((axes, share))
        p = ipf_jax(p, targets, self.sweeps)
        p = p / p.sum()
        numpyro.deterministic("p", p)
        loglik = 0.0
        for axes, counts in self.patterns:
            m = _margin(p, axes)
            positive = counts > 0
            loglik = loglik + jnp.sum(jnp.where(positive, counts * jnp.log(jnp.where(positive, m, 1.0)), 0.0))
        if self.patterns:
            numpyro.factor("microdata", loglik)


def _margin(p, axes: tuple[int, ...]):  # noqa: ANN001, ANN202 - jax arrays
    drop = tuple(a for a in range(p.ndim) if a not in axes)
    return p.sum(axis=drop)


def build_loglinear(inputs: Inputs, seed: int = 0) -> LoglinearModel:
    """Turn checked inputs into a :class:`LoglinearModel`.

    Parameters
    ----------
    inputs
        Output of :func:`populace.data.load_inputs`.
    seed
        Seed for the random starts that size the projection.

    Returns
    -------
    LoglinearModel
    """
    spec = inputs.spec
    exact = tuple((t.axes, t.counts / t.total) for t in inputs.exact_tables)
    se_tables = tuple((t.axes, t.counts, t.se) for t in inputs.se_tables)
    constraints = tuple(_exact_submargins(axes, exact) for axes, _, _ in se_tables)
    terms = model_terms(spec, [axes for axes, _ in exact] + [axes for axes, _, _ in se_tables])
    targets = list(exact)
    for (axes, counts, _), sub in zip(se_tables, constraints):
        start = np.maximum(counts, 1e-12)
        share, _ = ipf_numpy(start / start.sum(), sub, MAX_SWEEPS) if sub else (start / start.sum(), 0.0)
        targets.append((axes, share))
    sample = inputs.sample
    return LoglinearModel(
        shape=spec.shape,
        support=inputs.support,
        terms=terms,
        term_names=tuple(t.name(spec) for t in terms),
        ordered=tuple(a.ordered for a in spec.attributes),
        exact=exact,
        se_tables=se_tables,
        se_constraints=constraints,
        patterns=sample.patterns if sample is not None else (),
        population=inputs.population,
        sweeps=sweeps_needed(inputs.support, targets, seed=seed),
    )


def _exact_submargins(
    axes: tuple[int, ...], exact: tuple[tuple[tuple[int, ...], np.ndarray], ...]
) -> tuple[tuple[tuple[int, ...], np.ndarray], ...]:
    """Margins of the exact tables over the attributes they share with a table on ``axes``.

    Returned axes are positions within ``axes``, ready for an IPF on that table alone.
    """
    out = []
    for e_axes, target in exact:
        shared = tuple(a for a in axes if a in e_axes)
        if not shared:
            continue
        drop = tuple(i for i, a in enumerate(e_axes) if a not in shared)
        out.append((tuple(axes.index(a) for a in shared), target.sum(axis=drop)))
    return tuple(out)
