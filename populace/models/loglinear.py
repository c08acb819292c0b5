"""The hierarchical log-linear model over the cell grid, as a NumPyro model.

``p = project(softmax(eta))`` where ``eta`` sums the free main effects and interactions
(:mod:`populace.models.terms`), structural zeros are ``-inf``, and ``project`` meets the
exact tables (:mod:`populace.models.projection`). Tables with standard errors enter as
Gaussian observations of ``population * margin(p)``; microdata as a weighted categorical
likelihood on the margin of the attributes each person reports.

Priors (all effects non-centred, so NUTS sees unit-scale coordinates):

- main effects: ``sigma_main * z``, ``sigma_main ~ HalfNormal(MAIN_SCALE)``;
- pairwise interactions: ``tau_2 * lam_term * z`` with a global ``tau_2`` and a local
  ``lam_term``, both half-normal: a global-local shrinkage prior that pools the terms;
- interactions of order k > 2: ``lam_term * z`` with ``lam_term ~ HalfNormal(1 / (k - 1))``,
  shrunk harder than pairs;
- area-varying pair effects (geography): the same with their own global scale, so areas
  are shrunk toward the national interaction;
- ordered attributes: the standard normal ``z`` is cumulated along the ordered axis
  (a first-order random walk), so neighbouring levels get similar effects;
- every effect is centred along each of its axes, so an interaction carries no main
  effect and the terms do not compete; a term of ``L_1 x ... x L_k`` cells has
  ``(L_1 - 1) ... (L_k - 1)`` standard normals (:func:`term_basis`), one per direction the
  centring keeps. One per cell, as before, gave the same prior but left directions that
  only the prior saw, correlated with those the data see: on the 9-region benchmark NUTS
  took 127 leapfrog steps per draw that way and 63 this way.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from populace.data.inputs import Inputs, coarse_map
from populace.models.projection import MAX_SWEEPS, full_shape, max_gap
from populace.models.terms import GEOGRAPHY, INTERACTION, MAIN, Term, model_terms

# Prior scale of main effects (log-share differences between levels); 2 allows levels
# whose shares differ by e^4 ~ 50x without fighting the prior.
MAIN_SCALE = 2.0
# Scale of k-way interactions: HalfNormal(INTERACTION_SCALE) for pairs, then / (k - 1). Log odds
# ratios of real demographic tables are mostly within +-2 (Agresti 2013, ch. 9 examples).
INTERACTION_SCALE = 1.0
# Smallest latent count of a table with standard errors, as a fraction of its se: keeps
# every latent share positive so the projection stays defined.
LATENT_FLOOR = 1e-3
# Largest dense design matrix (cells x effects entries) before eta is built term by
# term instead. With the implicit-gradient projection, one gradient took the same time
# either way at 512 cells x 612 effects, and term by term was faster at 1,000 x 835
# (193 vs 281 us) and 3,264 x 3,042 (6x).
DESIGN_LIMIT = 300_000
# IPF sweeps, differentiated by unrolling, of a cheaper projection on which the microdata
# likelihood may be taken (0: the projection run to PROJECTION_TOL, the default; the
# recorded joint is projected to tolerance either way). Five made a warm-up step on the
# 9-region benchmark 2.1 ms instead of 5.7 ms and missed the tables by at most 5.5e-4
# there, but on the cps1988 example, whose weighted sample's margins disagree with its
# tables, posterior draws reached a miss of 1.5 pp: the likelihood can pull the sampler
# toward effects where a few sweeps leave the margins free to follow the sample. So it
# stays an option (``dataclasses.replace(model, unrolled_sweeps=5)``); its largest miss
# per draw is recorded (``projection_gap``) and ``check`` fails beyond 0.2 pp.
UNROLLED_SWEEPS = 0
# Global scale of area-varying deviations from the national interactions.
GEOGRAPHY_SCALE = 0.5
# Prior scale of the plausibility weight: HalfNormal(1) puts a weight of 1 (take the
# scorer's log odds ratios at face value) within one prior sd, and allows 0 (ignore it).
LLM_WEIGHT_SCALE = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoglinearModel:
    """Everything the NumPyro model needs, as NumPy arrays; call :meth:`model` to sample."""

    names: tuple[str, ...]
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
    # Rows reporting a coarse set on some axis: counts over levels then sets, and per grid
    # axis the map from levels to levels-then-sets (None where the attribute has no sets).
    coarse_patterns: tuple[tuple[tuple[int, ...], np.ndarray], ...] = ()
    coarse_maps: tuple[np.ndarray | None, ...] = ()
    sweeps: int
    unrolled_sweeps: int = 0
    effect_term: np.ndarray
    design: np.ndarray | None
    plausibility: tuple[tuple[tuple[int, ...], np.ndarray], ...] = ()
    plausibility_names: tuple[str, ...] = ()
    plausibility_weights: str = "single"

    @property
    def weight_names(self) -> tuple[str, ...]:
        """Names of the plausibility weights (``all`` when one weight serves every term)."""
        if not self.plausibility:
            return ()
        return ("all",) if self.plausibility_weights == "single" else self.plausibility_names

    @property
    def n_effects(self) -> int:
        """Number of standard-normal effect coordinates ``z``."""
        return int(self.effect_term.size)

    @property
    def local_scale_names(self) -> tuple[str, ...]:
        """Names of the terms with a local scale ``lam`` (every term but main effects)."""
        return tuple(n for t, n in zip(self.terms, self.term_names) if t.kind != MAIN)

    # ------------------------------------------------ the Model interface (models.base)
    @property
    def recorded(self) -> dict[str, tuple[str, ...]]:
        """The joint ``p`` over the attributes and the scale hyperparameters (sites absent from a draw are skipped)."""
        return {
            "p": self.names,
            "projection_gap": (),
            "sigma_main": (),
            "tau_2": (),
            "tau_geo": (),
            "lam": ("term",),
            "llm_weight": ("plausibility_term",),
        }

    def coords(self) -> dict[str, tuple[str, ...]]:
        """Labels of ``lam``'s terms and of the plausibility weights."""
        return {"term": self.local_scale_names, "plausibility_term": self.weight_names}

    def describe(self) -> str:
        """Cells, free terms and tables to meet."""
        return (
            f"{int(np.prod(self.shape)):,} cells, {len(self.terms)} free terms, "
            f"{len(self.exact) + len(self.se_tables)} tables to meet"
        )

    def fit_meta(self) -> dict[str, object]:
        """Projection sweeps, the free terms, the terms with local scales and the filter's weights."""
        return {
            "projection_max_sweeps": self.sweeps,
            "projection_unrolled_sweeps": self.unrolled_sweeps,
            "terms": list(self.term_names),
            "local_scale_terms": list(self.local_scale_names),
            "llm_weight_names": list(self.weight_names),
        }

    def model(self) -> None:
        """The NumPyro model: samples the effects and records the joint as ``p``."""
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        kinds = [t.kind for t in self.terms]
        sigma_main = numpyro.sample("sigma_main", dist.HalfNormal(MAIN_SCALE)) if MAIN in kinds else 1.0
        orders = {len(t.axes) for t in self.terms if t.kind == INTERACTION}
        # Pairwise terms share a sampled global scale; higher orders get a fixed, smaller
        # one (a sampled global scale of the three-way terms mixed slowly: R-hat 1.011).
        tau = {k: INTERACTION_SCALE / (k - 1) for k in orders}
        if 2 in orders:
            tau[2] = numpyro.sample("tau_2", dist.HalfNormal(INTERACTION_SCALE))
        tau_geo = numpyro.sample("tau_geo", dist.HalfNormal(GEOGRAPHY_SCALE)) if GEOGRAPHY in kinds else 1.0
        n_local = sum(k != MAIN for k in kinds)
        lam = numpyro.sample("lam", dist.HalfNormal(1.0).expand([n_local]).to_event(1)) if n_local else None
        scales, j = [], 0
        for term in self.terms:
            if term.kind == MAIN:
                scales.append(sigma_main)
                continue
            scales.append((tau_geo if term.kind == GEOGRAPHY else tau[len(term.axes)]) * lam[j])
            j += 1
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([self.n_effects]).to_event(1)) if self.terms else None
        effects = None
        if z is not None:
            effects = jnp.stack([jnp.asarray(x, dtype=z.dtype) for x in scales])[self.effect_term] * z
        weight = None
        if self.plausibility:
            # The LLM filter: eta += w * s with s <= 0 and a learned weight w >= 0.
            weight = numpyro.sample(
                "llm_weight", dist.HalfNormal(LLM_WEIGHT_SCALE).expand([len(self.weight_names)]).to_event(1)
            )
        # Latent true counts of a table with standard errors: flat prior plus the Gaussian
        # measurement gives M ~ Normal(count, se); the joint then meets M exactly.
        eps = tuple(
            numpyro.sample(f"eps[{i}]", dist.Normal(0.0, 1.0).expand(counts.shape).to_event(counts.ndim))
            for i, (_, counts, _) in enumerate(self.se_tables)
        )
        p, gap, loglik = self._joint(effects, weight, eps)
        numpyro.deterministic("p", p)
        if self.unrolled_sweeps:
            numpyro.deterministic("projection_gap", gap)
        if self.patterns or self.coarse_patterns:
            numpyro.factor("microdata", loglik)

    @functools.cached_property
    def _joint(self):  # noqa: ANN202 - a jitted function
        """:meth:`_joint_from`, compiled once.

        NumPyro's start-up runs the model eagerly, op by op: compiled one at a time, its
        hundreds of operations took 34 s on the 9-region benchmark.
        """
        import jax

        return jax.jit(self._joint_from)

    def _joint_from(self, effects, weight, eps):  # noqa: ANN001, ANN202 - jax arrays
        """The joint, how far the sampler's projection is from the tables, and the microdata log likelihood.

        The recorded joint is the projection run until every table is met within
        ``PROJECTION_TOL``; the likelihood is taken on it, or, with ``unrolled_sweeps``, on
        that many IPF sweeps differentiated by unrolling, whose largest miss of a table is
        ``gap`` (0 without them).
        """
        import jax
        import jax.numpy as jnp

        from populace.models.projection import project, project_unrolled

        eta = jnp.zeros(self.shape) if effects is None else linear_predictor(self, effects)
        for k, (axes, table) in enumerate(self.plausibility):
            w = weight[0] if self.plausibility_weights == "single" else weight[k]
            eta = eta + w * jnp.asarray(table).reshape(full_shape(self.shape, axes))
        eta = jnp.where(jnp.asarray(self.support), eta, -jnp.inf)
        targets = [(axes, jnp.asarray(target)) for axes, target in self.exact]
        for (axes, counts, se), e, constraints in zip(self.se_tables, eps, self.se_constraints):
            latent = jnp.maximum(counts + se * e, LATENT_FLOOR * se)
            share = project(jnp.log(latent), [(sub, jnp.asarray(t)) for sub, t in constraints], max_sweeps=self.sweeps)
            targets.append((axes, share))
        if self.unrolled_sweeps:
            fitted = project_unrolled(eta, targets, self.unrolled_sweeps)
            exact_targets = [(axes, jax.lax.stop_gradient(t)) for axes, t in targets]
            p = project(jax.lax.stop_gradient(eta), exact_targets, max_sweeps=self.sweeps)
            gap = max_gap(fitted, targets)
        else:
            fitted = p = project(eta, targets, max_sweeps=self.sweeps)
            gap = jnp.zeros(())
        loglik = jnp.zeros(())
        for axes, counts in self.patterns:
            loglik = loglik + _multinomial(_margin(fitted, axes), counts)
        for axes, counts in self.coarse_patterns:
            # A coarse answer stands for any level of its set: the likelihood sums over it.
            m = _margin(fitted, axes)
            for i, a in enumerate(axes):
                if self.coarse_maps[a] is not None:
                    m = jnp.moveaxis(jnp.tensordot(m, jnp.asarray(self.coarse_maps[a]), axes=([i], [0])), -1, i)
            loglik = loglik + _multinomial(m, counts)
        return p, gap, loglik


