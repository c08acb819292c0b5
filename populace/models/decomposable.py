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

A tree alone fixes every association across cliques (conditional independence given the
separator). With ``classes`` (:func:`populace.models.junction.with_latent_class`), a
latent class joins every clique and each attribute gets a class effect in the top clique
holding it: given the class the tree holds, summed over it attributes in different
cliques are associated. Class effects are ``tau_class * lam_term * z`` with their own
global scale ``tau_class ~ HalfNormal(CLASS_SCALE)``: as it shrinks, the classes become
alike and the model falls back to the tree. The published tables are over the attributes
only, so each clique's projection meets them summed over the class, in every draw.

A table with standard errors (an ``se`` column) is handled as in ``loglinear``: its true
counts are latent, ``M = count + se * eps`` with ``eps ~ Normal(0, 1)`` (non-centred),
made consistent with the exact tables' margins over its attributes, and then met by the
clique holding it like an exact table. The graph puts it inside a clique.

A rule (a structural zero over a few attributes) also lands inside a clique: the top
clique holding its attributes gets log weight ``-inf`` on the combinations it rules out,
so every draw's tables, margins and personas hold none of them.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from populace.models.cliques import Target, assign_tables, top_clique
from populace.models.junction import JunctionTree, with_latent_class
from populace.models.loglinear import INTERACTION_SCALE, LATENT_FLOOR, MAIN_SCALE, exact_submargins, term_basis

if TYPE_CHECKING:
    from populace.data.inputs import Inputs

