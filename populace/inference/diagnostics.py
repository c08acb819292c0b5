"""Convergence diagnostics: R-hat, effective sample size and divergences.

R-hat and ESS are the rank-normalised versions of Vehtari, Gelman, Simpson, Carpenter
and Buerkner (2021), computed by ArviZ on every cell share with positive mass and on
the hyperparameters. Variational fits have no chains to compare and are reported as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from populace.models.base import CLIQUE_PREFIX

# Convergence threshold of `populace check` (DESIGN.md section 2; Vehtari et al. 2021
# recommend R-hat < 1.01 and a bulk ESS of at least 100 per chain).
RHAT_LIMIT = 1.01
# Bulk ESS per chain below this makes interval ends unreliable (Vehtari et al. 2021
# recommend 100 per chain). A low ESS is a warning, not a failed check (DESIGN.md).
MIN_ESS_PER_CHAIN = 100
# Posterior sd below which a cell counts as fixed (an exact table sets it, up to the
# projection's tolerance): no R-hat or ESS.
FIXED_CELL_SD = 1e-6


def convergence(post: Any) -> list[dict[str, Any]]:
    """Convergence checks of a posterior.

    Returns
    -------
    list of dict
        One per check: ``name``, ``value``, ``ok`` (False fails ``populace check``),
        ``warn`` (True when worth a warning) and ``message``.
    """
    info = post.fit_info
    if not info.get("mcmc", info["method"] == "nuts"):
        note = f"{info['method']} is an approximation: no R-hat or divergences to check"
        out = [_item("convergence", None, ok=True, warn=False, message=note)]
        if "hessian_least_eigenvalue" in post.sample_stats:  # the bootstrap's mode
            least = float(np.asarray(post.sample_stats["hessian_least_eigenvalue"]).min())
            message = f"least Hessian eigenvalue at the mode {least:.3g}"
            if least < 0:
                message += " < 0 (warning): L-BFGS stopped off the mode; draws there are rough; try another --seed"
            out.append(_item("mode_curvature", least, ok=True, warn=least < 0, message=message))
        return out
    divergent = int(np.asarray(post.sample_stats["diverging"]).sum())
    message = "no divergent transitions"
    if divergent:
        message = (
            f"{divergent} divergent transitions after tuning; rerun with more --draws or another --seed, "
            "and check the tables for conflicts"
        )
    out = [_item("divergences", divergent, ok=divergent == 0, warn=divergent > 0, message=message)]
    chains = post.posterior.sizes["chain"]
    if chains < 2 and post.posterior.sizes["draw"] < 8:
        return out
    rhat, ess, worst = _rhat_ess(post)
    bad = rhat > RHAT_LIMIT
    message = f"largest R-hat {rhat:.3f}" + (f" ({worst})" if worst else "")
    message += f" > {RHAT_LIMIT}: chains disagree; run more --draws" if bad else ""
    out.append(_item("r_hat", rhat, ok=not bad, warn=bad, message=message))
    low = MIN_ESS_PER_CHAIN * chains
    message = f"smallest bulk ESS {ess:.0f}"
    if ess < low:
        message += f" < {low} (warning): interval ends are rough; run more --draws"
    out.append(_item("ess_bulk", ess, ok=True, warn=ess < low, message=message))
    return out


def fit_warnings(post: Any) -> list[str]:
    """Sampling problems worth a warning after a fit: divergences, high R-hat, low ESS."""
    return [item["message"] for item in convergence(post) if item["warn"] or not item["ok"]]


def _item(name: str, value: Any, *, ok: bool, warn: bool, message: str) -> dict[str, Any]:
    return {"name": name, "value": value, "ok": bool(ok), "warn": bool(warn), "message": message}


def _rhat_ess(post: Any) -> tuple[float, float, str]:
    """Largest R-hat, smallest bulk ESS, and the name of the quantity with that R-hat (``p[...]`` a cell)."""
    import logging
    import warnings

    import arviz as az

    arrays, labels = {}, {}
    latent = post.fit_info.get("latent") if post.factorised else None
    for name, var in post.posterior.data_vars.items():
        if name == "p" or name.startswith(CLIQUE_PREFIX):
            # a latent class's labels can swap between chains: judge the cells summed over it
            values = var.sum(latent) if latent and latent in var.dims else var
            flat = values.values.reshape(values.sizes["chain"], values.sizes["draw"], -1)
            # cells an exact table fixes do not move: their R-hat is undefined, not bad
            kept = np.flatnonzero((flat.mean(axis=(0, 1)) > 0) & (flat.std(axis=(0, 1)) > FIXED_CELL_SD))
            arrays[name] = flat[:, :, kept]
            labels[name] = (values, kept)
        else:
            arrays[name] = var.values
            labels[name] = (var, None)
    rhat, ess = [], []
    worst, worst_rhat = "", -np.inf
    # ArviZ logs a shape warning for one chain (R-hat is then undefined, reported as such);
    # its logger is its own Logger object, not one from logging.getLogger
    arviz_log = getattr(az, "_log", None) or logging.getLogger("arviz")
    level = arviz_log.level
    arviz_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, values in arrays.items():
                if values.size == 0:
                    continue
                data = az.convert_to_dataset(values[..., None] if values.ndim == 2 else values)
                r, e = az.rhat(data).to_array().values, az.ess(data, method="bulk").to_array().values
                if np.isfinite(r).any():
                    rhat.append(float(np.nanmax(r)))
                    if rhat[-1] > worst_rhat:
                        worst_rhat, worst = rhat[-1], _label(name, *labels[name], int(np.nanargmax(r.ravel())))
                ess += [float(np.nanmin(e))] if np.isfinite(e).any() else []
    finally:
        arviz_log.setLevel(level)
    # max() over a list holding NaN depends on its order, so only defined values are kept
    return (max(rhat) if rhat else float("nan")), (min(ess) if ess else float("nan")), worst


def _label(name: str, var: Any, kept: np.ndarray | None, index: int) -> str:
    """``name[dim=level, ...]`` for element ``index`` of a variable's draws (of its kept cells, for the joint)."""
    dims = [d for d in var.dims if d not in ("chain", "draw")]
    if not dims:
        return name
    shape = [var.sizes[d] for d in dims]
    flat = int(kept[index]) if kept is not None else index
    position = np.unravel_index(flat, shape)
    parts = []
    for d, i in zip(dims, position):
        level = var[d].values[i] if d in var.coords else i
        parts.append(f"{d}={level}")
    return f"{name}[{', '.join(parts)}]"