def term_basis(shape: tuple[int, ...], ordered: tuple[bool, ...]) -> np.ndarray:
    """Linear map from a term's standard normals to its effect, shape (n, *shape).

    Row ``i`` is the effect of the unit vector ``e_i``; the basis is the Kronecker product
    of :func:`axis_basis` over the term's axes, so ``n`` is the product of ``levels - 1``:
    one standard normal per free direction, none that the centring would discard.

    Examples
    --------
    >>> term_basis((3, 4), (False, True)).shape
    (6, 3, 4)
    """
    basis = np.ones((1, 1))
    for levels, is_ordered in zip(shape, ordered):
        basis = np.kron(basis, axis_basis(levels, is_ordered))
    return basis.reshape((basis.shape[0], *shape))


def _term_blocks(model: LoglinearModel) -> list[tuple[Term, np.ndarray]]:
    blocks = []
    for term in model.terms:
        shape = tuple(model.shape[a] for a in term.axes)
        blocks.append((term, term_basis(shape, tuple(model.ordered[a] for a in term.axes))))
    return blocks


def design_matrix(model: LoglinearModel) -> np.ndarray:
    """Dense map from all scaled effects to ``eta`` over the grid, shape (cells, n_effects)."""
    columns = []
    for term, basis in _term_blocks(model):
        n = basis.shape[0]
        full = np.broadcast_to(basis.reshape([n, *full_shape(model.shape, term.axes)]), (n, *model.shape))
        columns.append(full.reshape(n, -1))
    return np.concatenate(columns, axis=0).T


