"""Set up JAX once, lazily: 64-bit floats, one host device per chain, a compilation cache.

JAX reads its device count when it first starts, so this must run before anything
imports jax; ``import populace`` itself never does.

Compiled programs are kept on disk (JAX's persistent compilation cache), so a second fit
of the same shape, in this process or a later one, loads its programs instead of
compiling them again. The folder is ``$POPULACE_JAX_CACHE``, or ``jax`` under
``$POPULACE_HOME`` (default ``~/.cache/populace``); ``POPULACE_JAX_CACHE=off`` turns it
off. It is capped at :data:`CACHE_MAX_BYTES`, oldest programs dropped first.
"""

from __future__ import annotations

import os
import pathlib
import sys
import warnings
from collections.abc import Mapping

_DEVICE_FLAG = "--xla_force_host_platform_device_count"
# Size cap of the compilation cache folder (JAX evicts the least recently used programs).
CACHE_MAX_BYTES = 2 * 1024**3
# Programs that compile faster than this are not written to the cache. Every program is:
# a fit of the CPS 1988 example (2 x 200) compiles about 109 programs, most of them
# NumPyro's and the model's small helpers at about 0.1 s each; with a threshold of 0.5 s
# only the sampling loop was cached and a repeat fit still spent 9.3 s compiling, with
# none 3.9 s (tracing and lowering, which JAX repeats to find a program in the cache).
CACHE_MIN_COMPILE_SECONDS = 0.0


def cache_dir(environ: Mapping[str, str] | None = None) -> pathlib.Path | None:
    """The compilation cache folder, or ``None`` when ``POPULACE_JAX_CACHE=off``.

    ``environ`` defaults to ``os.environ``.

    Examples
    --------
    >>> str(cache_dir({"POPULACE_JAX_CACHE": "/tmp/jax-cache"}))
    '/tmp/jax-cache'
    >>> str(cache_dir({"POPULACE_HOME": "/data/populace"}))
    '/data/populace/jax'
    >>> cache_dir({"POPULACE_JAX_CACHE": "off"}) is None
    True
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("POPULACE_JAX_CACHE", "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return pathlib.Path(chosen)
    from populace.language_models import populace_home

    return populace_home(environ) / "jax"


def setup_jax(chains: int) -> int:
    """Configure JAX for ``chains`` parallel chains; return the number of host devices.

    Parameters
    ----------
    chains
        Chains to run. When JAX has not started yet, it is given that many host
        devices so chains run in parallel across the cores.

    Returns
    -------
    int
        Devices JAX actually has (fewer than ``chains`` when it had started already).
    """
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if _DEVICE_FLAG not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {_DEVICE_FLAG}={max(chains, os.cpu_count() or 1)}".strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    _use_cache(jax)
    # NumPyro imports tqdm.auto, which in a Jupyter kernel without ipywidgets warns that it
    # cannot draw widget bars; populace draws no bars there (populace.progress), so the
    # warning says nothing to the user.
    warnings.filterwarnings("ignore", message="IProgress not found")
    return jax.local_device_count()


def _use_cache(jax) -> None:  # noqa: ANN001 - the jax module
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # an unwritable home: compile every time, as without the cache
        jax.config.update("jax_compilation_cache_dir", None)
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHE_MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)
