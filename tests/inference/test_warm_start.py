"""NUTS's warm start: L-BFGS finds the mode, the path's diagonal estimates the variances."""

from __future__ import annotations

import numpy as np

from populace.inference.backend import setup_jax
from populace.inference.warm_start import warm_start


def _gaussian_model(mean: np.ndarray, sd: np.ndarray):  # noqa: ANN202 - a NumPyro model
    def model() -> None:
        import numpyro
        import numpyro.distributions as dist

        numpyro.sample("x", dist.Normal(mean, sd).to_event(1))

    return model


def test_warm_start_finds_the_mode_and_the_variances_of_a_gaussian() -> None:
    setup_jax(1)
    rng = np.random.default_rng(0)
    mean = rng.normal(size=20)
    sd = np.exp(rng.uniform(-2.0, 1.0, size=20))  # scales spread over a factor of 20
    start = warm_start(_gaussian_model(mean, sd), seed=1, chains=4)
    assert start is not None and start.iterations > 0
    assert start.positions["x"].shape == (4, 20)
    # each chain is one draw around the mode: standardised, the offsets look standard normal
    z = (start.positions["x"] - mean) / sd
    assert 0.5 < z.std() < 1.5 and np.abs(z).max() < 5
    assert len({tuple(np.round(row, 6)) for row in start.positions["x"]}) == 4
    # the diagonal tracks the variances to within a factor of 2 (identity would be off by 50x)
    ratio = start.inverse_mass / sd**2
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


def test_warm_start_of_a_model_without_parameters_is_none() -> None:
    setup_jax(1)

    def model() -> None:
        import numpyro

        numpyro.deterministic("p", np.ones(2) / 2)

    assert warm_start(model, seed=0, chains=2) is None