def axis_basis(levels: int, ordered: bool) -> np.ndarray:
    """One axis's map from ``levels - 1`` standard normals to centred effects, ``(levels - 1, levels)``.

    Unordered: orthonormal Helmert contrasts, so the effect of i.i.d. standard normals is
    i.i.d. normal effects centred across the levels. Ordered: row ``i`` is the centred step
    up at level ``i + 1`` scaled by ``1 / sqrt(levels)``, a first-order random walk.
    Either way every coordinate moves the effect: a centring that discarded some would
    leave directions that the likelihood never sees and that, correlated with those it
    does, slow NUTS (on the 9-region benchmark, the condition number of the
    diagonally preconditioned posterior fell from 5,091 to 1,862 without them).

    Examples
    --------
    >>> b = axis_basis(3, False)
    >>> np.allclose(b.sum(axis=1), 0), np.allclose(b @ b.T, np.eye(2))
    (True, True)
    >>> np.round(axis_basis(3, True) * np.sqrt(3), 3)
    array([[-0.667,  0.333,  0.333],
           [-0.333, -0.333,  0.667]])
    """
    if ordered:
        steps = np.triu(np.ones((levels, levels)))[1:] / np.sqrt(levels)
        return steps - steps.mean(axis=1, keepdims=True)
    rows = [np.r_[np.ones(k), -k, np.zeros(levels - k - 1)] / np.sqrt(k * (k + 1)) for k in range(1, levels)]
    return np.array(rows).reshape(levels - 1, levels)


