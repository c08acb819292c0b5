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

OUTCOME_KEYS = (
    "outcome",
    "levels",
    "data",
    "predictors",
    "by",
    "simulator",
    "evidence",
    "common_error",
    "correlated_error",
    "lean_predictor",
)
EVIDENCE_KEYS = ("file", "share", "among", "bias", "error")
CORRELATED_KEYS = ("attribute", "levels", "sd")
LEAN_KEYS = ("file", "column")
# Prior sd of an error shared by every published share (all polls off together): the
# average absolute state poll error of US presidential elections 2000-2016 was 2-5 points
# (Shirani-Mehr et al. 2018, "Disentangling bias and variance in election polls").
DEFAULT_EVIDENCE_BIAS = 0.02
# The sd of each published share's own error beyond its sampling error (a state poll
# average's election-level error that other states do not share): fixed, not learned,
# because with one share per group the data cannot tell it from the survey's own lean in
# that group; the same paper puts the average absolute election-level error near 2 points.
DEFAULT_EVIDENCE_ERROR = 0.02
DATA_KEYS = ("file", "weight")
SIMULATOR_KEYS = ("model", "question", "answers", "template")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Evidence:
    """Published shares of the outcome by group (poll averages), with standard errors.

    The file has the group attributes' columns, ``share`` (0-1) and ``se``; ``share`` is
    the share of the ``share`` levels among the ``among`` levels (a two-party share:
    ``share: [trump]``, ``among: [trump, clinton]``). They enter the outcome model as
    ``share ~ Normal(true share + bias, se^2 + error^2)``: one ``bias`` shared by every
    row of the file (prior sd ``bias``) and each row's own error (sd ``error``, fixed). A
    file without group columns gives shares of the whole population (national polls).
    """

    source: TableSource
    share: tuple[str, ...]
    among: tuple[str, ...]
    bias: float = DEFAULT_EVIDENCE_BIAS
    error: float = DEFAULT_EVIDENCE_ERROR


@dataclasses.dataclass(frozen=True, kw_only=True)
class CorrelatedError:
    """An error every evidence source and the survey share, growing with a group's composition.

    In group ``g`` every published share and the survey miss the truth by
    ``gamma * (c_g - c)``, where ``c_g`` is the group's population share of ``levels`` of
    ``attribute``, ``c`` that share over the whole population, and
    ``gamma ~ Normal(0, sd)`` is unknown: groups alike in that composition miss together
    (polls and surveys reaching too few of the same kind of people), while the whole
    population's share is barely touched. Shared by every source, it cannot be learned
    from them: it is drawn from its prior, and widens the groups' intervals in proportion
    to how far their composition sits from the population's.
    """

    attribute: str
    levels: tuple[str, ...]
    sd: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class LeanPredictor:
    """A group-level predictor along which the survey's lean from the evidence may vary.

    A file with one row per group of the evidence (a column per group attribute) and a
    numeric ``column``, known before the outcome (last election's log odds by state). The
    survey's house effect by group is pooled toward ``kappa * x_g`` rather than toward
    zero (``x`` standardised, ``kappa`` learned): a survey whose groups differ less, or
    more, than the truth (too few partisans of either side where they are many) then
    leaves its compressed pattern behind instead of pulling the groups toward each other.
    """

    source: TableSource
    column: str


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
    # Published shares, one entry per source (state polls, national polls), each with its own shared error.
    evidence: tuple[Evidence, ...] = ()
    # Errors shared by the evidence and the survey, drawn from their priors (need evidence):
    # the sd of one error of every group, and one growing with a group's composition.
    common_error: float = 0.0
    correlated_error: CorrelatedError | None = None
    # A group-level predictor of the survey's lean by the evidence's groups (needs evidence).
    lean_predictor: LeanPredictor | None = None
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
        _known_keys(raw, OUTCOME_KEYS, "", path.name)
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
        _known_keys(data, DATA_KEYS, " in data", path.name)
        if simulator is not None and list(simulator["answers"]) != list(levels):
            raise SpecError(
                f"simulator.answers must give an answer text for each level, in order: {', '.join(levels)}",
                file=path.name,
            )
        evidence = _evidence(raw.get("evidence"), tuple(levels), path.name)
        correlated = _correlated(raw.get("correlated_error"), path.name)
        if correlated is not None and not evidence:
            raise SpecError("'correlated_error' is an error of published shares: it needs 'evidence'", file=path.name)
        common = _positive(raw, "common_error", 0.0, path.name, where="common_error") if "common_error" in raw else 0.0
        if common and not evidence:
            raise SpecError("'common_error' is an error of published shares: it needs 'evidence'", file=path.name)
        lean = _lean(raw.get("lean_predictor"), path.name)
        if lean is not None and not evidence:
            raise SpecError(
                "'lean_predictor' varies the survey's lean from published shares: it needs 'evidence'", file=path.name
            )
        return cls(
            outcome=raw["outcome"],
            evidence=evidence,
            lean_predictor=lean,
            common_error=common,
            correlated_error=correlated,
            levels=tuple(levels),
            source=TableSource(file=data["file"]),
            weight=data.get("weight") or None,
            predictors=None if raw.get("predictors") in (None, "", "null") else tuple(_list(raw["predictors"])),
            by=tuple(_list(raw.get("by") or [])),
            simulator=simulator,
            base_dir=path.resolve().parent,
            name=path.name,
        )


