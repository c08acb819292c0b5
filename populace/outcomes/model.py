"""A Bayesian multilevel multinomial-logit model of an outcome given attributes.

``logit P(y = k | x) - logit P(y = 0 | x) = alpha_k + sum_j b_jk[x_j]``: each
attribute's level effects are partially pooled toward zero (MRP, Gelman and Little
1997), so sparse cells such as small states borrow strength. Weighted rows enter with
weights rescaled to Kish's effective sample size.

The effects of a predictor with ``L`` levels sum to zero: ``b_j = Q_L r_j`` with ``Q_L``
an orthonormal basis of the sum-zero vectors and ``r_j ~ Normal(0, sigma_j)`` (centred),
``sigma_j ~ HalfNormal(1)``. Free effects trade off against ``alpha`` along directions
only the prior pins, and with tens of thousands of rows the non-centred form
(``b = sigma z``) is a funnel: on the 2016 CCES (59,000 rows, five predictors) NUTS hit
its 1,023-step limit on every draw that way, and takes 22 steps this way.

Published shares by group (poll averages, :class:`~populace.outcomes.spec.Evidence`)
can enter as ``share ~ Normal(true share + bias, se^2 + error^2)``, the true share
post-stratified from the cell probabilities over the joint's posterior mean, with one
``bias`` per source shared by its rows (polls miss together) and each row's own
``error`` (fixed). The survey's rows may lean away from the truth (its house effect),
nationally and by the evidence's groups (pooled); the published shares, not the survey,
then set each group's level, and the survey the differences within it. Pooled toward
zero, a group's lean is shrunk, so a survey whose groups differ less than the truth (an
opt-in panel short of partisans where they are many) pulls the groups toward each other;
with a group-level predictor (``lean``, last election's log odds by state) the leans are
pooled toward ``kappa * x_g`` instead, ``kappa`` learned: on the 2016 case (Pathfinder
joint, 2x300) the survey's leans fell along 2012's log odds (``kappa`` -0.09 +- 0.02 per
sd), and the state forecasts' spread against the results went from 1.24 to 1.17 (the
polls' own: 1.14), state MAE 2.94 to 2.76.

Errors that every source and the survey share cannot be learned from them, so they are
not sampled by NUTS: they are drawn from their priors afterwards and move every cell's
log odds along the evidence's contrast by ``LOGIT_SLOPE`` times the share error (a share
near one half then moves by that error). ``common`` is one error of every group
(``delta ~ Normal(0, sd)``: all polls miss together); ``correlated`` grows with a group's
composition (``gamma * (c_g - c)``, ``c_g`` the group's population share of some
attribute levels, ``c`` the population's, ``gamma ~ Normal(0, sd)``), so the whole
population's share barely moves while groups far from its composition widen. Inside the
sampler an earlier version learned ``gamma`` from the small differences between the
survey's and the polls' terms (0.86 +- 0.13 against a prior sd of 0.21 on the 2016 case,
tilting that forecast; BENCHMARKS.md): drawn from the prior, it cannot be.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from populace.outcomes.spec import EvidenceData, OutcomeData
from populace.progress import bars

# Prior scale of the baseline log odds (Gelman et al. 2008 recommend 2.5 for logits).
INTERCEPT_SCALE = 2.5
EFFECT_SCALE = 1.0
# Prior sd of the survey's house effect on the evidence's log odds when published shares
# are given: wide (a log odds ratio of 1 is about 25 points of a two-party share), so the
# published shares, not the prior, set it.
HOUSE_SCALE = 1.0
# Prior scale of how much that house effect varies between the evidence's groups (states).
HOUSE_GROUP_SCALE = 0.5
# A correlated error on shares enters the survey's log odds times the logit's slope at a
# share of one half (d log odds = d share / (s (1 - s)) = 4 d share).
LOGIT_SLOPE = 4.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutcomeDraws:
    """Posterior draws of the outcome model: ``alpha`` (S, K-1) and one (S, L_j, K-1) per predictor."""

    predictors: tuple[str, ...]
    alpha: np.ndarray
    effects: tuple[np.ndarray, ...]
    # Per predictor fitted on coarse sets: the set of each of its levels (see OutcomeData).
    level_maps: tuple[np.ndarray | None, ...] = ()
    # Draws of each evidence source's shared error (S, sources), when there were any.
    evidence_bias: np.ndarray | None = None
    evidence_names: tuple[str, ...] = ()
    # Draws of the survey's house effect relative to the published shares, and of its
    # slope along the lean predictor (per standard deviation of it), when there was one.
    house_effect: np.ndarray | None = None
    house_slope: np.ndarray | None = None
    # Draws of the errors every source shares, from their priors (S,): the common error
    # and the correlated error's slope gamma, when the spec has them.
    common_error: np.ndarray | None = None
    correlated_error: np.ndarray | None = None
    # Each group's population share of the correlated error's levels minus the whole
    # population's, (L_1, ..., L_m) with size 1 on axes that are not the evidence's groups,
    # and the outcome levels' contrast the shared errors move (K,).
    composition: np.ndarray | None = None
    shift_contrast: np.ndarray | None = None
    # How the sampler did: largest R-hat and smallest effective sample size over every
    # sampled parameter, divergences, and the sampler's settings and time.
    diagnostics: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Number of draws."""
        return int(self.alpha.shape[0])

    def with_shared_errors(self, *, common: bool = True, correlated: bool = True) -> OutcomeDraws:
        """The same draws with only some of the errors every source shares (to see what each adds).

        Parameters
        ----------
        common, correlated
            Keep the common error, the correlated error.

        Returns
        -------
        OutcomeDraws
            A copy; the fitted draws are unchanged, since these errors are not learned.
        """
        return dataclasses.replace(
            self,
            common_error=self.common_error if common else None,
            correlated_error=self.correlated_error if correlated else None,
        )

    @property
    def shared_shift(self) -> np.ndarray | None:
        """The shared errors per draw and group on the share scale, ``(S, L_1, ..., L_m)`` (``None``: none)."""
        if self.common_error is None and self.correlated_error is None:
            return None
        ndim = len(self.effects)
        shift = np.zeros((self.n_samples,) + (1,) * ndim)
        if self.common_error is not None:
            shift = shift + self.common_error.reshape(shift.shape)
        if self.correlated_error is not None:
            shift = shift + self.correlated_error.reshape(shift.shape) * self.composition
        return shift

    def probabilities(self, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        """P(outcome | predictor cell) for the selected draws: (S, L_1, ..., L_m, K)."""
        alpha = self.alpha[index]
        m = len(self.effects)
        eta = alpha.reshape(alpha.shape[0], *([1] * m), alpha.shape[1])
        for j, b in enumerate(self.effects):
            shape = [b[index].shape[0]] + [1] * m + [b.shape[-1]]
            shape[1 + j] = b.shape[1]
            eta = eta + b[index].reshape(shape)
        eta = np.concatenate([np.zeros(eta.shape[:-1] + (1,)), eta], axis=-1)
        shift = self.shared_shift
        if shift is not None:
            eta = eta + LOGIT_SLOPE * shift[index][..., None] * self.shift_contrast
        eta = eta - eta.max(axis=-1, keepdims=True)
        prob = np.exp(eta)
        return prob / prob.sum(axis=-1, keepdims=True)

    def level_probabilities(self, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        """:meth:`probabilities` over every predictor's levels (a set's probability copied to each of its levels)."""
        prob = self.probabilities(index)
        for j, owner in enumerate(self.level_maps):
            if owner is not None:
                prob = np.take(prob, owner, axis=1 + j)
        return prob


def fit_outcome(
    data: OutcomeData,
    n_levels: int,
    shape: tuple[int, ...],
    *,
    draws: int,
    chains: int,
    seed: int,
    progress: bool,
    evidence: tuple[EvidenceData, ...] = (),
    joint: np.ndarray | None = None,
    correlated: tuple[int, tuple[int, ...], float] | None = None,
    common: float = 0.0,
    lean: np.ndarray | None = None,
) -> OutcomeDraws:
    """Fit the outcome model with NUTS.

    Parameters
    ----------
    data
        Checked outcome data.
    n_levels
        Number of outcome levels.
    shape
        Number of levels of each predictor.
    draws, chains, seed, progress
        Sampler settings.
    evidence
        Published shares by group (poll averages), one entry per source. Their groups
        must be predictors.
    joint
        With ``evidence``: the population's shares over every predictor's levels (in
        predictor order), which turn cell probabilities into the groups' shares. The
        posterior mean of the joint is used, so the evidence term ignores the joint's own
        uncertainty (the forecast still carries it, draw by draw).
    correlated
        With ``evidence``: ``(predictor position, levels, sd)`` of the error that every
        source and the survey share, by the groups' population share of those levels
        (:class:`~populace.outcomes.spec.CorrelatedError`), drawn from its prior.
    common
        With ``evidence``: the sd of the error every source and the survey share in every
        group, drawn from its prior (0: none).
    lean
        With ``evidence``: a standardised group-level predictor, one value per group of
        the evidence (raveled over the group predictors in predictor order), toward
        ``kappa`` times which the survey's house effect by group is pooled.
    """
    from populace.inference.backend import setup_jax

    setup_jax(chains)
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    # aggregate identical rows: the likelihood only needs weighted counts per (cell, outcome)
    keys = np.column_stack([data.codes, data.outcome])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=data.weights)
    codes, outcome = jnp.asarray(unique[:, :-1]), jnp.asarray(unique[:, -1])
    k = n_levels - 1
    maps = data.level_maps or (None,) * len(shape)
    if evidence:
        polls = [_evidence_terms(data, source, joint, maps, n_levels) for source in evidence]
        # the survey's house effect varies by every group any source gives
        group_axes = evidence_group_axes(data.predictors, evidence)
        unique_group = (
            np.ravel_multi_index(tuple(unique[:, j] for j in group_axes), [shape[j] for j in group_axes])
            if group_axes
            else np.zeros(len(unique), dtype=int)
        )
        n_groups = int(np.prod([shape[j] for j in group_axes]))
        if lean is not None and np.shape(lean) != (n_groups,):
            raise ValueError(f"the lean predictor has {np.size(lean)} values for {n_groups} groups")
        contrast = jnp.asarray(polls[0]["contrast"])

    def model() -> None:
        alpha = numpyro.sample("alpha", dist.Normal(0.0, INTERCEPT_SCALE).expand([k]).to_event(1))
        eta = jnp.broadcast_to(alpha, (codes.shape[0], k))
        effects = []
        for j, levels in enumerate(shape):
            sigma = numpyro.sample(f"sigma_{j}", dist.HalfNormal(EFFECT_SCALE).expand([k]).to_event(1))
            raw = numpyro.sample(f"raw_{j}", dist.Normal(0.0, sigma).expand([levels - 1, k]).to_event(2))
            b = numpyro.deterministic(f"b_{j}", jnp.asarray(_sum_zero_basis(levels)) @ raw)
            effects.append(b)
            eta = eta + b[codes[:, j]]
        full = jnp.concatenate([jnp.zeros((eta.shape[0], 1)), eta], axis=1)
        if evidence:
            # The survey's house effect: its rows may lean to the evidence's levels more or
            # less than the population does; the published shares set the level, the
            # survey the differences between groups.
            house = numpyro.sample("survey_house_effect", dist.Normal(0.0, HOUSE_SCALE))
            # ... and by group, pooled: where a group's published share is precise, it
            # sets that group's level too. Centred: with many rows per group the data pin
            # each one (on the 2016 case, 4 chains x 100 draws took 483 s centred, 739 s not).
            spread = numpyro.sample("survey_house_spread", dist.HalfNormal(HOUSE_GROUP_SCALE))
            centre = 0.0
            if lean is not None:
                slope = numpyro.sample("survey_house_slope", dist.Normal(0.0, HOUSE_GROUP_SCALE))
                centre = slope * jnp.asarray(lean)
            group = numpyro.sample("survey_house_group", dist.Normal(centre, spread).expand([n_groups]).to_event(1))
            row_lean = house + group[jnp.asarray(unique_group)]
            full = full + row_lean[:, None] * contrast
        logp = jax.nn.log_softmax(full, axis=1)
        numpyro.factor("data", jnp.sum(jnp.asarray(counts) * logp[jnp.arange(logp.shape[0]), outcome]))
        if not evidence:
            return
        # The groups' true shares, from the cell probabilities over the population's cells.
        fine = polls[0]["fine"]
        grid = jnp.broadcast_to(alpha, (*fine, k))
        for j, b in enumerate(effects):
            b = b if maps[j] is None else b[jnp.asarray(maps[j])]
            grid = grid + b.reshape([fine[i] if i == j else 1 for i in range(len(fine))] + [k])
        prob = jax.nn.softmax(jnp.concatenate([jnp.zeros((*fine, 1)), grid], axis=-1), axis=-1)
        weight = jnp.asarray(polls[0]["joint"])
        num_all = weight * prob[..., list(evidence[0].numerator)].sum(-1)
        den_all = weight * prob[..., list(evidence[0].denominator)].sum(-1)
        scales = jnp.asarray([source.bias for source in evidence])
        bias = numpyro.sample("evidence_bias", dist.Normal(0.0, scales).to_event(1))
        for i, (source, poll) in enumerate(zip(evidence, polls, strict=True)):
            shares = num_all.sum(poll["drop"]) / den_all.sum(poll["drop"])
            true = jnp.broadcast_to(shares[poll["rows"]], source.share.shape)
            scale = jnp.sqrt(jnp.asarray(source.se) ** 2 + source.error**2)
            numpyro.sample(f"evidence_{i}", dist.Normal(true + bias[i], scale), obs=jnp.asarray(source.share))

    # Chains vectorised, not one per device: on the 2016 case (4 chains x 100 draws) one
    # device per chain grew to 11.5 GB of memory, vectorised chains stayed at 1.6 GB.
    mcmc = MCMC(
        NUTS(model),
        num_warmup=draws,
        num_samples=draws,
        num_chains=chains,
        chain_method="vectorized",
        progress_bar=bars(progress),
    )
    start = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed), extra_fields=("diverging",))
    elapsed = time.perf_counter() - start
    samples = mcmc.get_samples()
    n_draws = int(samples["alpha"].shape[0])
    diagnostics = sampler_diagnostics(mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields()["diverging"])
    diagnostics |= {"draws": draws, "chains": chains, "seed": seed, "fit_seconds": round(elapsed, 3)}
    shared: dict[str, np.ndarray | None] = {}
    if evidence and (common > 0 or correlated is not None):
        shared = _shared_errors(joint, group_axes, correlated, common, n_draws, seed)
        shared["shift_contrast"] = polls[0]["contrast"]
    return OutcomeDraws(
        predictors=data.predictors,
        alpha=np.asarray(samples["alpha"]),
        effects=tuple(np.asarray(samples[f"b_{j}"]) for j in range(len(shape))),
        level_maps=tuple(maps),
        evidence_bias=np.asarray(samples["evidence_bias"]) if evidence else None,
        evidence_names=tuple(source.name for source in evidence),
        house_effect=np.asarray(samples["survey_house_effect"]) if evidence else None,
        house_slope=np.asarray(samples["survey_house_slope"]) if evidence and lean is not None else None,
        diagnostics=diagnostics,
        **shared,
    )


