"""A Bayesian multilevel multinomial-logit model of an outcome given attributes.

``logit P(y = k | x) - logit P(y = 0 | x) = alpha_k + sum_j b_jk[x_j]`` with
``b_jk = sigma_jk * z_jk``, ``z ~ Normal(0, 1)``, ``sigma_jk ~ HalfNormal(1)``: each
attribute's level effects are partially pooled toward zero (MRP, Gelman and Little
1997), so sparse cells such as small states borrow strength. Weighted rows enter with
weights rescaled to Kish's effective sample size.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from populace.outcomes.spec import OutcomeData

# Prior scale of the baseline log odds (Gelman et al. 2008 recommend 2.5 for logits).
INTERCEPT_SCALE = 2.5
EFFECT_SCALE = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutcomeDraws:
    """Posterior draws of the outcome model: ``alpha`` (S, K-1) and one (S, L_j, K-1) per predictor."""

    predictors: tuple[str, ...]
    alpha: np.ndarray
    effects: tuple[np.ndarray, ...]

    @property
    def n_samples(self) -> int:
        """Number of draws."""
        return int(self.alpha.shape[0])

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
        eta = eta - eta.max(axis=-1, keepdims=True)
        prob = np.exp(eta)
        return prob / prob.sum(axis=-1, keepdims=True)


def fit_outcome(
    data: OutcomeData, n_levels: int, shape: tuple[int, ...], *, draws: int, chains: int, seed: int, progress: bool
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
    """
    from populace.inference.backend import setup_jax

    devices = setup_jax(chains)
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

    def model() -> None:
        alpha = numpyro.sample("alpha", dist.Normal(0.0, INTERCEPT_SCALE).expand([k]).to_event(1))
        eta = jnp.broadcast_to(alpha, (codes.shape[0], k))
        for j, levels in enumerate(shape):
            sigma = numpyro.sample(f"sigma_{j}", dist.HalfNormal(EFFECT_SCALE).expand([k]).to_event(1))
            z = numpyro.sample(f"z_{j}", dist.Normal(0.0, 1.0).expand([levels, k]).to_event(2))
            b = numpyro.deterministic(f"b_{j}", sigma * z)
            eta = eta + b[codes[:, j]]
        full = jnp.concatenate([jnp.zeros((eta.shape[0], 1)), eta], axis=1)
        logp = jax.nn.log_softmax(full, axis=1)
        numpyro.factor("data", jnp.sum(jnp.asarray(counts) * logp[jnp.arange(logp.shape[0]), outcome]))

    mcmc = MCMC(
        NUTS(model),
        num_warmup=draws,
        num_samples=draws,
        num_chains=chains,
        chain_method="parallel" if devices >= chains else "vectorized",
        progress_bar=progress,
    )
    mcmc.run(jax.random.PRNGKey(seed))
    samples = mcmc.get_samples()
    return OutcomeDraws(
        predictors=data.predictors,
        alpha=np.asarray(samples["alpha"]),
        effects=tuple(np.asarray(samples[f"b_{j}"]) for j in range(len(shape))),
    )
