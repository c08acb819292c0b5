"""populace: recover a population's joint distribution, with honest uncertainty.

The public API (DESIGN.md section 3)::

    import populace as pp
    spec = pp.Spec.from_yaml("spec.yaml")
    post = pp.fit(spec, method="nuts", draws=1000, seed=0)
    post.summary(["age", "sex"], prob=0.9)
    people = pp.personas(post, n=10_000, seed=1)
    table = pp.forecast(post, "outcome.yaml", by=["state"], seed=0)
    post.to_netcdf("posterior.nc"); pp.load("posterior.nc")

Heavy dependencies (JAX, NumPyro, ArviZ, matplotlib) load only when used.
"""

from __future__ import annotations

from typing import Any

from populace.errors import DataError, FitError, PopulaceError, PopulaceInputError, SpecError
from populace.spec import Attribute, InferenceOptions, Microdata, ModelOptions, Spec, TableSource

__version__ = "0.1.0"

__all__ = [
    "Attribute",
    "DataError",
    "FitError",
    "InferenceOptions",
    "Microdata",
    "ModelOptions",
    "Posterior",
    "PopulaceError",
    "PopulaceInputError",
    "Spec",
    "SpecError",
    "TableSource",
    "check",
    "fit",
    "forecast",
    "load",
    "outcome_model",
    "personas",
    "register_method",
    "register_model",
]

_LAZY = {
    "fit": ("populace.inference.fit", "fit"),
    "load": ("populace.posterior", "load"),
    "Posterior": ("populace.posterior", "Posterior"),
    "personas": ("populace", "personas"),
    "check": ("populace.inference.checks", "check"),
    "forecast": ("populace.outcomes.forecast", "forecast"),
    "outcome_model": ("populace.outcomes.forecast", "outcome_model"),
    "register_model": ("populace.models.base", "register_model"),
    "register_method": ("populace.inference.methods", "register_method"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        if module == "populace":  # a callable submodule (see populace.personas)
            return importlib.import_module(f"populace.{attr}")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'populace' has no attribute {name!r}")