def _known_keys(block: dict, allowed: tuple[str, ...], where: str, name: str) -> None:
    """Refuse a key of ``block`` that is not ``allowed`` (``where``: " in data" and the like)."""
    for key in block:
        if key not in allowed:
            raise SpecError(f"unknown key '{key}'{where} (allowed: {', '.join(allowed)})", file=name)


def _simulator(block: object, name: str) -> dict[str, Any] | None:
    """The ``simulator`` block: a causal LM answering as each persona (None: the regression)."""
    if block in (None, "", "null", "~"):
        return None
    if not isinstance(block, dict):
        raise SpecError("'simulator' must be null or {model, question, answers[, template]}", file=name)
    _known_keys(block, SIMULATOR_KEYS, " in simulator", name)
    for key in ("question", "answers"):
        if key not in block:
            raise SpecError(f"simulator needs '{key}'", file=name)
    if not isinstance(block["answers"], dict):
        raise SpecError("simulator.answers must map each outcome level to its answer text", file=name)
    return {"model": block.get("model", "gemma3-270m"), **block}


def _evidence(block: object, levels: tuple[str, ...], name: str) -> tuple[Evidence, ...]:
    """The ``evidence`` block: published shares of the outcome by group, one source or a list of them."""
    if block in (None, "", "null", "~"):
        return ()
    if isinstance(block, list):
        if not block:
            raise SpecError("'evidence' lists no sources", file=name)
        sources = tuple(_one_evidence(b, levels, name) for b in block)
        files = [e.source.file for e in sources]
        if len(set(files)) != len(files):
            raise SpecError("'evidence' names a file twice", file=name)
        if len({(e.share, e.among) for e in sources}) > 1:
            raise SpecError("every evidence source must give the same share (the same 'share' and 'among')", file=name)
        return sources
    return (_one_evidence(block, levels, name),)


def _one_evidence(block: object, levels: tuple[str, ...], name: str) -> Evidence:
    """One source of published shares."""
    if not isinstance(block, dict):
        raise SpecError("'evidence' must be {file, share, among[, bias, error]} or a list of them", file=name)
    _known_keys(block, EVIDENCE_KEYS, " in evidence", name)
    for key in ("file", "share"):
        if key not in block:
            raise SpecError(f"evidence needs '{key}'", file=name)
    share = tuple(_list(block["share"]))
    among = tuple(_list(block.get("among") or list(levels)))
    for level in (*share, *among):
        if level not in levels:
            raise SpecError(f"evidence names '{level}', not an outcome level ({', '.join(levels)})", file=name)
    if not set(share) <= set(among):
        raise SpecError("evidence.share must be among the evidence.among levels", file=name)
    bias = _positive(block, "bias", DEFAULT_EVIDENCE_BIAS, name)
    error = _positive(block, "error", DEFAULT_EVIDENCE_ERROR, name)
    return Evidence(source=TableSource(file=str(block["file"])), share=share, among=among, bias=bias, error=error)


def _keyed_block(block: object, key: str, keys: tuple[str, ...], name: str) -> dict | None:
    """A top-level block ``key`` that must be a mapping holding every one of ``keys`` (``None``: absent)."""
    if block in (None, "", "null", "~"):
        return None
    if not isinstance(block, dict):
        raise SpecError(f"'{key}' must be {{{', '.join(keys)}}}", file=name)
    _known_keys(block, keys, f" in {key}", name)
    for k in keys:
        if block.get(k) in (None, ""):
            raise SpecError(f"{key} needs '{k}'", file=name)
    return block