# Name of the latent class attribute (the last axis of a model with classes).
CLASS = "class"
# Global scale of class effects (log-share differences between classes, per attribute
# level): HalfNormal(1) lets classes differ by a few times in an attribute's shares and
# allows them to be alike (the tree).
CLASS_SCALE = 1.0
# Latent classes of the kind when the spec does not say. On adult (13 attributes, 5%
# sample; benchmarks/many_attributes.py) 4 and 8 classes by the bootstrap had mean 3-way TVD
# 0.040 and 0.039 against 0.071 for the tree, but NUTS (the default method) on the class
# model took over an hour there, so classes are asked for (``model.classes``) with
# ``inference.method: bootstrap``, not given.
DEFAULT_CLASSES = 0


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
    # Index of the latent class axis (the last), or None for the tree alone.
    latent: int | None = None
    # Exact tables (axes, shares), and tables with standard errors (axes, counts, se) with
    # the exact tables' margins over their attributes; with the latter, the assignment of
    # tables to cliques is redone in the model from each draw's latent counts.
    exact: tuple[Target, ...] = ()
    se_tables: tuple[tuple[tuple[int, ...], np.ndarray, np.ndarray], ...] = ()
    se_constraints: tuple[tuple[Target, ...], ...] = ()
    # Per clique, True on the cells the rules rule out (None: no rule lands there).
    zeros: tuple[np.ndarray | None, ...] = ()

    @property
    def recorded(self) -> dict[str, tuple[str, ...]]:
        """One site per clique, ``p_<i>``, over the clique's attribute names."""
        sites = {f"p_{i}": tuple(self.names[a] for a in c) for i, c in enumerate(self.tree.cliques)}
        return {**sites, "sigma_main": (), "tau_2": (), "tau_class": ()}

    def coords(self) -> dict[str, tuple[str, ...]]:
        """Labels of the latent class (``class 1``, ...), when there is one."""
        if self.latent is None:
            return {}
        return {CLASS: tuple(f"class {k + 1}" for k in range(self.shape[self.latent]))}

    def fit_meta(self) -> dict[str, object]:
        """The junction tree (so a saved posterior can rebuild any margin), its free terms and the class."""
        return {
            "tree": self.tree.to_dict(),
            "tree_description": self.tree.describe(self.names),
            "latent": CLASS if self.latent is not None else None,
            "classes": int(self.shape[self.latent]) if self.latent is not None else 0,
            "terms": [[[self.names[a] for a in t] for t in terms] for terms in self.terms],
        }

    @property
    def cells(self) -> int:
        """Cells of all clique tables: what the model's arrays span (the grid's size does not matter)."""
        return int(sum(self.tree.clique_cells()))

    @property
    def n_effects(self) -> int:
        """Standard-normal coordinates of every term."""
        return sum(int(np.prod([self.shape[a] - 1 for a in t])) for terms in self.terms for t in terms)

    def describe(self) -> str:
        """Cliques, free terms and the largest clique."""
        n_terms = sum(len(t) for t in self.terms)
        return f"{self.tree.describe(self.names)}; {n_terms} free terms"

    def model(self, weights: Any = None) -> None:
        """The NumPyro model: effects, clique tables meeting the tables, the sample's likelihood.

        ``weights`` replaces the sample's row weights (a JAX array is traced, so one
        compiled density serves many reweightings: :mod:`populace.inference.bootstrap`).
        """
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        from populace.models.belief import log_evidence
        from populace.models.cliques import clique_tables

        flat = [t for terms in self.terms for t in terms]
        orders = {len(t) for t in flat if self.latent not in t}
        sigma_main = numpyro.sample("sigma_main", dist.HalfNormal(MAIN_SCALE)) if 1 in orders else 1.0
        tau_2 = numpyro.sample("tau_2", dist.HalfNormal(INTERACTION_SCALE)) if 2 in orders else 1.0
        has_class = any(self.latent in t and len(t) > 1 for t in flat)
        tau_class = numpyro.sample("tau_class", dist.HalfNormal(CLASS_SCALE)) if has_class else 1.0
        n_local = sum(len(t) > 1 for t in flat)
        lam = numpyro.sample("lam", dist.HalfNormal(1.0).expand([n_local]).to_event(1)) if n_local else None
        scales, j = [], 0
        for axes in flat:
            if len(axes) == 1:
                scales.append(sigma_main)
            elif self.latent in axes:
                scales.append(tau_class * lam[j])
                j += 1
            else:
                scales.append((tau_2 if len(axes) == 2 else INTERACTION_SCALE / (len(axes) - 1)) * lam[j])
                j += 1
        if flat:
            sizes = [int(np.prod([self.shape[a] - 1 for a in t])) for t in flat]
            scale = jnp.concatenate([jnp.full((n,), x) for x, n in zip(scales, sizes)])
            b = scale * numpyro.sample("z", dist.Normal(0.0, 1.0).expand([self.n_effects]).to_event(1))
        log_weights, start = [], 0
        for clique, terms in zip(self.tree.cliques, self.terms):
            lw = jnp.zeros([self.shape[a] for a in clique])
            for axes in terms:
                basis = term_basis(tuple(self.shape[a] for a in axes), tuple(self.ordered[a] for a in axes))
                n = basis.shape[0]
                effect = jnp.tensordot(b[start : start + n], jnp.asarray(basis), axes=1)
                start += n
                lw = lw + effect.reshape([self.shape[a] if a in axes else 1 for a in clique])
            log_weights.append(lw)
        for i, zero in enumerate(self.zeros):
            if zero is not None:
                log_weights[i] = jnp.where(jnp.asarray(zero), -jnp.inf, log_weights[i])
        assigned = self.assigned
        if self.se_tables:
            from populace.models.projection import project

            latent_tables = []
            for i, ((axes, counts, se), constraints) in enumerate(zip(self.se_tables, self.se_constraints)):
                eps = numpyro.sample(f"eps[{i}]", dist.Normal(0.0, 1.0).expand(counts.shape).to_event(counts.ndim))
                latent = jnp.maximum(counts + se * eps, LATENT_FLOOR * se)
                targets = [(sub, jnp.asarray(t)) for sub, t in constraints]
                latent_tables.append((axes, project(jnp.log(latent), targets)))
            assigned = assign_tables(self.tree, [*self.exact, *latent_tables])
        tables = clique_tables(self.tree, log_weights, assigned)
        for i, table in enumerate(tables):
            numpyro.deterministic(f"p_{i}", table)
        if self.evidence:
            row_weights = jnp.asarray(self.weights if weights is None else weights)
            loglik = jnp.sum(row_weights * log_evidence(self.tree, tables, self.evidence))
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
    classes: int = 0,
    se_tables: Sequence[tuple[tuple[int, ...], np.ndarray, np.ndarray]] = (),
    rules: Sequence[tuple[tuple[int, ...], np.ndarray]] = (),
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
        :func:`populace.models.belief.row_evidence`'s output over the attributes; empty
        for no sample.
    classes
        Levels of a latent class joining every clique (0: none, the tree alone).
    se_tables
        ``(axes, counts, se)`` of every table with standard errors (counts and se in
        persons, over ``axes`` in increasing order).
    rules
        ``(axes, zero)`` of every rule (:func:`populace.data.inputs.rule_zeros`); the
        tree must hold each rule's attributes in one clique.
    """
    shape = tuple(int(s) for s in shape)
    ordered = tuple(ordered) if ordered is not None else (False,) * len(shape)
    terms = clique_terms(tree, [axes for axes, _ in tables] + [axes for axes, _, _ in se_tables], order)
    latent = None
    evidence = tuple(np.asarray(e, dtype=float) for e in evidence)
    if classes:
        latent = len(shape)
        terms = _with_class_terms(tree, terms, latent)
        tree = with_latent_class(tree, classes)
        names, shape, ordered = (*names, CLASS), (*shape, int(classes)), (*ordered, False)
        if evidence:  # the class is never observed: every row allows every class
            evidence = (*evidence, np.ones((evidence[0].shape[0], int(classes))))
    zeros = _clique_zeros(tree, shape, rules)
    return DecomposableModel(
        names=tuple(names),
        shape=shape,
        ordered=ordered,
        tree=tree,
        assigned=assign_tables(tree, tables),
        terms=terms,
        evidence=evidence,
        weights=None if weights is None else np.asarray(weights, dtype=float),
        latent=latent,
        exact=tuple((tuple(axes), np.asarray(share, dtype=float)) for axes, share in tables),
        se_tables=tuple((tuple(a), np.asarray(c, dtype=float), np.asarray(e, dtype=float)) for a, c, e in se_tables),
        se_constraints=tuple(exact_submargins(tuple(a), tuple(tables)) for a, _, _ in se_tables),
        zeros=zeros,
    )


def _clique_zeros(
    tree: JunctionTree, shape: tuple[int, ...], rules: Sequence[tuple[tuple[int, ...], np.ndarray]]
) -> tuple[np.ndarray | None, ...]:
    """Per clique, the cells its rules rule out: each rule in the top clique holding its attributes.

    ``tree`` may carry the latent class (the last attribute of every clique): a rule
    holds in every class.
    """
    zeros: list[np.ndarray | None] = [None] * len(tree.cliques)
    for axes, zero in rules:
        top = top_clique(tree, axes)
        clique = tree.cliques[top]
        order = np.argsort([clique.index(a) for a in axes])  # the rule's attributes in the clique's order
        mask = np.transpose(np.asarray(zero, dtype=bool), order).reshape([shape[a] if a in axes else 1 for a in clique])
        full = np.broadcast_to(mask, [tree.shape[a] for a in clique])
        zeros[top] = full.copy() if zeros[top] is None else zeros[top] | full
    return tuple(zeros)


def _with_class_terms(
    tree: JunctionTree, terms: tuple[tuple[tuple[int, ...], ...], ...], latent: int
) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """``terms`` plus the class sizes in the root and each attribute's class effect in the top clique holding it."""
    first: dict[int, int] = {}
    for i, clique in enumerate(tree.cliques):
        for a in clique:
            first.setdefault(a, i)
    out = [list(t) for t in terms]
    out[0].append((latent,))
    for a, i in sorted(first.items()):
        out[i].append((a, latent))
    return tuple(tuple(t) for t in out)


