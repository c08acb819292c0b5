"""JAX set-up: the persistent compilation cache is on, in the folder the environment names."""

from __future__ import annotations

import os
import pathlib

import populace as pp
from populace.inference.backend import CACHE_MAX_BYTES, CACHE_MIN_COMPILE_SECONDS, setup_jax

EXAMPLE = pathlib.Path(pp.__file__).parent / "data" / "cps1988" / "spec.yaml"


def test_a_fit_writes_its_programs_to_the_cache_folder() -> None:
    setup_jax(1)
    import jax

    folder = pathlib.Path(os.environ["POPULACE_JAX_CACHE"])  # set by conftest for the run
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == CACHE_MIN_COMPILE_SECONDS
    assert jax.config.jax_compilation_cache_max_size == CACHE_MAX_BYTES
    pp.fit(pp.Spec.from_yaml(EXAMPLE), method="pathfinder", draws=10, chains=1, seed=0, progress=False)
    assert any(p.name.endswith("-cache") for p in folder.iterdir())
