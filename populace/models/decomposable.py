"""A decomposable log-linear model on a junction tree, as a NumPyro model (issue 14; not yet a kind).

Each free term (a main effect or an interaction, as in :mod:`populace.models.loglinear`)
lives in the top clique holding its attributes; a child clique keeps only terms with an
attribute outside its separator (terms inside the separator cancel in its conditional).
Terms inside a published table get no parameter: the projection sets them. The clique
tables come from :func:`populace.models.cliques.clique_tables` (every table met), the
sample's likelihood from :func:`populace.models.belief.log_evidence` (missing and coarse
answers summed out). The posterior keeps one site per clique, ``p_<i>``, over the
clique's attributes, instead of ``p`` over a grid too large to hold.

Priors follow the ``loglinear`` kind: main effects ``sigma_main * z``; pairs ``tau_2 *
lam_term * z`` (global-local); higher orders ``lam_term * z`` with ``lam_term ~
HalfNormal(1 / (k - 1))``; every term centred along its axes (:func:`term_basis`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np

from populace.models.cliques import Target, assign_tables
from populace.models.junction import JunctionTree
from populace.models.loglinear import INTERACTION_SCALE, MAIN_SCALE, term_basis


def clique_terms(
    tree: JunctionTree, table_axes: Sequence[Sequence[int]], order: int
) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Per clique, the free terms (attribute indices, increasing) it carries.

    Examples
    --------
    >>> tree = JunctionTree(shape=(2, 3, 2), cliques=((0, 1), (1, 2)), parent=(-1, 0))
    >>> clique_terms(tree, [(0,), (1,), (2,)], order=2)
    (((0, 1),), ((1, 2),))
    """
    covered = [frozenset(a) for a in table_axes]
    out = []
    for clique, sep in zip(tree.cliques, tree.separators):
        terms = []
        for k in range(1, min(order, len(clique)) + 1):
            for axes in itertools.combinations(clique, k):
                if set(axes) <= set(sep) or any(set(axes) <= c for c in covered):
                    continue
                terms.append(axes)
        out.append(tuple(terms))
    return tuple(out)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DecomposableModel:
    """Everything the NumPyro model needs, as NumPy arrays; call :meth:`model` to sample."""

    names: tuple[str, ...]
    shape: tuple[int, ...]
    ordered: tuple[bool, ...]
    tree: JunctionTree
    assigned: tuple[tuple[Target, ...], ...]
    terms: tuple[tuple[tuple[int, ...], ...], ...]
    evidence: tuple[np.ndarray, ...] = ()
    weights: np.ndarray | None = None

    @property
    def recorded(self) -> dict[str, tuple[str, ...]]:
        """One site per clique, ``p_<i>``, over the clique's attribute names."""
        return {f"p_{i}": tuple(self.names[a] for a in c) for i, c in enumerate(self.tree.cliques)}

    @property
    def n_effects(self) -> int:
        """Standard-normal coordinates of every term."""
        return sum(int(np.prod([self.shape[a] - 1 for a in t])) for terms in self.terms for t in terms)

    def describe(self) -> str:
        """Cliques, free terms and the largest clique."""
        n_terms = sum(len(t) for t in self.terms)
        return f"{self.tree.describe(self.names)}; {n_terms} free terms"

    def model(self) -> None:
        """The NumPyro model: effects, clique tables meeting the tables, the sample's likelihood."""
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        from populace.models.belief import log_evidence
        from populace.models.cliques import clique_tables

        flat = [t for terms in self.terms for t in terms]
        orders = {len(t) for t in flat}
        sigma_main = numpyro.sample("sigma_main", dist.HalfNormal(MAIN_SCALE)) if 1 in orders else 1.0
        tau_2 = numpyro.sample("tau_2", dist.HalfNormal(INTERACTION_SCALE)) if 2 in orders else 1.0
        n_local = sum(len(t) > 1 for t in flat)
        lam = numpyro.sample("lam", dist.HalfNormal(1.0).expand([n_local]).to_event(1)) if n_local else None
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([self.n_effects]).to_event(1)) if flat else None
        log_weights, start, j = [], 0, 0
        for clique, terms in zip(self.tree.cliques, self.terms):
            lw = jnp.zeros([self.shape[a] for a in clique])
            for axes in terms:
                basis = term_basis(tuple(self.shape[a] for a in axes), tuple(self.ordered[a] for a in axes))
                n = basis.shape[0]
                if len(axes) == 1:
                    scale = sigma_main
                else:
                    scale = (tau_2 if len(axes) == 2 else INTERACTION_SCALE / (len(axes) - 1)) * lam[j]
                    j += 1
                effect = jnp.tensordot(scale * z[start : start + n], jnp.asarray(basis), axes=1)
                start += n
                lw = lw + effect.reshape([self.shape[a] if a in axes else 1 for a in clique])
            log_weights.append(lw)
        tables = clique_tables(self.tree, log_weights, self.assigned)
        for i, table in enumerate(tables):
            numpyro.deterministic(f"p_{i}", table)
        if self.evidence:
            loglik = jnp.sum(jnp.asarray(self.weights) * log_evidence(self.tree, tables, self.evidence))
            numpyro.factor("microdata", loglik)


def build_decomposable(
    names: Sequence[str],
    shape: Sequence[int],
    tree: JunctionTree,
    tables: Sequence[Target],
    *,
    ordered: Sequence[bool] | None = None,
    order: int = 2,
    evidence: Sequence[np.ndarray] = (),
    weights: np.ndarray | None = None,
) -> DecomposableModel:
    """A :class:`DecomposableModel` from a tree, exact tables (shares) and the sample's evidence.

    Parameters
    ----------
    names, shape
        Attribute names and levels.
    tree
        The junction tree (:func:`populace.models.junction.choose_graph`).
    tables
        ``(axes, shares)`` of every exact table.
    ordered
        Which attributes are ordered (random-walk effects); default none.
    order
        Highest interaction order within a clique.
    evidence, weights
        :func:`populace.models.belief.row_evidence`'s output; empty for no sample.
    """
    shape = tuple(int(s) for s in shape)
    return DecomposableModel(
        names=tuple(names),
        shape=shape,
        ordered=tuple(ordered) if ordered is not None else (False,) * len(shape),
        tree=tree,
        assigned=assign_tables(tree, tables),
        terms=clique_terms(tree, [axes for axes, _ in tables], order),
        evidence=tuple(np.asarray(e, dtype=float) for e in evidence),
        weights=None if weights is None else np.asarray(weights, dtype=float),
    )
