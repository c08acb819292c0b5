"""Convergence diagnostics: R-hat, effective sample size and divergences.

R-hat and ESS are the rank-normalised versions of Vehtari, Gelman, Simpson, Carpenter
and Buerkner (2021), computed by ArviZ on every cell share with positive mass and on
the hyperparameters. Variational fits have no chains to compare and are reported as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Bulk ESS below this (in total) makes the interval ends unreliable (Vehtari et al. 2021
# recommend 100 per chain for 4 chains).
MIN_ESS = 400


def convergence(post: Any) -> list[dict[str, Any]]:
    """Convergence checks of a posterior, each a dict with name, value, ok and message."""
    from populace.posterior import RHAT_LIMIT

    info = post.fit_info
    if info["method"] != "nuts":
        return [
            {
                "name": "convergence",
                "value": None,
                "ok": True,
                "message": f"{info['method']} is an approximation: no R-hat or divergences to check",
            }
        ]
    out = []
    divergent = int(np.asarray(post.sample_stats["diverging"]).sum())
    out.append(
        {
            "name": "divergences",
            "value": divergent,
            "ok": divergent == 0,
            "message": f"{divergent} divergent transitions after tuning; rerun with more --draws or another "
            "--seed, and check the tables for conflicts"
            if divergent
            else "no divergent transitions",
        }
    )
    chains = post.posterior.sizes["chain"]
    if chains < 2 and post.posterior.sizes["draw"] < 8:
        return out
    rhat, ess = _rhat_ess(post)
    out.append(
        {
            "name": "r_hat",
            "value": rhat,
            "ok": bool(rhat <= RHAT_LIMIT),
            "message": f"largest R-hat {rhat:.3f} > {RHAT_LIMIT}: chains disagree; run more --draws"
            if rhat > RHAT_LIMIT
            else f"largest R-hat {rhat:.3f}",
        }
    )
    out.append(
        {
            "name": "ess_bulk",
            "value": ess,
            "ok": bool(ess >= MIN_ESS),
            "message": f"smallest bulk ESS {ess:.0f} < {MIN_ESS}: intervals are rough; run more --draws"
            if ess < MIN_ESS
            else f"smallest bulk ESS {ess:.0f}",
        }
    )
    return out


def _rhat_ess(post: Any) -> tuple[float, float]:
    import warnings

    import arviz as az

    p = post.posterior["p"]
    chains, draws = p.sizes["chain"], p.sizes["draw"]
    flat = p.values.reshape(chains, draws, -1)
    keep = flat.mean(axis=(0, 1)) > 0
    arrays = {"p": flat[:, :, keep]}
    for name, var in post.posterior.data_vars.items():
        if name != "p":
            arrays[name] = var.values
    rhat, ess = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for values in arrays.values():
            if values.size == 0:
                continue
            data = az.convert_to_dataset(values[..., None] if values.ndim == 2 else values)
            rhat.append(float(np.nanmax(az.rhat(data).to_array().values)))
            ess.append(float(np.nanmin(az.ess(data, method="bulk").to_array().values)))
    return max(rhat), min(ess)
