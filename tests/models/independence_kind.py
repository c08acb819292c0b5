"""A toy model kind, built by following ARCHITECTURE.md's recipe: independence behind the model interface.

Each attribute's shares get a flat Dirichlet prior; the joint is their outer product,
projected onto the exact tables (so published tables are met as in every kind); the
sample enters as a weighted multinomial on the margin each person reports. Tables with
standard errors are ignored: it is a toy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from populace.data.inputs import Inputs


@dataclasses.dataclass(frozen=True)
class IndependenceModel:
    names: tuple[str, ...]
    shape: tuple[int, ...]
    exact: tuple[tuple[tuple[int, ...], np.ndarray], ...]
    patterns: tuple[tuple[tuple[int, ...], np.ndarray], ...]

    def model(self) -> None:
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        from populace.models.projection import full_shape, project

        log_p = jnp.zeros(self.shape)
        for a, (name, k) in enumerate(zip(self.names, self.shape)):
            share = numpyro.sample(f"share_{name}", dist.Dirichlet(jnp.ones(k)))
            log_p = log_p + jnp.log(share).reshape(full_shape(self.shape, (a,)))
        p = project(log_p, [(axes, jnp.asarray(t)) for axes, t in self.exact])
        numpyro.deterministic("p", p)
        for axes, counts in self.patterns:
            m = p.sum(axis=tuple(a for a in range(len(self.shape)) if a not in axes))
            numpyro.factor(f"sample_{'_'.join(map(str, axes))}", jnp.sum(counts * jnp.log(jnp.maximum(m, 1e-300))))

    @property
    def recorded(self) -> dict[str, tuple[str, ...]]:
        return {"p": self.names}

    def coords(self) -> dict[str, tuple[str, ...]]:
        return {}

    def describe(self) -> str:
        return f"{int(np.prod(self.shape)):,} cells, independence (toy)"

    def fit_meta(self) -> dict[str, object]:
        return {"toy": "independence"}


def build(inputs: Inputs, *, filter_terms=(), filter_weights: str = "single") -> IndependenceModel:  # noqa: ANN001
    exact = tuple((t.axes, t.counts / t.total) for t in inputs.exact_tables)
    patterns = inputs.sample.patterns if inputs.sample is not None else ()
    return IndependenceModel(inputs.spec.names, inputs.spec.shape, exact, patterns)