def _correlated(block: object, name: str) -> CorrelatedError | None:
    """The ``correlated_error`` block: {attribute, levels, sd}."""
    block = _keyed_block(block, "correlated_error", CORRELATED_KEYS, name)
    if block is None:
        return None
    levels = tuple(_list(block["levels"]))
    if not levels:
        raise SpecError("correlated_error.levels lists no level", file=name)
    sd = _positive(block, "sd", 0.0, name, where="correlated_error")
    return CorrelatedError(attribute=str(block["attribute"]), levels=levels, sd=sd)


def _lean(block: object, name: str) -> LeanPredictor | None:
    """The ``lean_predictor`` block: {file, column}."""
    block = _keyed_block(block, "lean_predictor", LEAN_KEYS, name)
    if block is None:
        return None
    for key in LEAN_KEYS:
        if not isinstance(block[key], str):
            raise SpecError(f"lean_predictor.{key} must be a text, got {block[key]!r}", file=name)
    return LeanPredictor(source=TableSource(file=block["file"]), column=block["column"])


def _positive(block: dict, key: str, default: float, name: str, where: str = "evidence") -> float:
    """A positive number from an evidence (or ``where``) block (``where == key``: a top-level key)."""
    label = key if where == key else f"{where}.{key}"
    try:
        value = float(block.get(key, default))
    except (TypeError, ValueError):
        raise SpecError(f"{label} must be a number, got {block[key]!r}", file=name) from None
    if not value > 0:
        raise SpecError(f"{label} must be positive, got {value}", file=name)
    return value


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
    # Per predictor: None when the data give its levels; for a predictor the data give
    # only as coarse sets (college yes/no), the set of each of its levels, and the codes
    # run over the sets.
    level_maps: tuple[np.ndarray | None, ...] = ()
    sizes: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvidenceData:
    """Checked published shares: group codes, shares, standard errors, and which levels count."""

    groups: tuple[str, ...]
    codes: np.ndarray  # (rows, groups): level indices
    share: np.ndarray
    se: np.ndarray
    numerator: tuple[int, ...]
    denominator: tuple[int, ...]
    bias: float
    error: float
    name: str = "evidence"


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
    level_maps: list[np.ndarray | None] = []
    sizes: list[int] = []
    for j, p in enumerate(predictors):
        attribute = spec.attribute(p)
        values = frame[p].tolist()
        coarse = attribute.coarse and any(v in attribute.coarse_names for v in values)
        level_maps.append(_coarse_levels(attribute, name, p) if coarse else None)
        names = attribute.coarse_names if coarse else attribute.levels
        sizes.append(len(names))
        levels = {v: i for i, v in enumerate(names)}
        for row, value in enumerate(values):
            if value == "":
                continue
            if value not in levels:
                what = "coarse set" if coarse else "level"
                raise DataError(
                    f"unknown {what} '{value}' for attribute '{p}' (one of {', '.join(names)}"
                    + (
                        "; a predictor is given either by its levels or by its coarse sets, not both)"
                        if coarse
                        else ")"
                    ),
                    file=name,
                    row=row + 1,
                    column=p,
                    value=value,
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
        level_maps=tuple(level_maps),
        sizes=tuple(sizes),
    )


def _coarse_levels(attribute: Any, name: str, column: str) -> np.ndarray:
    """The coarse set of each level, when the sets cover every level exactly once."""
    owner = np.full(len(attribute.levels), -1)
    for j, members in enumerate(attribute.coarse_sets):
        for level in members:
            if owner[level] >= 0:
                raise DataError(
                    f"the coarse sets of '{attribute.name}' overlap at '{attribute.levels[level]}': a predictor "
                    "given by coarse sets needs each level in exactly one set",
                    file=name,
                    column=column,
                )
            owner[level] = j
    if (owner < 0).any():
        missing = attribute.levels[int(np.argmin(owner))]
        raise DataError(
            f"level '{missing}' of '{attribute.name}' is in no coarse set: a predictor given by coarse sets "
            "needs each level in exactly one set",
            file=name,
            column=column,
        )
    return owner


def load_evidence(outcome: OutcomeSpec, spec: Spec) -> tuple[EvidenceData, ...]:
    """Read and check the outcome spec's published shares against the population's attributes.

    Returns
    -------
    tuple of EvidenceData
        One per source in the spec's ``evidence`` (empty without one).

    Raises
    ------
    DataError
        A column that is not an attribute, ``share`` or ``se``; an unknown level; a share
        outside [0, 1] or a negative standard error; naming file, row and column.
    """
    return tuple(_load_one_evidence(outcome, evidence, spec) for evidence in outcome.evidence)