def sampler_diagnostics(by_chain: dict, diverging: object) -> dict[str, float]:
    """Largest split R-hat, smallest effective sample size and divergences of a NumPyro run.

    ``by_chain`` maps each sampled site to draws shaped (chain, draw, ...); deterministic
    sites may be among them (they are checked too). R-hat is NaN with one chain.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = sampler_diagnostics({"a": rng.normal(size=(2, 500, 3))}, np.zeros(1000, dtype=bool))
    >>> d["r_hat"] < 1.01, d["ess"] > 500, d["divergences"]
    (True, True, 0)
    """
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    r_hat, ess = [], []
    for values in by_chain.values():
        values = np.asarray(values, dtype=float)
        if values.shape[1] < 4:
            continue
        ess.append(float(np.min(effective_sample_size(values))))
        if values.shape[0] > 1:
            r_hat.append(float(np.max(split_gelman_rubin(values))))
    return {
        "r_hat": max(r_hat) if r_hat else float("nan"),
        "ess": min(ess) if ess else float("nan"),
        "divergences": int(np.asarray(diverging).sum()),
    }


def evidence_group_axes(predictors: tuple[str, ...], evidence: tuple[EvidenceData, ...]) -> list[int]:
    """Positions among ``predictors`` of every group any evidence source gives, in predictor order.

    The survey's house effect varies over these groups, raveled in this order.
    """
    return sorted({predictors.index(g) for source in evidence for g in source.groups})


