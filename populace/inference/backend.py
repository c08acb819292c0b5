"""Set up JAX once, lazily: 64-bit floats and one host device per chain.

JAX reads its device count when it first starts, so this must run before anything
imports jax; ``import populace`` itself never does.
"""

from __future__ import annotations

import os
import sys

_DEVICE_FLAG = "--xla_force_host_platform_device_count"


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
    return jax.local_device_count()
