"""Seconds JAX spends compiling, so a fit can report compiling and sampling apart.

JAX records how long it traces, lowers and compiles each program (``jax.monitoring``
events; a program loaded from the persistent cache counts its loading time).
:func:`compile_clock` sums them while a block runs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

# The events of one compilation: tracing to a jaxpr, lowering to MLIR, and the backend's
# compile (or load from the persistent cache).
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)

_state = threading.local()
_registered = False
_lock = threading.Lock()


class CompileClock:
    """Seconds of compilation seen since the clock started (read ``seconds``)."""

    def __init__(self) -> None:
        self.seconds = 0.0


def _listener(event: str, duration: float, **_: object) -> None:
    if event in COMPILE_EVENTS:
        for clock in getattr(_state, "clocks", ()):
            clock.seconds += duration


def _register() -> None:
    global _registered
    with _lock:
        if not _registered:
            import jax.monitoring

            jax.monitoring.register_event_duration_secs_listener(_listener)
            _registered = True


@contextlib.contextmanager
def compile_clock() -> Iterator[CompileClock]:
    """Count JAX's compile seconds in this thread while the block runs.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> with compile_clock() as clock:
    ...     _ = jax.jit(lambda x: jnp.sin(x) * 2.0)(jnp.arange(3.0)).block_until_ready()
    >>> clock.seconds > 0
    True
    """
    _register()
    clock = CompileClock()
    clocks = getattr(_state, "clocks", ())
    _state.clocks = (*clocks, clock)
    try:
        yield clock
    finally:
        _state.clocks = clocks
