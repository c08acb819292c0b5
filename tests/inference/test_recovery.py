"""Slow statistical tests: recovery of a known joint, on real and on synthetic data.

Real: the CPS 1988 example (AER::CPS1988, 28,155 men) is the population; populace gets
its published tables and a 1% sample (DESIGN.md's worked example) and must beat every
point method on the same inputs and cover the truth at close to the nominal rate.
Synthetic: a joint drawn from a known log-linear law, where the truth is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

import populace as pp
from populace import baselines
from populace.data.examples import example_spec_path, example_truth
from populace.metrics import recovery_metrics, tvd

pytestmark = pytest.mark.slow


def test_cps1988_beats_point_methods_and_is_calibrated() -> None:
    spec = pp.Spec.from_yaml(example_spec_path())
    post = pp.fit(spec, seed=0, progress=False)  # the defaults: NUTS, 4 chains x 1000 draws
    truth = example_truth(spec)
    metrics = recovery_metrics(post, truth)
    inputs = post.inputs()
    rivals = {f"ipf+{pc}": tvd(baselines.ipf(inputs, pc), truth) for pc in baselines.PSEUDO_COUNTS}
    rivals["independence"] = tvd(baselines.independence(inputs), truth)
    assert metrics["tvd"] < min(rivals.values()), (metrics, rivals)
    assert 0.85 <= metrics["coverage"] <= 0.95, metrics
    assert metrics["cells_scored"] >= 200
    assert pp.check(post).ok


def _synthetic(tmp_path, n_sample: int, seed: int):
    """Synthetic population (known truth): 3 x 4 x 3 cells with strong pairwise interactions."""
    rng = np.random.default_rng(seed)
    shape = (3, 4, 3)
    eta = rng.normal(0, 0.5, size=shape)
    eta += 1.2 * np.outer(np.arange(3) - 1, np.arange(4) - 1.5)[:, :, None]  # a x b
    eta += -0.9 * np.outer(np.arange(4) - 1.5, np.arange(3) - 1)[None, :, :]  # b x c
    truth = np.exp(eta) / np.exp(eta).sum()
    population = 200_000
    counts = rng.multinomial(population, truth.ravel()).reshape(shape)
    truth = counts / population
    names = {"a": [f"a{i}" for i in range(3)], "b": [f"b{i}" for i in range(4)], "c": [f"c{i}" for i in range(3)]}
    for axis, name in enumerate(names):
        margin = counts.sum(axis=tuple(a for a in range(3) if a != axis))
        rows = "\n".join(f"{lvl},{c}" for lvl, c in zip(names[name], margin))
        (tmp_path / f"{name}.csv").write_text(f"{name},count\n{rows}\n")
    cells = rng.choice(counts.size, size=n_sample, p=counts.ravel() / population)
    idx = np.unravel_index(cells, shape)
    lines = [",".join(names[n][i[k]] for n, i in zip(names, idx)) for k in range(n_sample)]
    (tmp_path / "sample.csv").write_text("a,b,c\n" + "\n".join(lines) + "\n")
    (tmp_path / "spec.yaml").write_text(
        "attributes:\n"
        + "".join(f"  {n}: {{levels: [{', '.join(lv)}]}}\n" for n, lv in names.items())
        + "marginals: [{file: a.csv}, {file: b.csv}, {file: c.csv}]\nmicrodata: {file: sample.csv}\n"
    )
    return pp.Spec.from_yaml(tmp_path / "spec.yaml"), truth


def test_synthetic_recovery_improves_with_the_sample_and_covers_the_truth(tmp_path) -> None:
    errors, coverages = [], []
    for n_sample in (300, 3000):
        folder = tmp_path / str(n_sample)
        folder.mkdir()
        spec, truth = _synthetic(folder, n_sample, seed=11)
        post = pp.fit(spec, draws=500, chains=2, seed=1, progress=False)
        metrics = recovery_metrics(post, truth)
        errors.append(metrics["tvd"])
        coverages.append(metrics["coverage"])
        best_ipf = min(tvd(baselines.ipf(post.inputs(), pc), truth) for pc in baselines.PSEUDO_COUNTS)
        assert metrics["tvd"] < best_ipf
    assert errors[1] < 0.6 * errors[0], errors  # ten times the sample: clearly closer to the truth
    assert errors[1] < 0.03, errors
    assert min(coverages) >= 0.75, coverages
