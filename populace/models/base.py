"""The interface every model kind implements, and the registry that chooses one.

A *model kind* (the spec's ``model.kind``) is a builder: checked inputs in, a built
:class:`Model` out. A built model is a description (NumPy arrays, no sampling): it
gives inference a NumPyro model function, and says which of that function's sites the
posterior keeps and with which named dims. :func:`populace.fit` knows nothing else of
it, so a new kind lands in its own module plus one :func:`register_model` call
(ARCHITECTURE.md, "How to add a model kind").

Examples
--------
A kind that is nothing but a flat Dirichlet prior on the joint (the tests' toy kind):

>>> import dataclasses
>>> @dataclasses.dataclass(frozen=True)
... class Flat:
...     names: tuple[str, ...]
...     shape: tuple[int, ...]
...     def model(self) -> None:
...         import numpyro, numpyro.distributions as dist
...         n = int(np.prod(self.shape))
...         w = numpyro.sample("w", dist.Dirichlet(np.ones(n)))
...         numpyro.deterministic("p", w.reshape(self.shape))
...     @property
...     def recorded(self):
...         return {"p": self.names}
...     def coords(self):
...         return {}
...     def describe(self):
...         return f"{int(np.prod(self.shape))} cells, flat prior"
...     def fit_meta(self):
...         return {}
>>> register_model("flat-doc", lambda inputs, **_: Flat(inputs.spec.names, inputs.spec.shape))
>>> "flat-doc" in model_kinds()
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import numpy as np

from populace.errors import SpecError

# The joint's site name: every model records the population share of each cell as ``p``
# with one dim per attribute (a factorised kind computes it as a deterministic site).
JOINT = "p"
# Entry-point group through which an installed package can add model kinds.
ENTRY_POINT_GROUP = "populace.models"
# Kinds that ship with populace: name -> "module:builder", imported only when used.
BUILTIN_KINDS = {"loglinear": "populace.models.loglinear:build", "decomposable": "populace.models.decomposable:build"}
# Kinds whose joint lives on the cliques of a junction tree, never on the cell grid: their
# inputs are loaded without grid arrays (:func:`populace.data.load_inputs`), and they
# record one site per clique instead of ``p`` (:func:`is_factorised`).
GRID_FREE_KINDS = frozenset({"decomposable"})
# Prefix of a factorised model's clique sites: ``p_0``, ``p_1``, ...
CLIQUE_PREFIX = "p_"


@runtime_checkable
class Model(Protocol):
    """A built model: a NumPyro model function and what its posterior keeps.

    Attributes
    ----------
    shape
        Levels of each attribute: the cell grid of the joint.
    """

    shape: tuple[int, ...]

    def model(self) -> None:
        """The NumPyro model (no arguments): samples its parameters, records the joint as ``p``."""

    @property
    def recorded(self) -> Mapping[str, tuple[str, ...]]:
        """Sites kept in the posterior, each with its dims after ``(chain, draw)``.

        Must hold ``p`` with the spec's attribute names; other sites (hyperparameters,
        effects) name their own dims, whose labels :meth:`coords` gives.
        """

    def coords(self) -> Mapping[str, Sequence[Any]]:
        """Labels of the dims in :attr:`recorded` that are not attributes."""

    def describe(self) -> str:
        """One line for the progress output: cells, parameters, tables to meet."""

    def fit_meta(self) -> dict[str, Any]:
        """JSON-ready facts about the built model, stored with the posterior."""


class ModelBuilder(Protocol):
    """Builds a :class:`Model` from checked inputs (a model kind)."""

    def __call__(self, inputs: Any, *, filter_terms: Sequence[Any] = (), filter_weights: str = "single") -> Model:
        """Build the model; ``filter_terms`` are the LLM filter's scored terms (may be ignored)."""


_REGISTERED: dict[str, Callable[..., Model]] = {}


def register_model(name: str, builder: Callable[..., Model]) -> None:
    """Make ``builder`` the model kind called ``name`` (``model: {kind: NAME}`` in a spec).

    Parameters
    ----------
    name
        The kind's name.
    builder
        ``builder(inputs, *, filter_terms=(), filter_weights="single") -> Model``.
    """
    _REGISTERED[name] = builder


def model_kinds() -> tuple[str, ...]:
    """Names of every model kind: built in, registered, and from installed entry points."""
    names = list(BUILTIN_KINDS) + [n for n in _REGISTERED if n not in BUILTIN_KINDS]
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in names:
            names.append(point.name)
    return tuple(names)


def model_builder(name: str) -> Callable[..., Model]:
    """The builder of the model kind ``name``.

    Raises
    ------
    SpecError
        When no kind has that name.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in BUILTIN_KINDS:
        module, attr = BUILTIN_KINDS[name].split(":")
        return getattr(importlib.import_module(module), attr)
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            return point.load()
    raise SpecError(f"model.kind '{name}' is unknown (use one of {', '.join(model_kinds())})")


def is_factorised(recorded: Mapping[str, Any]) -> bool:
    """True when the recorded sites are clique tables (``p_0``, ...) rather than the joint ``p``."""
    return JOINT not in recorded and f"{CLIQUE_PREFIX}0" in recorded


def check_model(model: Model, names: Sequence[str], shape: tuple[int, ...]) -> None:
    """Raise ``TypeError`` unless ``model`` keeps the joint ``p`` over the spec's attributes.

    A factorised model (:func:`is_factorised`) keeps clique tables instead: their dims must
    be attributes of the spec or its latent class, and its ``fit_meta()`` must hold the
    ``tree`` that joins them.
    """
    if not isinstance(model, Model):
        raise TypeError(f"{type(model).__name__} does not implement populace.models.Model")
    if is_factorised(model.recorded):
        meta = model.fit_meta()
        tree = meta.get("tree")
        if not isinstance(tree, dict) or "cliques" not in tree:
            raise TypeError(f"{type(model).__name__} records clique tables but its fit_meta() has no 'tree'")
        allowed = set(names) | {meta.get("latent")}
        for site, dims in model.recorded.items():
            if site.startswith(CLIQUE_PREFIX) and not set(dims) <= allowed:
                raise TypeError(f"{type(model).__name__}: clique site '{site}' has dims {dims} outside the spec's")
        return
    dims = model.recorded.get(JOINT)
    if dims is None or tuple(dims) != tuple(names):
        raise TypeError(f"{type(model).__name__} must record '{JOINT}' with dims {tuple(names)}, got {dims}")
    if tuple(model.shape) != tuple(shape):
        raise TypeError(f"{type(model).__name__} has shape {model.shape}, the spec's grid is {shape}")


def posterior_variables(
    model: Model, samples: Mapping[str, np.ndarray]
) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """The recorded sites of ``samples`` (arrays shaped chain, draw, ...) with their dims."""
    out = {}
    for name, dims in model.recorded.items():
        if name in samples:
            out[name] = (("chain", "draw", *dims), np.asarray(samples[name]))
    return out
