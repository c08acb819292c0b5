"""Post-stratified forecasts: outcome shares by group, per posterior draw of the joint.

For draw ``s`` the joint ``p_s`` and outcome model draw ``s`` give
``share_s(g, k) = sum_{c in g} p_s(c) P_s(k | c) / sum_{c in g} p_s(c)``, so the
interval carries both the joint's and the outcome model's uncertainty. Fixing either
source (its posterior mean) isolates the other (:func:`forecast_draws` ``fix=``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from populace.errors import DataError
from populace.outcomes.model import OutcomeDraws
from populace.posterior import DEFAULT_CREDIBLE_MASS, Posterior

DRAW_CHUNK = 200


def forecast_draws(post: Posterior, model: OutcomeDraws, by: Sequence[str], *, fix: str | None = None) -> np.ndarray:
    """Outcome shares per draw and group: array (S, *group levels, K).

    Parameters
    ----------
    post
        Posterior of the joint.
    model
        Draws of the outcome model.
    by
        Group attributes (may be empty: the whole population).
    fix
        ``None`` (both sources vary), ``"joint"`` (the joint fixed at its posterior
        mean) or ``"outcome"`` (the outcome model fixed at its mean probabilities).
    """
    spec = post.spec
    for b in by:
        if b not in spec.names:
            raise DataError(f"--by names unknown attribute '{b}' (attributes: {', '.join(spec.names)})", value=b)
    keep = sorted({spec.names.index(n) for n in (*by, *model.predictors)})
    kept = [spec.names[a] for a in keep]
    p = post.posterior["p"].values.reshape(post.n_samples, *spec.shape)
    drop = tuple(a + 1 for a in range(len(spec.shape)) if a not in keep)
    q = p.sum(axis=drop) if drop else p  # (S, *kept)
    if fix == "joint":
        q = np.broadcast_to(q.mean(axis=0, keepdims=True), q.shape)
    n = q.shape[0]
    # outcome probabilities (S, predictors..., K) moved onto the kept axes, in kept order
    m = len(model.predictors)
    perm = sorted(range(m), key=lambda j: kept.index(model.predictors[j]))
    shape = [1] * len(kept)
    for name in model.predictors:
        shape[kept.index(name)] = len(spec.attribute(name).levels)
    mean_prob = model.probabilities().mean(axis=0, keepdims=True) if fix == "outcome" else None
    out = []
    for start in range(0, n, DRAW_CHUNK):
        stop = min(start + DRAW_CHUNK, n)
        prob = mean_prob if mean_prob is not None else model.probabilities(np.arange(start, stop) % model.n_samples)
        prob = prob.transpose(0, *[1 + j for j in perm], m + 1)
        prob = prob.reshape(prob.shape[0], *shape, prob.shape[-1])
        joint = q[start:stop][..., None]
        weighted = joint * prob
        group_axes = tuple(1 + i for i, name in enumerate(kept) if name not in by)
        num = weighted.sum(axis=group_axes)
        den = joint.sum(axis=group_axes)
        share = num / np.where(den > 0, den, 1.0)
        # put the group axes in --by order
        present = [name for name in kept if name in by]
        share = np.moveaxis(share, [1 + present.index(b) for b in by], list(range(1, len(by) + 1)))
        out.append(share)
    return np.concatenate(out, axis=0)


def forecast_table(
    post: Posterior,
    model: OutcomeDraws,
    by: Sequence[str],
    levels: Sequence[str],
    prob: float = DEFAULT_CREDIBLE_MASS,
    fix: str | None = None,
) -> pd.DataFrame:
    """The forecast CSV: ``by`` columns, ``level``, then ``mean``, ``sd``, ``lower``, ``upper``."""
    draws = forecast_draws(post, model, by, fix=fix)
    flat = draws.reshape(draws.shape[0], -1)
    lower, upper = np.quantile(flat, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    group_levels = [post.spec.attribute(b).levels for b in by]
    grid = np.meshgrid(*[np.arange(len(lv)) for lv in group_levels], np.arange(len(levels)), indexing="ij")
    frame = pd.DataFrame({b: np.asarray(lv, dtype=object)[g.ravel()] for b, lv, g in zip(by, group_levels, grid)})
    frame["level"] = np.asarray(levels, dtype=object)[grid[-1].ravel()]
    frame["mean"] = flat.mean(axis=0)
    frame["sd"] = flat.std(axis=0, ddof=1)
    frame["lower"] = np.minimum(lower, frame["mean"])
    frame["upper"] = np.maximum(upper, frame["mean"])
    return frame
