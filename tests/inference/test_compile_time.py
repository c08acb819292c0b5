"""The compile clock: JAX's compile seconds, apart from running time."""

from __future__ import annotations

import pytest

import populace as pp
from populace.inference.backend import setup_jax
from populace.inference.compile_time import compile_clock


def test_the_clock_counts_a_compile_and_not_a_cached_call() -> None:
    setup_jax(1)
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x: jnp.cumsum(jnp.exp(x)) @ x)
    x = jnp.linspace(0.0, 1.0, 64)
    with compile_clock() as outer:
        with compile_clock() as first:
            f(x).block_until_ready()
        with compile_clock() as again:
            f(x).block_until_ready()
    assert first.seconds > 0
    assert again.seconds == 0.0  # the same program, already compiled in this process
    assert outer.seconds == pytest.approx(first.seconds)


@pytest.mark.pipeline
def test_a_fit_reports_compiling_and_sampling_apart(small_posterior) -> None:
    info = pp.load(small_posterior).fit_info
    assert info["compile_seconds"] > 0 and info["sampling_seconds"] > 0
    assert info["compile_seconds"] + info["sampling_seconds"] == pytest.approx(info["fit_seconds"], abs=2e-3)
