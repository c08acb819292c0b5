"""The outcome spec (DESIGN.md section 2): what is predicted, from which data, reported by what.

Reading checks keys, then the data file against the posterior's attributes: every
mistake is a :class:`~populace.errors.DataError` or :class:`~populace.errors.SpecError`
naming the file, row, column and value.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import yaml

from populace.data.inputs import parse_csv, parse_numbers, read_source
from populace.errors import DataError, SpecError
from populace.spec import Spec, TableSource

OUTCOME_KEYS = ("outcome", "levels", "data", "predictors", "by", "simulator")
DATA_KEYS = ("file", "weight")
SIMULATOR_KEYS = ("model", "question", "answers", "template")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutcomeSpec:
    """An outcome to forecast over the population."""

    outcome: str
    levels: tuple[str, ...]
    source: TableSource
    weight: str | None = None
    predictors: tuple[str, ...] | None = None
    by: tuple[str, ...] = ()
    simulator: Mapping[str, Any] | None = None
    base_dir: pathlib.Path = pathlib.Path(".")
    name: str = "outcome"

    @classmethod
    def from_yaml(cls, path: str | pathlib.Path) -> OutcomeSpec:
        """Read an outcome spec; paths inside it are relative to the file."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise SpecError("no such outcome spec file", file=str(path))
        try:
            raw = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=yaml.BaseLoader)  # noqa: S506
        except yaml.YAMLError as exc:
            raise SpecError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=path.name) from None
        if not isinstance(raw, dict):
            raise SpecError("the outcome spec must be a mapping with 'outcome', 'levels' and 'data'", file=path.name)
        for key in raw:
            if key not in OUTCOME_KEYS:
                raise SpecError(f"unknown key '{key}' (allowed: {', '.join(OUTCOME_KEYS)})", file=path.name)
        simulator = _simulator(raw.get("simulator"), path.name)
        for key in ("outcome", "levels") + (() if simulator else ("data",)):
            if key not in raw:
                raise SpecError(f"missing key '{key}'", file=path.name)
        levels = raw["levels"]
        if not isinstance(levels, list) or len(levels) < 2 or not all(isinstance(v, str) for v in levels):
            raise SpecError("'levels' must list at least two outcome levels", file=path.name)
        if len(set(levels)) != len(levels):
            raise SpecError("'levels' lists a level twice", file=path.name)
        data = raw.get("data", {"file": ""})
        data = {"file": data} if isinstance(data, str) else data
        if not isinstance(data, dict) or "file" not in data:
            raise SpecError("'data' must be {file: ..., weight: ...}", file=path.name)
        for key in data:
            if key not in DATA_KEYS:
                raise SpecError(f"unknown key '{key}' in data (allowed: {', '.join(DATA_KEYS)})", file=path.name)
        if simulator is not None and list(simulator["answers"]) != list(levels):
            raise SpecError(
                f"simulator.answers must give an answer text for each level, in order: {', '.join(levels)}",
                file=path.name,
            )
        return cls(
            outcome=raw["outcome"],
            levels=tuple(levels),
            source=TableSource(file=data["file"]),
            weight=data.get("weight") or None,
            predictors=None if raw.get("predictors") in (None, "", "null") else tuple(_list(raw["predictors"])),
            by=tuple(_list(raw.get("by") or [])),
            simulator=simulator,
            base_dir=path.resolve().parent,
            name=path.name,
        )


def _simulator(block: object, name: str) -> dict[str, Any] | None:
    """The ``simulator`` block: a causal LM answering as each persona (None: the regression)."""
    if block in (None, "", "null", "~"):
        return None
    if not isinstance(block, dict):
        raise SpecError("'simulator' must be null or {model, question, answers[, template]}", file=name)
    for key in block:
        if key not in SIMULATOR_KEYS:
            raise SpecError(f"unknown key '{key}' in simulator (allowed: {', '.join(SIMULATOR_KEYS)})", file=name)
    for key in ("question", "answers"):
        if key not in block:
            raise SpecError(f"simulator needs '{key}'", file=name)
    if not isinstance(block["answers"], dict):
        raise SpecError("simulator.answers must map each outcome level to its answer text", file=name)
    return {"model": block.get("model", "gemma3-270m"), **block}


def _list(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise SpecError(f"expected a list of attribute names, got {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutcomeData:
    """Checked outcome data: predictor codes, outcome codes and normalised weights."""

    predictors: tuple[str, ...]
    codes: np.ndarray  # (rows, predictors), level indices in the posterior's spec
    outcome: np.ndarray  # (rows,), outcome level indices
    weights: np.ndarray  # (rows,), summing to Kish's effective sample size
    n_rows: int


def load_outcome_data(outcome: OutcomeSpec, spec: Spec) -> OutcomeData:
    """Read and check the outcome data against the population's attributes.

    Rows with a missing predictor or outcome are dropped; weights are rescaled to Kish's
    effective sample size so they do not overstate the evidence.
    """
    name = outcome.source.file
    frame = parse_csv(read_source(outcome.source, outcome.base_dir), name)
    if outcome.outcome not in frame.columns:
        raise DataError(f"has no outcome column '{outcome.outcome}'", file=name)
    if outcome.weight and outcome.weight not in frame.columns:
        raise DataError(f"has no weight column '{outcome.weight}'", file=name)
    predictors = outcome.predictors
    if predictors is None:
        predictors = tuple(c for c in frame.columns if c in spec.names)
    for p in predictors:
        if p not in spec.names:
            raise DataError(
                f"predictor '{p}' is not an attribute of the posterior ({', '.join(spec.names)})",
                file=outcome.name,
                value=p,
            )
        if p not in frame.columns:
            raise DataError(f"has no column for predictor '{p}'", file=name, column=p)
    for b in outcome.by:
        if b not in spec.names:
            raise DataError(f"by names '{b}', not an attribute of the posterior", file=outcome.name, value=b)
    values = frame[outcome.outcome].tolist()
    lookup = {v: i for i, v in enumerate(outcome.levels)}
    y = np.full(len(frame), -1)
    for row, value in enumerate(values):
        if value == "":
            continue
        if value not in lookup:
            raise DataError(
                f"outcome value '{value}' is not among the declared levels ({', '.join(outcome.levels)})",
                file=name,
                row=row + 1,
                column=outcome.outcome,
                value=value,
            )
        y[row] = lookup[value]
    codes = np.full((len(frame), len(predictors)), -1)
    for j, p in enumerate(predictors):
        levels = {v: i for i, v in enumerate(spec.attribute(p).levels)}
        for row, value in enumerate(frame[p].tolist()):
            if value == "":
                continue
            if value not in levels:
                raise DataError(
                    f"unknown level '{value}' for attribute '{p}'", file=name, row=row + 1, column=p, value=value
                )
            codes[row, j] = levels[value]
    weights = parse_numbers(frame, name, outcome.weight, "weight") if outcome.weight else np.ones(len(frame))
    keep = (y >= 0) & (codes >= 0).all(axis=1) & (weights > 0)
    if not keep.any():
        raise DataError("has no complete rows (outcome and every predictor observed, positive weight)", file=name)
    w = weights[keep]
    n_eff = float(w.sum() ** 2 / (w**2).sum())
    return OutcomeData(
        predictors=tuple(predictors),
        codes=codes[keep],
        outcome=y[keep],
        weights=w * n_eff / w.sum(),
        n_rows=int(keep.sum()),
    )