def linear_predictor(model: LoglinearModel, effects):  # noqa: ANN001, ANN201 - jax arrays
    """``eta`` over the grid from the scaled effects (one matmul, or term by term when large).

    Term by term, each term's basis is applied one axis at a time (it is a Kronecker
    product of per-axis maps), so a term of ``n`` cells costs ``n * sum(levels)`` rather
    than ``n ** 2``: 50 x 6 x 5 cells took 92,000 multiplications instead of 2.25 million.
    """
    import jax.numpy as jnp

    if model.design is not None:
        return (jnp.asarray(model.design) @ effects).reshape(model.shape)
    eta = jnp.zeros(model.shape)
    start = 0
    for term in model.terms:
        dims = tuple(model.shape[a] - 1 for a in term.axes)
        n = int(np.prod(dims))
        effect = effects[start : start + n].reshape(dims)
        for i, a in enumerate(term.axes):
            basis = jnp.asarray(axis_basis(model.shape[a], model.ordered[a]))
            effect = jnp.moveaxis(jnp.tensordot(effect, basis, axes=([i], [0])), -1, i)
        eta = eta + effect.reshape(full_shape(model.shape, term.axes))
        start += n
    return eta


def _multinomial(m, counts: np.ndarray):  # noqa: ANN001, ANN202 - jax arrays
    """``sum(counts * log m)`` over the cells with positive counts."""
    import jax.numpy as jnp

    positive = counts > 0
    return jnp.sum(jnp.where(positive, counts * jnp.log(jnp.where(positive, m, 1.0)), 0.0))


