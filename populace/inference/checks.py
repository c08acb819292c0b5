"""Posterior predictive checks of every input, plus convergence (``populace check``).

- Exact tables: the posterior mean margin must meet each share within
  ``EXACT_TOLERANCE_PP`` percentage points (the contract's 0.2 pp).
- Tables with standard errors: each published count against its 90% posterior
  predictive interval (``population * margin + se * noise``); a few cells outside are
  expected and only reported.
- Microdata: a posterior predictive p-value of Pearson's chi-square for each pattern of
  observed attributes (Gelman, Meng and Stern 1996), replicating the weighted sample at
  its effective size; values near 0 mean the model cannot reproduce the sample.
- LLM filter: the posterior of each plausibility weight (reported, never failing).
- Convergence: :func:`populace.inference.diagnostics.convergence`.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from populace.data.inputs import extend
from populace.posterior import Posterior
from populace.summaries import DEFAULT_CREDIBLE_MASS, interval_quantiles, margin, stacked

# The contract: `check` fails when an exact table is missed by more than 0.2 points.
EXACT_TOLERANCE_PP = 0.2
# Posterior predictive p-values below this are reported as a misfit of the microdata.
PPP_ALERT = 0.01
# Draws used for the predictive simulations (enough for stable 90% intervals).
MAX_PPC_DRAWS = 1000


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckReport:
    """Outcome of :func:`check`: one row per check, the table cells, and pass/fail."""

    checks: pd.DataFrame
    cells: pd.DataFrame
    # The decomposable kind's graph (attribute names, edges, published tables' axes), drawn by write.
    graph: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when no failing check."""
        return bool(self.checks["ok"].all())

    def write(self, folder: str | pathlib.Path) -> pathlib.Path:
        """Write ``checks.csv``, ``cells.csv`` and ``ppc.png`` into ``folder`` (made if missing), atomically."""
        from populace.io import atomic_path
        from populace.plots import ppc_plot

        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "checks.csv") as tmp:
            self.checks.to_csv(tmp, index=False)
        if len(self.cells):
            with atomic_path(folder / "cells.csv") as tmp:
                self.cells.to_csv(tmp, index=False)
            ppc_plot(self.cells, folder / "ppc.png")
        if self.graph is not None:
            from populace.plots import graph_plot

            graph_plot(self.graph["names"], self.graph["edges"], self.graph["tables"], folder / "graph.png")
        return folder

    def text(self) -> str:
        """A printable summary."""
        lines = []
        for row in self.checks.itertuples():
            lines.append(f"{'ok  ' if row.ok else 'FAIL'} {row.check:<34} {row.message}")
        lines.append("check: passed" if self.ok else "check: FAILED")
        return "\n".join(lines)