def _load_one_evidence(outcome: OutcomeSpec, evidence: Evidence, spec: Spec) -> EvidenceData:
    """One source's shares. A file without group columns gives shares of the whole population."""
    name = evidence.source.file
    frame = parse_csv(read_source(evidence.source, outcome.base_dir), name)
    for col in ("share", "se"):
        if col not in frame.columns:
            raise DataError(f"has no '{col}' column (evidence files have group columns, share and se)", file=name)
    groups = tuple(c for c in frame.columns if c not in ("share", "se"))
    for g in groups:
        if g not in spec.names:
            raise DataError(f"is not an attribute of the posterior ({', '.join(spec.names)})", file=name, column=g)
    codes = _group_codes(frame, groups, spec, name)
    share = parse_numbers(frame, name, "share", "share")
    se = parse_numbers(frame, name, "se", "standard error")
    for row in range(len(frame)):
        if share[row] > 1:
            raise DataError(f"share {share[row]} is above 1", file=name, row=row + 1, column="share")
        # 0 is allowed: a share without sampling error (last election's result moved by
        # a swing) still has its own ``error``, which is always positive.
        if se[row] < 0:
            raise DataError(f"standard error {se[row]} is negative", file=name, row=row + 1, column="se")
    return EvidenceData(
        groups=groups,
        codes=codes,
        share=share,
        se=se,
        numerator=tuple(outcome.levels.index(v) for v in evidence.share),
        denominator=tuple(outcome.levels.index(v) for v in evidence.among),
        bias=evidence.bias,
        error=evidence.error,
        name=name,
    )


def load_lean_predictor(outcome: OutcomeSpec, spec: Spec, groups: tuple[str, ...]) -> np.ndarray | None:
    """The spec's lean predictor over the evidence's groups, standardised (``None`` without one).

    Parameters
    ----------
    outcome
        The outcome spec.
    spec
        The posterior's spec (levels of the group attributes).
    groups
        The group attributes, in the order their grid is raveled (predictor order).

    Returns
    -------
    numpy.ndarray or None
        One value per combination of the groups' levels (C order), centred and scaled to
        unit standard deviation.

    Raises
    ------
    DataError
        A group column missing, an unknown or repeated group, a group without a value, a
        value that is not a number, or values that do not vary; naming file, row and column.
    """
    lean = outcome.lean_predictor
    if lean is None:
        return None
    name = lean.source.file
    frame = parse_csv(read_source(lean.source, outcome.base_dir), name)
    if lean.column not in frame.columns:
        raise DataError(f"has no column '{lean.column}' (lean_predictor.column)", file=name)
    for g in groups:
        if g not in frame.columns:
            raise DataError(f"has no column for the evidence's group attribute '{g}'", file=name, column=g)
    shape = tuple(len(spec.attribute(g).levels) for g in groups)
    codes = _group_codes(frame, groups, spec, name)
    values = parse_numbers(frame, name, lean.column, "lean predictor", negative=True)
    flat = np.ravel_multi_index(tuple(codes.T), shape) if groups else np.zeros(len(frame), dtype=int)
    out = np.full(int(np.prod(shape)), np.nan)
    for row, cell in enumerate(flat):
        if not np.isnan(out[cell]):
            raise DataError(
                "gives this group a second time", file=name, row=row + 1, column=groups[0] if groups else None
            )
        out[cell] = values[row]
    if np.isnan(out).any():
        missing = np.unravel_index(int(np.argmax(np.isnan(out))), shape)
        label = ", ".join(f"{g}={spec.attribute(g).levels[i]}" for g, i in zip(groups, missing, strict=True))
        raise DataError(f"has no value for the group {label}", file=name, column=lean.column)
    if not out.std() > 0:
        raise DataError("the lean predictor does not vary between groups", file=name, column=lean.column)
    return (out - out.mean()) / out.std()


def _group_codes(frame: Any, groups: tuple[str, ...], spec: Spec, name: str) -> np.ndarray:
    """Level indices of the group columns, ``(rows, groups)``; an unknown level names file, row and column."""
    codes = np.zeros((len(frame), len(groups)), dtype=int)
    for j, g in enumerate(groups):
        levels = {v: i for i, v in enumerate(spec.attribute(g).levels)}
        for row, value in enumerate(frame[g].tolist()):
            if value not in levels:
                raise DataError(f"unknown level '{value}' for attribute '{g}'", file=name, row=row + 1, column=g)
            codes[row, j] = levels[value]
    return codes