def _shared_errors(
    joint: np.ndarray,
    group_axes: list[int],
    correlated: tuple[int, tuple[int, ...], float] | None,
    common: float,
    n_draws: int,
    seed: int,
) -> dict[str, np.ndarray | None]:
    """Draw the errors every source shares from their priors, and each group's composition they tilt by."""
    rng = np.random.default_rng([seed, 2016])
    out: dict[str, np.ndarray | None] = {"common_error": None, "correlated_error": None, "composition": None}
    if common > 0:
        out["common_error"] = rng.normal(0.0, common, n_draws)
    if correlated is not None:
        out["correlated_error"] = rng.normal(0.0, correlated[2], n_draws)
        out["composition"] = _composition(joint, correlated, group_axes)
    return out


def _composition(
    joint: np.ndarray, correlated: tuple[int, tuple[int, ...], float], group_axes: list[int]
) -> np.ndarray:
    """Each group's population share of the correlated error's levels, minus the population's.

    Over the joint's axes, with size 1 on those that are not ``group_axes``.
    """
    axis, members, _ = correlated
    inside = np.zeros(joint.shape[axis])
    inside[list(members)] = 1.0
    part = joint * inside.reshape([-1 if i == axis else 1 for i in range(joint.ndim)])
    others = tuple(i for i in range(joint.ndim) if i not in group_axes)
    return part.sum(others, keepdims=True) / joint.sum(others, keepdims=True) - part.sum() / joint.sum()


