"""``populace demo``: the whole pipeline on the embedded real data (CPS 1988).

Fits the example spec (four published tables, one with standard errors, and a 1%
weighted sample with missing wages), then compares the recovered 512-cell joint with
the full table it came from, against IPF and independence on the same inputs, and
writes the posterior, a report, personas and plots.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import xarray as xr

from populace import baselines
from populace.data.examples import example_spec_path, example_truth
from populace.metrics import MIN_CELL_PERSONS, recovery_metrics, tvd
from populace.summaries import DEFAULT_CREDIBLE_MASS, interval_quantiles, margin


def run_demo(out: pathlib.Path, *, draws: int = 1000, chains: int = 4, seed: int = 0, progress: bool = True) -> int:
    """Run the demo and write its outputs to ``out``; return an exit code."""
    from populace.inference.checks import check
    from populace.inference.fit import fit
    from populace.personas import personas, write_personas
    from populace.plots import heatmap_plot, recovery_plot
    from populace.spec import Spec

    out.mkdir(parents=True, exist_ok=True)
    spec = Spec.from_yaml(example_spec_path())
    print("populace demo: men aged 18-70 in the March 1988 CPS (AER::CPS1988, 28,155 persons)")
    print("inputs: region x ethnicity, region x smsa, wage (exact), education x parttime (with se),")
    print("        a 1% weighted sample (282 persons, 10% with wage missing); 512 cells to recover\n")
    post = fit(spec, draws=draws, chains=chains, seed=seed, progress=progress)
    post.to_netcdf(out / "posterior.nc")
    truth = example_truth(spec)
    inputs = post.inputs()
    metrics = recovery_metrics(post, truth)
    rows = [("populace (posterior mean)", metrics["tvd"])]
    ipf = {pc: baselines.ipf(inputs, pc) for pc in baselines.PSEUDO_COUNTS}
    rows += [(f"IPF, sample + {pc} per cell", tvd(est, truth)) for pc, est in ipf.items()]
    rows.append(("independence (IPF, flat seed)", tvd(baselines.independence(inputs), truth)))
    rows.append(("weighted sample alone", tvd(baselines.weighted_sample(inputs), truth)))
    print("total variation distance from the true 512-cell joint (lower is better):")
    for name, value in rows:
        print(f"  {name:<32} {value:.3f}")
    best = min(v for n, v in rows[1:])
    print(
        f"\npopulace beats the best point method by {best - metrics['tvd']:.3f} ({(best - metrics['tvd']) / best:.0%})"
        if metrics["tvd"] < best
        else "\npopulace does NOT beat the best point method here"
    )
    print(
        f"{DEFAULT_CREDIBLE_MASS:.0%} intervals cover the truth in {metrics['coverage']:.0%} of the "
        f"{metrics['cells_scored']} cells with at least {MIN_CELL_PERSONS} persons"
    )
    print(
        f"fit: {post.fit_info['method']}, {post.fit_info['chains']} chains x {post.fit_info['draws']} draws, "
        f"{post.fit_info['fit_seconds']:.0f} s\n"
    )

    report = check(post)
    print(report.text())
    report.write(out / "report")
    summary = post.summary(["education", "wage"])
    true_joint = xr.DataArray(truth, dims=spec.names, coords={a.name: list(a.levels) for a in spec.attributes})
    truth_series = margin(true_joint, ["education", "wage"]).to_series()
    heatmap_plot(summary, "education", "wage", out / "joint_education_wage.png", truth=truth_series)
    draws_flat = post.posterior["p"].values.reshape(post.n_samples, -1)
    lower, upper = np.quantile(draws_flat, interval_quantiles(DEFAULT_CREDIBLE_MASS), axis=0)
    recovery_plot(
        truth,
        {
            "populace": draws_flat.mean(axis=0),
            "IPF (best pseudo-count)": min(ipf.values(), key=lambda e: tvd(e, truth)),
        },
        lower,
        upper,
        out / "recovery.png",
    )
    write_personas(personas(post, 10_000, seed=seed), out / "personas.parquet")
    print(
        f"\nwrote {out}/: posterior.nc, report/ (checks, ppc.png), joint_education_wage.png, "
        "recovery.png, personas.parquet (10,000)",
        file=sys.stderr if False else sys.stdout,
    )
    return 0
