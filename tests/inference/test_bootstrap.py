"""The posterior bootstrap method: tables met in every draw, calibrated on a known latent-class truth, refusals."""

from __future__ import annotations

import itertools
import pathlib

import numpy as np
import pytest

import populace as pp
from populace.errors import FitError
from populace.spec import Spec

pytest.importorskip("numpyro")

NAMES = ("a", "b", "c", "d")
SHAPE = (3, 3, 3, 3)


def _latent_class_truth() -> np.ndarray:
    """Synthetic truth (a known answer is needed): two latent classes over four attributes."""
    rng = np.random.default_rng(5)
    profiles = [rng.dirichlet(np.full(k, 0.6), size=2) for k in SHAPE]
    return np.einsum("c,ca,cb,cd,ce->abde", np.array([0.4, 0.6]), *profiles)


def _spec(folder: pathlib.Path, truth: np.ndarray, *, persons: int, model: str) -> Spec:
    rng = np.random.default_rng(7)
    levels = [[f"l{i}" for i in range(k)] for k in SHAPE]
    files = []
    for a, name in enumerate(NAMES):
        counts = np.round(truth.sum(axis=tuple(b for b in range(4) if b != a)) * 1_000_000).astype(int)
        (folder / f"{name}.csv").write_text(
            f"{name},count\n" + "".join(f"{v},{c}\n" for v, c in zip(levels[a], counts))
        )
        files.append(f"  - file: {name}.csv\n")
    text = "attributes:\n" + "".join(f"  {n}: {{levels: [{', '.join(lv)}]}}\n" for n, lv in zip(NAMES, levels))
    text += "marginals:\n" + "".join(files)
    if persons:
        cells = rng.choice(truth.size, size=persons, p=truth.ravel())
        rows = np.stack(np.unravel_index(cells, SHAPE), axis=1)
        lines = [",".join(NAMES)] + [",".join(levels[j][v] for j, v in enumerate(row)) for row in rows]
        (folder / "sample.csv").write_text("\n".join(lines) + "\n")
        text += "microdata:\n  file: sample.csv\n"
    return Spec.from_text(text + model + "inference: {method: bootstrap}\n", base_dir=folder)


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[pp.Posterior, np.ndarray]:
    truth = _latent_class_truth()
    spec = _spec(
        tmp_path_factory.mktemp("bootstrap"), truth, persons=2000, model="model: {kind: decomposable, classes: 2}\n"
    )
    return pp.fit(spec, draws=200, chains=2, seed=1, progress=False), truth


def test_every_draw_meets_the_tables_and_the_draws_spread(bootstrapped) -> None:
    post, truth = bootstrapped
    assert post.fit_info["method"] == "bootstrap" and post.n_samples == 400
    for a, name in enumerate(NAMES):
        shares = post.joint([name]).values.reshape(post.n_samples, -1)
        expected = truth.sum(axis=tuple(b for b in range(4) if b != a))
        np.testing.assert_allclose(shares, np.broadcast_to(expected, shares.shape), atol=1e-5)
    pair = post.joint(["a", "b"]).values.reshape(post.n_samples, -1)
    assert pair.std(axis=0).min() > 1e-4
    checks = pp.check(post).checks.set_index("check")
    exact = checks[checks.index.str.startswith("exact table")]
    assert len(exact) == 4 and exact["ok"].all()
    assert "r_hat" not in checks.index and "mode_curvature" in checks.index  # not chains: the mode instead


def test_pair_cells_are_recovered_with_calibrated_intervals(bootstrapped) -> None:
    """The model is the truth's own form, so 90% intervals of pair cells should cover about 90% of them."""
    post, truth = bootstrapped
    covered, tvds, cells = 0, [], 0
    for pair in itertools.combinations(range(4), 2):
        draws = post.joint([NAMES[a] for a in pair]).values.reshape(post.n_samples, -1)
        true = truth.sum(axis=tuple(b for b in range(4) if b not in pair)).ravel()
        low, high = np.quantile(draws, [0.05, 0.95], axis=0)
        covered += int(((low <= true) & (true <= high)).sum())
        cells += true.size
        tvds.append(0.5 * np.abs(draws.mean(axis=0) - true).sum())
    assert max(tvds) < 0.04
    assert 0.75 <= covered / cells <= 1.0


def test_same_spec_and_seed_give_the_same_draws(tmp_path) -> None:
    spec = _spec(tmp_path, _latent_class_truth(), persons=500, model="model: {kind: decomposable}\n")
    first, second = (pp.fit(spec, draws=5, chains=1, seed=2, progress=False) for _ in range(2))
    np.testing.assert_array_equal(first.joint(["a", "b"]).values, second.joint(["a", "b"]).values)


@pytest.mark.parametrize(
    ("persons", "model"), [(0, "model: {kind: decomposable}\n"), (500, "model: {kind: loglinear}\n")]
)
def test_without_rows_to_reweight_it_is_refused(tmp_path, persons: int, model: str) -> None:
    spec = _spec(tmp_path, _latent_class_truth(), persons=persons, model=model)
    with pytest.raises(FitError, match="needs microdata and the decomposable model kind"):
        pp.fit(spec, draws=5, chains=1, seed=1, progress=False)


def test_lbfgs_that_stops_short_is_restarted_to_the_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that ends on a failed line search (as on adult's 5% tree) is resumed with an empty memory."""
    import jax
    import scipy.optimize

    from populace.inference import bootstrap

    jax.config.update("jax_enable_x64", True)
    scale, centre = np.array([1.0, 30.0, 0.1]), np.array([1.0, -2.0, 3.0])

    def value_and_grad(x, weights):  # noqa: ANN001, ANN202 - arrays
        x = np.asarray(x, dtype=float)
        return 0.5 * float(np.sum(scale * (x - centre) ** 2)), scale * (x - centre)

    real, calls = scipy.optimize.minimize, []

    def stops_short_once(fun, x0, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls.append(x0)
        if len(calls) == 1:  # the first run stops after 2 iterations, unconverged
            result = real(fun, x0, **{**kwargs, "options": {"maxiter": 2}})
            result.success = False
            return result
        return real(fun, x0, **kwargs)

    monkeypatch.setattr(scipy.optimize, "minimize", stops_short_once)
    solution = bootstrap.minimise(value_and_grad, np.zeros(3), None, 3000)
    assert len(calls) == 2 and not np.allclose(calls[1], 0.0)  # resumed from where the first run stopped
    assert solution.converged and np.allclose(solution.x, centre, atol=1e-4)
    assert solution.value == pytest.approx(0.0, abs=1e-8)