def _margin(p, axes: tuple[int, ...]):  # noqa: ANN001, ANN202 - jax arrays
    drop = tuple(a for a in range(p.ndim) if a not in axes)
    return p.sum(axis=drop)


def build_loglinear(inputs: Inputs, plausibility: Sequence = (), weights: str = "single") -> LoglinearModel:
    """Turn checked inputs into a :class:`LoglinearModel`.

    Parameters
    ----------
    inputs
        Output of :func:`populace.data.load_inputs`.
    plausibility
        :class:`populace.llm_filter.assemble.PlausibilityTerm` objects (axes on the grid).
    weights
        ``single`` (one learned weight) or ``per-pair`` (one per term).

    Returns
    -------
    LoglinearModel
    """
    spec = inputs.spec
    exact = tuple((t.axes, t.counts / t.total) for t in inputs.exact_tables)
    se_tables = tuple((t.axes, t.counts, t.se) for t in inputs.se_tables)
    constraints = tuple(exact_submargins(axes, exact) for axes, _, _ in se_tables)
    terms = model_terms(spec, [axes for axes, _ in exact] + [axes for axes, _, _ in se_tables])
    sample = inputs.sample
    sizes = [int(np.prod([spec.shape[a] - 1 for a in t.axes])) for t in terms]
    effect_term = np.repeat(np.arange(len(terms)), sizes).astype(np.int64)
    model = LoglinearModel(
        names=spec.names,
        shape=spec.shape,
        support=inputs.support,
        terms=terms,
        term_names=tuple(t.name(spec) for t in terms),
        ordered=tuple(a.ordered for a in spec.attributes),
        exact=exact,
        se_tables=se_tables,
        se_constraints=constraints,
        patterns=sample.patterns if sample is not None else (),
        coarse_patterns=sample.coarse_patterns if sample is not None else (),
        coarse_maps=tuple(coarse_map(a) if a.coarse else None for a in spec.attributes),
        population=inputs.population,
        sweeps=MAX_SWEEPS,
        unrolled_sweeps=UNROLLED_SWEEPS,
        effect_term=effect_term,
        design=None,
        plausibility=tuple((t.axes, np.asarray(t.table, dtype=float)) for t in plausibility),
        plausibility_names=tuple(t.label for t in plausibility),
        plausibility_weights=weights,
    )
    if len(effect_term) == 0:
        from populace.errors import SpecError

        raise SpecError(
            f"{spec.name}: the exact tables fix every cell of the joint ({' x '.join(spec.names)}): "
            "there is nothing to infer (give a table with se, or add an attribute)"
        )
    if int(np.prod(spec.shape)) * len(effect_term) <= DESIGN_LIMIT:
        model = dataclasses.replace(model, design=design_matrix(model))
    return model


def build(inputs: Inputs, *, filter_terms: Sequence = (), filter_weights: str = "single") -> LoglinearModel:
    """The ``loglinear`` model kind (:mod:`populace.models.base`): :func:`build_loglinear`."""
    if inputs.spec.model.classes:
        from populace.errors import SpecError

        raise SpecError(f"{inputs.spec.name}: model.classes applies to the decomposable kind, not to loglinear")
    return build_loglinear(inputs, plausibility=filter_terms, weights=filter_weights)


def exact_submargins(
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