def _sum_zero_basis(levels: int) -> np.ndarray:
    """An orthonormal basis of the vectors over ``levels`` that sum to zero, ``(levels, levels - 1)``."""
    q, _ = np.linalg.qr(np.eye(levels) - 1.0 / levels)
    return q[:, : levels - 1]


def _evidence_terms(
    data: OutcomeData, evidence: EvidenceData, joint: np.ndarray | None, maps: tuple, n_levels: int
) -> dict:
    """Arrays the evidence term needs: the joint over the predictors' levels, axes to sum, row indices."""
    if joint is None:
        raise ValueError("evidence needs the joint over the predictors' levels")
    missing = [g for g in evidence.groups if g not in data.predictors]
    if missing:
        raise ValueError(f"evidence groups {missing} must be predictors of the outcome model")
    fine = tuple(joint.shape)
    keep = [data.predictors.index(g) for g in evidence.groups]
    drop = tuple(i for i in range(len(fine)) if i not in keep)
    # rows index the kept axes in predictor order
    rows = tuple(evidence.codes[:, list(evidence.groups).index(data.predictors[a])] for a in sorted(keep))
    contrast = np.zeros(n_levels)
    contrast[list(evidence.numerator)] = 0.5
    contrast[[k for k in evidence.denominator if k not in evidence.numerator]] = -0.5
    bad = [g for g in evidence.groups if maps[data.predictors.index(g)] is not None]
    if bad:
        raise ValueError(f"evidence groups {bad} must be predictors given by their levels, not coarse sets")
    return {"fine": fine, "joint": joint, "drop": drop, "rows": rows, "contrast": contrast}