def check(post: Posterior, *, seed: int = 0) -> CheckReport:
    """Run every posterior predictive and convergence check.

    Parameters
    ----------
    post
        A fitted or loaded posterior.
    seed
        Seed of the predictive simulations.

    Returns
    -------
    CheckReport

    Examples
    --------
    >>> report = pp.check(post)
    >>> exact = report.checks[report.checks["check"].str.startswith("exact table")]
    >>> bool(exact["ok"].all()), len(exact)
    (True, 3)
    """
    from populace.inference.diagnostics import convergence

    rng = np.random.default_rng(seed)
    inputs = post.inputs()
    spec = post.spec
    shares_of = _share_draws(post)
    rows: list[dict[str, Any]] = []
    cells: list[pd.DataFrame] = []
    lo_q, hi_q = interval_quantiles(DEFAULT_CREDIBLE_MASS)
    for table in inputs.tables:
        shares = shares_of([spec.names[a] for a in table.axes])
        observed = table.counts / table.total
        frame = _cells_frame(spec, table.axes, table.source)
        frame["observed"] = observed.ravel()
        frame["mean"] = shares.mean(axis=0).ravel()
        if table.exact:
            gap = float(np.abs(shares - observed).max()) * 100  # the worst single draw, not the mean
            frame["lower"], frame["upper"] = np.quantile(shares, [lo_q, hi_q], axis=0).reshape(2, -1)
            rows.append(
                {
                    "check": f"exact table {table.source}",
                    "value": gap,
                    "ok": gap <= EXACT_TOLERANCE_PP,
                    "message": f"largest gap in any draw {gap:.2g} pp (limit {EXACT_TOLERANCE_PP})",
                }
            )
        else:
            scale = inputs.population
            replicated = scale * shares + table.se * rng.standard_normal(shares.shape)
            lo, hi = np.quantile(replicated, [lo_q, hi_q], axis=0)
            frame["lower"], frame["upper"] = lo.ravel() / scale, hi.ravel() / scale
            frame["observed"] = table.counts.ravel() / scale
            outside = int(((table.counts < lo) | (table.counts > hi)).sum())
            rows.append(
                {
                    "check": f"se table {table.source}",
                    "value": outside,
                    "ok": True,
                    "message": f"{outside} of {table.counts.size} cells outside their "
                    f"{DEFAULT_CREDIBLE_MASS:.0%} predictive interval",
                }
            )
        cells.append(frame)
    if inputs.sample is not None:
        cells.extend(_sample_margins(spec, shares_of, inputs.sample, rng))
        patterns = [(axes, counts, "") for axes, counts in inputs.sample.patterns]
        patterns += [(axes, counts, ", coarse answers") for axes, counts in inputs.sample.coarse_patterns]
        for axes, counts, note in patterns:
            shares = extend(shares_of([spec.names[a] for a in axes]), axes, spec, offset=1)
            ppp = _chi2_ppp(shares, counts, rng)
            names = ",".join(spec.names[a] for a in axes) + note
            rows.append(
                {
                    "check": f"microdata [{names}]",
                    "value": ppp,
                    "ok": True,
                    "message": f"posterior predictive p = {ppp:.2f}"
                    + (" (the model does not reproduce the sample)" if ppp < PPP_ALERT else ""),
                }
            )
    graph = None
    if post.factorised:
        graph = _graph(post, inputs)
        rows.append({"check": "graph", "value": len(graph["edges"]), "ok": True, "message": graph["message"]})
    rows.extend(_sampler_projection(post))
    rows.extend(_plausibility_weights(post, inputs))
    for item in convergence(post):
        rows.append({"check": item["name"], "value": item["value"], "ok": item["ok"], "message": item["message"]})
    changed = post.changed_inputs()
    message = (
        "every input file matches the fit"
        if not changed
        else (
            "warning: " + ", ".join(f"{k} {v}" for k, v in changed.items()) + " since the fit; the checks use the "
            "copies embedded in the posterior; refit to use the new files"
        )
    )
    rows.append({"check": "inputs unchanged", "value": len(changed), "ok": True, "message": message})
    return CheckReport(
        checks=pd.DataFrame(rows), cells=pd.concat(cells, ignore_index=True) if cells else pd.DataFrame(), graph=graph
    )


def _graph(post: Posterior, inputs: Any) -> dict[str, Any]:
    """The fitted graph over the attributes (the latent class left out) and a one-line description."""
    from populace.models.junction import JunctionTree

    fit = post.fit_info
    tree = JunctionTree.from_dict(fit["tree"])
    d = len(post.spec.names)
    edges = [(a, b) for a, b in tree.edges if a < d and b < d]
    classes = fit.get("classes", 0)
    message = fit.get("tree_description", "")
    if classes:
        message += f"; a latent class of {classes} levels joins every clique"
    tables = [t.axes for t in inputs.tables]
    return {"names": list(post.spec.names), "edges": edges, "tables": tables, "message": message}


def _cells_frame(spec: Any, axes: tuple[int, ...], source: str) -> pd.DataFrame:
    levels = [spec.attributes[a].levels for a in axes]
    grid = np.meshgrid(*[np.arange(len(lv)) for lv in levels], indexing="ij")
    labels = [
        ", ".join(f"{spec.names[a]}={levels[j][g.ravel()[i]]}" for j, (a, g) in enumerate(zip(axes, grid)))
        for i in range(int(np.prod([len(lv) for lv in levels])))
    ]
    return pd.DataFrame({"table": source, "cell": labels})


def _share_draws(post: Posterior) -> Callable[[list[str]], np.ndarray]:
    """``shares_of(names)``: at most :data:`MAX_PPC_DRAWS` draws of the margin of ``names``, shape (draws, *levels)."""
    if post.factorised:
        keep = np.linspace(0, post.n_samples - 1, min(post.n_samples, MAX_PPC_DRAWS)).astype(int)
        return lambda names: stacked(post.joint(names)).values[keep]
    p = stacked(post.posterior["p"])
    if p.sizes["sample"] > MAX_PPC_DRAWS:
        p = p.isel(sample=np.linspace(0, p.sizes["sample"] - 1, MAX_PPC_DRAWS).astype(int))
    return lambda names: margin(p, names).values


