"""Saved outcome fits: an outcome model's draws in a NetCDF file, reused while its inputs are unchanged.

``populace forecast`` fits the outcome model once and keeps it beside the posterior
(:func:`default_path`); a later forecast with the same posterior, outcome spec, data
files and sampler settings loads it instead of fitting again (:func:`fit_key` says what
"the same" is). The file holds every array of :class:`~populace.outcomes.model.OutcomeDraws`,
the key, and the fit's diagnostics; no pickle. ``populace check`` reads it too
(:func:`outcome_checks`).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any

import numpy as np
import xarray as xr

from populace.errors import DataError
from populace.inference.diagnostics import MIN_ESS_PER_CHAIN, RHAT_LIMIT
from populace.io import atomic_path
from populace.outcomes.model import OutcomeDraws
from populace.outcomes.spec import OutcomeSpec

# Root attribute that marks an outcome fit file.
KIND = "populace-outcome-fit"
FORMAT_VERSION = "1"
# The joint's thresholds (populace.inference.diagnostics): R-hat, and the ESS per chain,
# here the smallest over all chains together.
MAX_R_HAT = RHAT_LIMIT
MIN_ESS = MIN_ESS_PER_CHAIN


def default_path(posterior: str | os.PathLike[str], outcome: str | os.PathLike[str]) -> pathlib.Path:
    """Where ``populace forecast`` keeps the outcome fit: beside the posterior, named after both.

    Examples
    --------
    >>> default_path("runs/posterior.nc", "specs/vote.yaml").as_posix()
    'runs/posterior.vote.outcome.nc'
    """
    posterior = pathlib.Path(posterior)
    return posterior.with_name(f"{posterior.stem}.{pathlib.Path(outcome).stem}.outcome.nc")


def _outcome_sources(outcome: OutcomeSpec) -> list[Any]:
    sources = [outcome.source] if outcome.source.file else []
    sources += [e.source for e in outcome.evidence]
    if outcome.lean_predictor is not None:
        sources.append(outcome.lean_predictor.source)
    return sources


def fit_key(post: Any, outcome: OutcomeSpec, outcome_text: str, *, draws: int, chains: int, seed: int) -> str:
    """SHA-256 of everything an outcome fit depends on.

    The outcome spec's text and every file it reads (data, evidence, lean predictor), the
    joint's spec, input hashes and fit record (a refit of the joint changes it), and the
    sampler's draws, chains and seed.
    """
    from populace.data.inputs import read_source

    digest = hashlib.sha256()
    parts = [outcome_text, json.dumps([draws, chains, seed])]
    parts += [read_source(source, outcome.base_dir) for source in _outcome_sources(outcome)]
    parts += [str(post.attrs.get(k, "")) for k in ("spec_yaml", "input_hashes_json", "fit_json")]
    for part in parts:
        digest.update(hashlib.sha256(part.encode("utf-8")).digest())
    return digest.hexdigest()


_ARRAYS = (
    "alpha",
    "evidence_bias",
    "house_effect",
    "house_slope",
    "common_error",
    "correlated_error",
    "composition",
    "shift_contrast",
)


def save_outcome(model: OutcomeDraws, path: str | os.PathLike[str], key: str) -> pathlib.Path:
    """Write an outcome fit to ``path`` atomically, with the key it was fitted under."""
    data: dict[str, xr.DataArray] = {}
    for name in _ARRAYS:
        value = getattr(model, name)
        if value is not None:
            value = np.asarray(value)
            data[name] = xr.DataArray(value, dims=[f"{name}_{i}" for i in range(value.ndim)])
    for j, effect in enumerate(model.effects):
        data[f"effect_{j}"] = xr.DataArray(np.asarray(effect), dims=[f"effect_{j}_{i}" for i in range(effect.ndim)])
    for j, level_map in enumerate(model.level_maps):
        if level_map is not None:
            data[f"level_map_{j}"] = xr.DataArray(np.asarray(level_map), dims=[f"level_map_{j}_0"])
    attrs = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "key": key,
        "predictors_json": json.dumps(list(model.predictors)),
        "evidence_names_json": json.dumps(list(model.evidence_names)),
        "n_level_maps": len(model.level_maps),
        "diagnostics_json": json.dumps(model.diagnostics),
    }
    path = pathlib.Path(path)
    with atomic_path(path) as tmp:
        xr.Dataset(data, attrs=attrs).to_netcdf(tmp, engine="h5netcdf")
    return path


def is_outcome_fit(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a readable outcome fit file."""
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.attrs.get("kind") == KIND
    except (OSError, ValueError):
        return False


def load_outcome(path: str | os.PathLike[str]) -> tuple[OutcomeDraws, str]:
    """Read an outcome fit and the key it was fitted under.

    Raises
    ------
    DataError
        When the file is missing or is not an outcome fit.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError("no such outcome fit file", file=str(path))
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except (OSError, ValueError) as exc:
        raise DataError(f"not a readable outcome fit ({type(exc).__name__})", file=str(path)) from None
    if ds.attrs.get("kind") != KIND:
        raise DataError("not a populace outcome fit", file=str(path))
    predictors = tuple(json.loads(ds.attrs["predictors_json"]))
    arrays = {name: ds[name].values for name in _ARRAYS if name in ds}
    n_maps = int(ds.attrs["n_level_maps"])
    model = OutcomeDraws(
        predictors=predictors,
        effects=tuple(ds[f"effect_{j}"].values for j in range(len(predictors))),
        level_maps=tuple(ds[f"level_map_{j}"].values if f"level_map_{j}" in ds else None for j in range(n_maps)),
        evidence_names=tuple(json.loads(ds.attrs["evidence_names_json"])),
        diagnostics=json.loads(ds.attrs["diagnostics_json"]),
        **arrays,
    )
    return model, str(ds.attrs["key"])


def outcome_checks(model: OutcomeDraws) -> list[tuple[str, bool, str]]:
    """The outcome fit's convergence checks: ``(name, passed, detail)`` for R-hat, ESS and divergences.

    Examples
    --------
    >>> d = {"r_hat": 1.02, "ess": 350.0, "divergences": 0}
    >>> model = OutcomeDraws(predictors=(), alpha=np.zeros((400, 1)), effects=(), diagnostics=d)
    >>> [(name, ok) for name, ok, _ in outcome_checks(model)]
    [('outcome model R-hat', False), ('outcome model ESS', True), ('outcome model divergences', True)]
    """
    d = model.diagnostics
    r_hat, ess, divergences = d.get("r_hat", float("nan")), d.get("ess", float("nan")), d.get("divergences", 0)
    return [
        (
            "outcome model R-hat",
            not r_hat > MAX_R_HAT,
            f"largest {r_hat:.3f} (at most {MAX_R_HAT}; NaN with one chain)",
        ),
        ("outcome model ESS", not ess < MIN_ESS, f"smallest {ess:.0f} (at least {MIN_ESS})"),
        ("outcome model divergences", divergences == 0, f"{divergences} after warm-up"),
    ]


def advice(model: OutcomeDraws) -> list[str]:
    """One line per failed check, saying what to do."""
    lines = []
    for name, ok, detail in outcome_checks(model):
        if not ok:
            what = (
                "raise --draws"
                if "divergences" not in name
                else "a predictor with next to no effect makes its level effects a funnel: drop it from "
                "'predictors', or raise --draws"
            )
            lines.append(f"{name}: {detail}; {what} (forecast --draws/--chains fit the outcome model)")
    return lines


__all__ = [
    "advice",
    "default_path",
    "fit_key",
    "is_outcome_fit",
    "load_outcome",
    "outcome_checks",
    "save_outcome",
]