def build(inputs: Inputs, *, filter_terms: Sequence = (), filter_weights: str = "single") -> DecomposableModel:
    """The ``decomposable`` model kind from checked inputs (``populace fit``'s builder).

    The graph: every published table inside a clique, the sample's Chow-Liu tree on top
    within :data:`populace.models.junction.MAX_CLIQUE_CELLS`
    (:func:`populace.models.junction.choose_graph`). The sample enters row by row
    (missing and coarse answers summed out), weighted to its effective size. Latent
    classes: the spec's ``model.classes``, else :data:`DEFAULT_CLASSES`; they need a sample
    (tables alone say nothing about what a class would add).

    Raises
    ------
    SpecError
        For what the kind does not support yet (the LLM filter), and for latent classes
        without a sample.
    """
    from populace.data.inputs import coarse_map, rule_zeros
    from populace.errors import SpecError
    from populace.models.belief import row_evidence
    from populace.models.junction import choose_graph

    spec = inputs.spec
    if filter_terms:
        raise SpecError(f"{spec.name}: the decomposable model kind does not take the LLM filter yet")
    shape = tuple(spec.shape)
    tables = [(t.axes, t.counts / t.total) for t in inputs.exact_tables]
    se_tables = [(t.axes, t.counts, t.se) for t in inputs.se_tables]
    evidence: list[np.ndarray] = []
    weights = codes = scaled = None
    sample = inputs.sample
    if sample is not None and sample.row_cells is not None and sample.row_weights is not None:
        scaled = sample.scaled_weights
        codes = np.where(sample.row_cells < np.asarray(shape), sample.row_cells, -1)  # coarse answers: missing here
        maps = [coarse_map(a) if a.coarse else None for a in spec.attributes]
        evidence, weights = row_evidence(sample.row_cells, scaled, shape, maps)
    rules = rule_zeros(spec)
    table_axes = [axes for axes, _ in tables] + [axes for axes, _, _ in se_tables] + [axes for axes, _ in rules]
    tree = choose_graph(shape, tables=table_axes, codes=codes, weights=scaled, names=spec.names)
    classes = DEFAULT_CLASSES if spec.model.classes is None else spec.model.classes
    if classes and not evidence:
        raise SpecError(f"{spec.name}: model.classes needs microdata: tables alone say nothing about latent classes")
    return build_decomposable(
        spec.names,
        shape,
        tree,
        tables,
        ordered=tuple(a.ordered for a in spec.attributes),
        order=spec.model.interactions,
        evidence=evidence,
        weights=weights,
        classes=classes,
        se_tables=se_tables,
        rules=rules,
    )