def _one_way_counts(spec: Any, sample: Any, a: int) -> np.ndarray:
    """The sample's weighted counts (scaled to its effective size) of attribute ``a``'s levels."""
    if sample.patterns:
        return sum(
            (c.sum(axis=tuple(i for i, x in enumerate(axes) if x != a)) for axes, c in sample.patterns if a in axes),
            np.zeros(spec.shape[a]),
        )
    # loaded without the grid: from the rows (coarse answers are left out here, as in patterns)
    codes = sample.row_cells[:, a]
    fine = (codes >= 0) & (codes < spec.shape[a])
    return np.bincount(codes[fine], weights=sample.scaled_weights[fine], minlength=spec.shape[a]).astype(float)


def _sample_margins(
    spec: Any, shares_of: Callable[[list[str]], np.ndarray], sample: Any, rng: np.random.Generator
) -> list[pd.DataFrame]:
    """One-way shares of the weighted sample against replicated samples of its effective size."""
    lo_q, hi_q = interval_quantiles(DEFAULT_CREDIBLE_MASS)
    out = []
    for a, name in enumerate(spec.names):
        counts = _one_way_counts(spec, sample, a)
        n = float(counts.sum())
        if n <= 0:
            continue
        shares = shares_of([name])
        replicated = np.stack([rng.multinomial(max(int(round(n)), 1), s / s.sum()) for s in shares]) / max(round(n), 1)
        frame = _cells_frame(spec, (a,), f"microdata {sample.source} ({name}, n_eff {n:.0f})")
        frame["observed"] = counts / n
        frame["mean"] = shares.mean(axis=0)
        frame["lower"], frame["upper"] = np.quantile(replicated, [lo_q, hi_q], axis=0)
        out.append(frame)
    return out


def _chi2_ppp(shares: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> float:
    """Posterior predictive p-value of Pearson's chi-square; ``shares`` are draws of the pattern's margin."""
    shares = shares.reshape(shares.shape[0], -1)
    obs = counts.ravel()
    n = float(obs.sum())
    expected = np.maximum(n * shares, 1e-12)
    replicated = np.stack([rng.multinomial(int(round(n)), s / s.sum()) for s in shares])
    t_obs = ((obs - expected) ** 2 / expected).sum(axis=1)
    t_rep = ((replicated - expected) ** 2 / expected).sum(axis=1)
    return float((t_rep >= t_obs).mean())


def _sampler_projection(post: Posterior) -> list[dict[str, Any]]:
    """How far the projection that the likelihood was taken on missed the exact tables."""
    if "projection_gap" not in post.posterior:
        return []
    gap = float(post.posterior["projection_gap"].max()) * 100
    sweeps = post.fit_info.get("projection_unrolled_sweeps", "a few")
    return [
        {
            "check": "sampler's projection",
            "value": gap,
            "ok": gap <= EXACT_TOLERANCE_PP,
            "message": f"the microdata likelihood was taken on {sweeps} unrolled IPF sweeps, at most {gap:.2g} pp "
            f"from the exact tables in any draw (limit {EXACT_TOLERANCE_PP}); the joint itself meets them",
        }
    ]


def _plausibility_weights(post: Posterior, inputs: Any) -> list[dict[str, Any]]:
    """The posterior of each LLM-filter weight (informational; near 0: the data overruled the scorer)."""
    if "llm_weight" not in post.posterior:
        return []
    values = post.posterior["llm_weight"]
    no_data = inputs.sample is None
    rows = []
    for name in values["plausibility_term"].values:
        draws = values.sel(plausibility_term=name).values.ravel()
        lo, hi = np.quantile(draws, interval_quantiles(DEFAULT_CREDIBLE_MASS))
        rows.append(
            {
                "check": f"plausibility weight [{name}]",
                "value": float(draws.mean()),
                "ok": True,
                "message": f"posterior mean {draws.mean():.2f}, {DEFAULT_CREDIBLE_MASS:.0%} interval {lo:.2f}-{hi:.2f}"
                + (" (the data overrule the scorer)" if hi < 0.1 else "")
                + (" (no microdata: this is the prior, the scorer is taken on trust)" if no_data else ""),
            }
        )
    return rows
