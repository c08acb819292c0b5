"""Read and check the files a spec names; turn them into arrays over the cell grid.

Checks run in the order of the contract: files, columns, levels, counts, then totals,
so the first mistake reported is the most basic one. Every error names the file, the
row (1-based data row; the header is line 1), the column and the value.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import math
import pathlib

import numpy as np
import pandas as pd

from populace.errors import DataError, SpecError
from populace.spec import Attribute, Spec, TableSource, rule_mask

# Two tables with standard errors (or one with and one exact) may disagree on a shared
# margin by this many combined standard errors before the inputs are called inconsistent.
TOTALS_Z = 4.0
# Exact tables must agree to this relative tolerance (float round-off in published totals).
EXACT_RTOL = 1e-6
# Counts, standard errors and weights above this are refused: no population is that
# large, and squares of such numbers overflow (found by benchmarks/fuzz_readers.py).
MAX_NUMBER = 1e15
# A published se of 0 (typical for empty cells) would make a Gaussian term infinitely
# sharp; such cells get this floor, in persons.
SE_FLOOR = 0.5
# Largest cell grid the grid-based models take: every fit keeps each draw of the joint
# over the whole grid (4,000 draws x 10 million cells x 8 bytes = 320 GB), and the largest
# fit measured here had 100,000 cells (BENCHMARKS.md, scaling).
MAX_GRID_CELLS = 10_000_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class Table:
    """A marginal table over ``axes`` (positions in the grid), as a dense array of counts."""

    source: str
    axes: tuple[int, ...]
    counts: np.ndarray
    se: np.ndarray | None

    @property
    def exact(self) -> bool:
        """True when the table is a census count (no ``se`` column)."""
        return self.se is None

    @property
    def total(self) -> float:
        """Grand total of the table."""
        return float(self.counts.sum())


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sample:
    """Weighted microdata, grouped by which attributes each row observes.

    ``patterns`` pairs the observed axes with the weighted counts over their margin;
    weights are rescaled so that all counts add up to the effective sample size. Rows
    that report a coarse value (a named set of levels, :class:`populace.spec.Attribute`)
    on some axis are in ``coarse_patterns`` instead: their counts run over each axis's
    levels followed by its coarse sets (:func:`coarse_map`).
    """

    source: str
    patterns: tuple[tuple[tuple[int, ...], np.ndarray], ...]
    coarse_patterns: tuple[tuple[tuple[int, ...], np.ndarray], ...] = ()
    n_rows: int
    n_effective: float
    weight_total: float
    # Per kept row: its 1-based row in the file and its level code on every axis (-1 where
    # not observed), so an impossible person can be reported by row; and its weight as
    # given in the file, so that rows can be resampled (:func:`take_rows`).
    row_numbers: np.ndarray | None = None
    row_cells: np.ndarray | None = None
    row_weights: np.ndarray | None = None

    @property
    def scaled_weights(self) -> np.ndarray | None:
        """Each kept row's weight rescaled so that they add up to the effective sample size (as in ``patterns``)."""
        if self.row_weights is None:
            return None
        return _kish_scaled(np.asarray(self.row_weights, dtype=float))[1]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Inputs:
    """Everything the model needs, checked: tables, sample, support and population size."""

    spec: Spec
    tables: tuple[Table, ...]
    sample: Sample | None
    # The cells not ruled out; None when the inputs were loaded without the grid.
    support: np.ndarray | None
    population: float
    texts: dict[str, str]

    @property
    def exact_tables(self) -> tuple[Table, ...]:
        """Tables without standard errors."""
        return tuple(t for t in self.tables if t.exact)

    @property
    def se_tables(self) -> tuple[Table, ...]:
        """Tables with standard errors."""
        return tuple(t for t in self.tables if not t.exact)

    @property
    def unconstrained(self) -> tuple[str, ...]:
        """Attributes that no table holds and no sampled person reports: only the prior spreads them.

        Such an attribute multiplies the cell grid by its levels and gets uniform shares
        (within the rules) whatever the data say, which is rarely what was meant.
        """
        seen = {a for t in self.tables for a in t.axes}
        if self.sample is not None:
            seen |= {a for axes, _ in (*self.sample.patterns, *self.sample.coarse_patterns) for a in axes}
        return tuple(name for a, name in enumerate(self.spec.names) if a not in seen)

    def hashes(self) -> dict[str, str]:
        """SHA-256 of every input text, keyed by its name."""
        return {k: hashlib.sha256(v.encode("utf-8")).hexdigest() for k, v in self.texts.items()}


def read_source(source: TableSource, base_dir: pathlib.Path) -> str:
    """Return the text of a CSV source, reading it from disk when it is not in memory."""
    if source.text is not None:
        return source.text
    path = base_dir / source.file
    if not path.is_file():
        raise DataError("no such file (paths in a spec are relative to the spec file)", file=source.file)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", file=source.file) from None


def check_grid_size(spec: Spec) -> None:
    r"""Refuse a spec whose cell grid is too large for the grid-based models, before anything is allocated.

    Raises
    ------
    SpecError
        Naming the number of cells and the limit.

    Examples
    --------
    >>> table = TableSource(file="a0.csv", text="a0,count\nw,1\nx,1\ny,1\nz,1\n")
    >>> attributes = tuple(Attribute(name=f"a{i}", levels=tuple("wxyz")) for i in range(18))
    >>> big = Spec(attributes=attributes, marginals=[table])
    >>> try:
    ...     check_grid_size(big)
    ... except SpecError as exc:
    ...     print(str(exc)[:62])
    spec: the cell grid has 68,719,476,736 cells (18 attributes; 4
    """
    cells = math.prod(spec.shape)
    if cells > MAX_GRID_CELLS:
        levels = " x ".join(str(k) for k in spec.shape)
        raise SpecError(
            f"{spec.name}: the cell grid has {cells:,} cells ({len(spec.shape)} attributes; {levels} levels), "
            f"more than the {MAX_GRID_CELLS:,} the cell-grid model '{spec.model.kind}' can hold: use "
            "model: {kind: decomposable}, which scales with attributes, not cells "
            "(or fewer attributes or coarser levels)"
        )


def load_inputs(spec: Spec, texts: dict[str, str] | None = None, *, grid: bool | None = None) -> Inputs:
    """Read every file the spec names, check it, and build the arrays the model needs.

    Parameters
    ----------
    spec
        The spec to load.
    texts
        Optional file texts keyed by the names in the spec (used when a posterior file
        carries its own inputs); files not given are read from disk.
    grid
        Build the arrays over the cell grid (the support mask and the sample's patterns).
        Default: unless the spec's model kind works without the grid
        (:data:`populace.models.base.GRID_FREE_KINDS`). Without it ``support`` is None,
        the sample keeps its rows only (``row_cells``, ``row_weights``), the grid may be
        of any size, and sampled persons are checked against the zero cells of each exact
        table and each rule whose attributes they fully answer.

    Returns
    -------
    Inputs
        Checked tables, sample, support mask and population size.

    Raises
    ------
    DataError
        When a file is missing, malformed or inconsistent with the others.
    """
    from populace.models.base import GRID_FREE_KINDS

    grid = spec.model.kind not in GRID_FREE_KINDS if grid is None else grid
    if grid:
        check_grid_size(spec)
    texts = dict(texts or {})
    sources = list(spec.marginals) + ([spec.microdata.source] if spec.microdata else [])
    for source in sources:
        if source.file not in texts:
            texts[source.file] = read_source(source, spec.base_dir)
    frames = {s.file: parse_csv(texts[s.file], s.file) for s in sources}

    shape = spec.shape
    tables = []
    for source in spec.marginals:
        tables.append(_table(spec, source.file, frames[source.file]))
    sample = None
    if spec.microdata is not None:
        sample = _sample(
            spec, spec.microdata.source.file, frames[spec.microdata.source.file], spec.microdata.weight, grid=grid
        )
    if not grid:
        population = _check_totals(spec, tables, sample)
        _check_rows(spec, tables, sample)
        _check_rules_locally(spec, tables, sample)
        return Inputs(spec=spec, tables=tuple(tables), sample=sample, support=None, population=population, texts=texts)

    support = np.ones(shape, dtype=bool)
    for axes, zero in rule_zeros(spec):
        support &= ~_expand(zero, axes, len(shape))
    for table in tables:
        if table.exact:
            support &= _expand(table.counts > 0, table.axes, len(shape))

    population = _check_totals(spec, tables, sample)
    _check_support(spec, tables, sample, support)
    return Inputs(spec=spec, tables=tuple(tables), sample=sample, support=support, population=population, texts=texts)


def parse_csv(text: str, name: str) -> pd.DataFrame:
    """Parse CSV text with every value kept as a string (empty = missing), checking the header."""
    if "\x00" in text:
        raise DataError("contains NUL bytes; is it a binary file?", file=name)
    try:
        header = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:
        raise DataError(f"not a readable CSV header: {exc}", file=name) from None
    if not header or all(not h.strip() for h in header):
        raise DataError("is empty: expected a header row", file=name)
    header = [h.strip() for h in header]
    seen = set()
    for h in header:
        if h == "":
            raise DataError("has a column with an empty name in the header", file=name)
        if h in seen:
            raise DataError("the column appears twice in the header", file=name, column=h)
        seen.add(h)
    # pandas would take a first column of row labels from rows longer than the header
    # (shifting every value one column left), so such rows are refused here.
    try:
        records = csv.reader(io.StringIO(text))
        next(records)
        for row, record in enumerate((r for r in records if r), start=1):
            if len(record) > len(header):
                raise DataError(
                    f"has {len(record)} fields but the header has {len(header)}", file=name, row=row, value=record
                )
    except csv.Error as exc:
        raise DataError(f"cannot be parsed as CSV: {exc}", file=name) from None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"cannot be parsed as CSV: {' '.join(str(exc).split())}", file=name) from None
    frame.columns = header
    return frame


def _attribute_columns(spec: Spec, frame: pd.DataFrame, name: str, extra: tuple[str, ...]) -> list[str]:
    columns = []
    for col in frame.columns:
        if col in extra:
            continue
        if col not in spec.names:
            raise DataError(
                f"is neither an attribute of the spec ({', '.join(spec.names)}) nor one of {', '.join(extra)}",
                file=name,
                column=col,
            )
        columns.append(col)
    return columns


def coarse_map(attribute: Attribute) -> np.ndarray:
    """From an attribute's levels to its levels then its coarse sets: 0/1, shape (levels, levels + sets).

    Examples
    --------
    >>> coarse_map(Attribute(name="edu", levels=("hs", "ba", "grad"), coarse={"college": ("ba", "grad")}))
    array([[1., 0., 0., 0.],
           [0., 1., 0., 1.],
           [0., 0., 1., 1.]])
    """
    k = len(attribute.levels)
    out = np.zeros((k, k + len(attribute.coarse)))
    out[:, :k] = np.eye(k)
    for j, members in enumerate(attribute.coarse_sets):
        out[list(members), k + j] = 1.0
    return out


def _level_codes(
    spec: Spec, frame: pd.DataFrame, name: str, col: str, allow_missing: bool, allow_coarse: bool = False
) -> np.ndarray:
    attribute = spec.attribute(col)
    levels = attribute.levels
    lookup = {level: i for i, level in enumerate(levels)}
    if allow_coarse:
        lookup |= {group: len(levels) + j for j, group in enumerate(attribute.coarse_names)}
    codes = np.empty(len(frame), dtype=np.int64)
    for row, value in enumerate(frame[col].tolist()):
        if value == "" and allow_missing:
            codes[row] = -1
            continue
        code = lookup.get(value)
        if code is None and attribute.continuous and allow_coarse:
            code = _bin_code(attribute, value, name=name, row=row + 1)
        if code is None:
            hint = " (levels are matched exactly as text)" if value.strip() in lookup else ""
            if attribute.continuous:
                hint += " (a table names its bins; a sample may also give numbers)"
            coarse = f"; coarse: {', '.join(attribute.coarse_names)}" if allow_coarse and attribute.coarse else ""
            raise DataError(
                f"unknown level '{value}' for attribute '{col}' (declared: {', '.join(levels)}{coarse}){hint}",
                file=name,
                row=row + 1,
                column=col,
                value=value,
            )
        codes[row] = code
    return codes


def _bin_code(attribute: Attribute, value: str, *, name: str, row: int) -> int | None:
    """A sample's number for a continuous attribute: its bin, or a DataError when it is outside them."""
    try:
        number = float(value)
    except ValueError:
        return None
    code = int(attribute.bin_codes([number])[0])
    if code < 0:
        raise DataError(
            f"value '{value}' for attribute '{attribute.name}' is outside its bins "
            f"({attribute.bins[0]:g} to {attribute.bins[-1]:g})",
            file=name,
            row=row,
            column=attribute.name,
            value=value,
        )
    return code


def parse_numbers(frame: pd.DataFrame, name: str, col: str, what: str, *, negative: bool = False) -> np.ndarray:
    """Column ``col`` as finite, non-negative (or with ``negative``, any sign), plausibly sized numbers.

    A value that is not one raises a DataError naming the file, row, column and value.
    """
    out = np.empty(len(frame), dtype=float)
    for row, value in enumerate(frame[col].tolist()):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise DataError(f"{what} '{value}' is not a finite number", file=name, row=row + 1, column=col, value=value)
        if number < 0 and not negative:
            raise DataError(f"{what} '{value}' is negative", file=name, row=row + 1, column=col, value=value)
        if abs(number) > MAX_NUMBER:
            raise DataError(
                f"{what} '{value}' is implausibly large (above {MAX_NUMBER:.0e})",
                file=name,
                row=row + 1,
                column=col,
                value=value,
            )
        out[row] = number
    return out


def _table(spec: Spec, name: str, frame: pd.DataFrame) -> Table:
    if "count" not in frame.columns:
        raise DataError("has no 'count' column (a marginal table has attribute columns, count[, se])", file=name)
    columns = _attribute_columns(spec, frame, name, ("count", "se"))
    if len(frame) == 0:
        raise DataError("has a header but no rows", file=name)
    codes = [_level_codes(spec, frame, name, c, allow_missing=False) for c in columns]
    counts = parse_numbers(frame, name, "count", "count")
    se = parse_numbers(frame, name, "se", "standard error") if "se" in frame.columns else None
    axes = tuple(spec.names.index(c) for c in columns)
    order = np.argsort(axes)
    axes = tuple(axes[i] for i in order)
    codes = [codes[i] for i in order]
    shape = tuple(spec.shape[a] for a in axes)
    dense = np.zeros(shape)
    seen = np.zeros(shape, dtype=np.int64)
    for row in range(len(frame)):
        cell = tuple(int(c[row]) for c in codes)
        if seen[cell]:
            label = ", ".join(f"{spec.names[a]}={_level_name(spec.attributes[a], i)}" for a, i in zip(axes, cell))
            raise DataError(f"the cell {label or '(total)'} appears twice", file=name, row=row + 1)
        seen[cell] = row + 1
        dense[cell] = counts[row]
    dense_se = None
    if se is not None:
        positive = se[se > 0]
        floor = max(SE_FLOOR, float(positive.min()) if positive.size else SE_FLOOR)
        dense_se = np.full(shape, floor)
        for row in range(len(frame)):
            cell = tuple(int(c[row]) for c in codes)
            dense_se[cell] = max(se[row], SE_FLOOR)
    return Table(source=name, axes=axes, counts=dense, se=dense_se)


def _sample(spec: Spec, name: str, frame: pd.DataFrame, weight: str | None, *, grid: bool = True) -> Sample:
    extra = (weight,) if weight else ()
    if weight and weight not in frame.columns:
        raise DataError(f"has no weight column '{weight}' (named in the spec's microdata.weight)", file=name)
    columns = _attribute_columns(spec, frame, name, extra)
    if not columns:
        raise DataError("has no attribute columns", file=name)
    codes = np.stack([_level_codes(spec, frame, name, c, allow_missing=True, allow_coarse=True) for c in columns], 1)
    weights = parse_numbers(frame, name, weight, "weight") if weight else np.ones(len(frame))
    keep = (weights > 0) & (codes >= 0).any(axis=1)
    codes, weights = codes[keep], weights[keep]
    row_numbers = np.flatnonzero(keep) + 1
    if len(weights) == 0:
        raise DataError("has no rows with an observed attribute and a positive weight", file=name)
    n_effective, scaled = _kish_scaled(weights)
    axes_of = [spec.names.index(c) for c in columns]
    row_cells = np.full((len(weights), len(spec.shape)), -1, dtype=np.int64)
    row_cells[:, axes_of] = codes
    patterns, coarse_patterns = _patterns(row_cells, scaled, spec) if grid else ((), ())
    return Sample(
        source=name,
        patterns=patterns,
        coarse_patterns=coarse_patterns,
        n_rows=int(len(weights)),
        n_effective=n_effective,
        weight_total=float(weights.sum()),
        row_numbers=row_numbers,
        row_cells=row_cells,
        row_weights=weights,
    )


Patterns = tuple[tuple[tuple[int, ...], np.ndarray], ...]


def _patterns(row_cells: np.ndarray, weights: np.ndarray, spec: Spec) -> tuple[Patterns, Patterns]:
    """Rows grouped by the attributes they observe: per group its grid axes and weighted counts.

    ``row_cells`` holds each row's level code on every grid axis (-1 where not observed,
    ``levels + j`` for the ``j``-th coarse set). Rows with a coarse value on some axis are
    grouped apart, their counts over levels and coarse sets (:class:`Sample`).
    """
    shape = spec.shape
    fine, coarse = [], []
    for axes, extended, rows in row_groups(row_cells, shape):
        dims = tuple(shape[a] + (len(spec.attributes[a].coarse) if extended else 0) for a in axes)
        dense = np.zeros(dims)
        np.add.at(dense, tuple(row_cells[rows][:, a] for a in axes), weights[rows])
        (coarse if extended else fine).append((axes, dense))
    return tuple(fine), tuple(coarse)


def row_groups(row_cells: np.ndarray, shape: tuple[int, ...]) -> list[tuple[tuple[int, ...], bool, np.ndarray]]:
    """Sample rows grouped by the axes they observe, rows with a coarse answer apart.

    ``row_cells`` is as in :class:`Sample` (-1 where not observed, ``levels + j`` for the
    ``j``-th coarse set). Returns ``(axes, coarse, row indices)`` per non-empty group, the
    patterns observing more axes first, each pattern's fine rows before its coarse ones.

    Examples
    --------
    >>> cells = np.array([[0, 1], [1, -1], [0, 3], [1, 0]])  # the second axis has 2 levels and a set
    >>> [(axes, coarse, rows.tolist()) for axes, coarse, rows in row_groups(cells, (2, 2))]
    [((0, 1), False, [0, 3]), ((0, 1), True, [2]), ((0,), False, [1])]
    """
    observed = row_cells >= 0
    is_coarse = (row_cells >= np.asarray(shape)).any(axis=1)
    out = []
    for pattern in sorted({tuple(r) for r in observed.tolist()}, reverse=True):
        axes = tuple(int(a) for a in np.flatnonzero(pattern))
        same = (observed == np.array(pattern)).all(axis=1)
        for extended in (False, True):
            rows = np.flatnonzero(same & (is_coarse == extended))
            if rows.size:
                out.append((axes, extended, rows))
    return out


def _kish_scaled(weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Kish's effective sample size, and the weights rescaled to add up to it.

    Weights carry no more evidence than this many persons (Kish 1965, *Survey Sampling*).
    """
    n_effective = float(weights.sum() ** 2 / (weights**2).sum())
    return n_effective, weights * n_effective / weights.sum()


def take_rows(sample: Sample, rows: np.ndarray, spec: Spec) -> Sample:
    """The sample made of some of its rows, weighted and grouped as :func:`load_inputs` does.

    Parameters
    ----------
    sample
        A sample read by :func:`load_inputs` (it keeps its rows).
    rows
        Indices into the sample's kept rows; repeats are allowed (a bootstrap resample).
    spec
        The spec the sample was read with.

    Returns
    -------
    Sample
        The rows keep their weights; weights are rescaled to the new Kish effective size
        and rows grouped by the attributes they observe, as if the file held just these rows.

    Raises
    ------
    ValueError
        When the sample does not keep its rows, or ``rows`` is empty.

    Examples
    --------
    >>> import populace as pp
    >>> inputs = load_inputs(pp.Spec.from_yaml("spec.yaml"))
    >>> rng = np.random.default_rng(0)
    >>> rows = rng.integers(inputs.sample.n_rows, size=inputs.sample.n_rows)
    >>> replicate = take_rows(inputs.sample, rows, inputs.spec)
    >>> replicate.n_rows, len(np.unique(rows))  # as many rows as the sample, some of them repeated
    (282, 182)
    >>> round(sum(float(c.sum()) for _, c in replicate.patterns), 6) == round(replicate.n_effective, 6)
    True
    """
    if sample.row_cells is None or sample.row_weights is None or sample.row_numbers is None:
        raise ValueError("the sample does not keep its rows; read it with load_inputs")
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        raise ValueError("no rows to take")
    cells, weights = sample.row_cells[rows], sample.row_weights[rows]
    n_effective, scaled = _kish_scaled(weights)
    patterns, coarse_patterns = _patterns(cells, scaled, spec)
    return dataclasses.replace(
        sample,
        patterns=patterns,
        coarse_patterns=coarse_patterns,
        n_rows=int(rows.size),
        n_effective=n_effective,
        weight_total=float(weights.sum()),
        row_numbers=sample.row_numbers[rows],
        row_cells=cells,
        row_weights=weights,
    )


def _expand(values: np.ndarray, axes: tuple[int, ...], ndim: int) -> np.ndarray:
    """Broadcastable view of a margin over ``axes`` against the full grid."""
    shape = [1] * ndim
    for a, n in zip(axes, values.shape):
        shape[a] = n
    return values.reshape(shape)


def margin(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Sum a grid (or a stack of grids in the last dims) down to ``axes``."""
    ndim_grid = values.ndim
    drop = tuple(a for a in range(ndim_grid) if a not in axes)
    return values.sum(axis=drop)


def _submargin(table: Table, axes: tuple[int, ...]) -> np.ndarray:
    keep = tuple(table.axes.index(a) for a in axes)
    drop = tuple(i for i in range(len(table.axes)) if i not in keep)
    return table.counts.sum(axis=drop)


def _subvar(table: Table, axes: tuple[int, ...]) -> np.ndarray:
    keep = tuple(table.axes.index(a) for a in axes)
    drop = tuple(i for i in range(len(table.axes)) if i not in keep)
    return (table.se**2).sum(axis=drop) if table.se is not None else np.zeros_like(_submargin(table, axes))


def extend(values: np.ndarray, axes: tuple[int, ...], spec: Spec, *, offset: int = 0) -> np.ndarray:
    r"""A margin over ``axes`` with each axis's coarse sets appended (sums over each set's levels).

    Attribute ``axes[i]`` is axis ``offset + i`` of ``values`` (``offset=1`` for draws first).

    Examples
    --------
    >>> s = Spec(attributes=[Attribute(name="e", levels=("a", "b", "c"), coarse={"bc": ("b", "c")})],
    ...          marginals=[TableSource(file="e.csv", text="e,count\na,1\nb,2\nc,3\n")])
    >>> extend(np.array([0.5, 0.25, 0.25]), (0,), s)
    array([0.5 , 0.25, 0.25, 0.5 ])
    """
    for i, a in enumerate(axes):
        if spec.attributes[a].coarse:
            j = offset + i
            values = np.moveaxis(np.tensordot(values, coarse_map(spec.attributes[a]), axes=([j], [0])), -1, j)
    return values


def _level_name(attribute: Attribute, code: int) -> str:
    k = len(attribute.levels)
    return attribute.levels[code] if code < k else attribute.coarse_names[code - k]


def _label(spec: Spec, axes: tuple[int, ...], cell: tuple[int, ...]) -> str:
    if not axes:
        return "the grand total"
    return "the total for " + ", ".join(f"{spec.names[a]}={spec.attributes[a].levels[i]}" for a, i in zip(axes, cell))


def _check_totals(spec: Spec, tables: list[Table], sample: Sample | None) -> float:
    exact = [t for t in tables if t.exact]
    for a, b in itertools.combinations(tables, 2):
        shared = tuple(x for x in a.axes if x in b.axes)
        ma, mb = _submargin(a, shared), _submargin(b, shared)
        if a.exact and b.exact:
            allowed = EXACT_RTOL * max(a.total, b.total) + 1e-9
        else:
            allowed = TOTALS_Z * np.sqrt(_subvar(a, shared) + _subvar(b, shared)) + EXACT_RTOL * max(a.total, b.total)
        gap = np.abs(ma - mb) - allowed
        if (gap > 0).any():
            cell = np.unravel_index(int(np.argmax(gap)), gap.shape) if gap.ndim else ()
            kind = "exact tables must agree" if a.exact and b.exact else "more than their standard errors allow"
            raise DataError(
                f"{_label(spec, shared, tuple(int(c) for c in cell))} is {_fmt(mb[cell])} here but "
                f"{_fmt(ma[cell])} in {a.source} ({kind})",
                file=b.source,
                column="count",
            )
    if exact:
        total = exact[0].total
        if spec.population is not None and abs(spec.population - total) > EXACT_RTOL * total + 1e-9:
            raise DataError(
                f"the spec's population {_fmt(spec.population)} differs from the exact tables' total {_fmt(total)}",
                file=exact[0].source,
                column="count",
            )
        return total
    if spec.population is not None:
        for t in tables:
            allowed = TOTALS_Z * math.sqrt(float((t.se**2).sum())) + EXACT_RTOL * t.total
            if abs(t.total - spec.population) > allowed:
                raise DataError(
                    f"the total {_fmt(t.total)} differs from the spec's population {_fmt(spec.population)} "
                    "by more than its standard errors allow",
                    file=t.source,
                    column="count",
                )
        return spec.population
    if tables:
        return float(np.mean([t.total for t in tables]))
    assert sample is not None
    return sample.weight_total


def _ruled_out(spec: Spec, table: Table, bad: np.ndarray, why: str) -> DataError:
    """The error for an exact table's first cell in ``bad``: a positive count where nobody can be."""
    cell = tuple(int(c) for c in np.argwhere(bad)[0])
    label = _label(spec, table.axes, cell).replace("the total for ", "")
    return DataError(f"{label} has a positive count but {why}", file=table.source, column="count")


def _check_support(spec: Spec, tables: list[Table], sample: Sample | None, support: np.ndarray) -> None:
    for t in tables:
        possible = margin(support, t.axes) > 0
        bad = (t.counts > 0) & ~possible
        if t.exact and bad.any():
            raise _ruled_out(
                spec, t, bad, "every matching person is ruled out by the rules or by zero counts in other exact tables"
            )
    if sample is None:
        return
    patterns = [(axes, counts, False) for axes, counts in sample.patterns]
    patterns += [(axes, counts, True) for axes, counts in sample.coarse_patterns]
    for axes, counts, coarse in patterns:
        possible = margin(support.astype(float), axes)
        possible = (extend(possible, axes, spec) if coarse else possible) > 0
        bad = (counts > 0) & ~possible
        if bad.any():
            cell = tuple(int(c) for c in np.argwhere(bad)[0])
            label = ", ".join(f"{spec.names[a]}={_level_name(spec.attributes[a], i)}" for a, i in zip(axes, cell))
            raise DataError(
                f"a sampled person ({label}) is impossible under the rules or the zero counts of the exact tables",
                file=sample.source,
                row=_sample_row(sample, axes, cell),
            )


def _check_rows(spec: Spec, tables: list[Table], sample: Sample | None) -> None:
    """Without the grid: no sampled person may answer a cell that an exact table counts as zero."""
    if sample is None or sample.row_cells is None:
        return
    for t in tables:
        if t.exact:
            _refuse_rows_in(
                spec, sample, t.axes, t.counts <= 0, f"is in a cell that the exact table {t.source} counts as zero"
            )


def _refuse_rows_in(spec: Spec, sample: Sample, axes: tuple[int, ...], forbidden: np.ndarray, why: str) -> None:
    """A DataError naming the first sampled row that answers every attribute of ``axes`` in a ``forbidden`` cell."""
    codes = sample.row_cells[:, list(axes)]
    answered = ((codes >= 0) & (codes < np.asarray(forbidden.shape))).all(axis=1)
    rows = np.flatnonzero(answered)
    bad = rows[forbidden[tuple(codes[rows].T)]]
    if len(bad):
        label = ", ".join(
            f"{spec.names[a]}={_level_name(spec.attributes[a], int(c))}" for a, c in zip(axes, codes[bad[0]])
        )
        raise DataError(
            f"a sampled person ({label}) {why}",
            file=sample.source,
            row=int(sample.row_numbers[bad[0]]) if sample.row_numbers is not None else None,
        )


def rule_zeros(spec: Spec) -> list[tuple[tuple[int, ...], np.ndarray]]:
    r"""Each rule as ``(axes, zero)``: its attributes (increasing) and a mask over them, True where it rules out.

    >>> spec = Spec.from_text("attributes:\n  a: {levels: [x, y]}\n  b: {levels: [u, v, w]}\n"
    ...                       "marginals: [t.csv]\nrules: [{b: [u, v], a: x}]\n")
    >>> [(axes, zero.astype(int).tolist()) for axes, zero in rule_zeros(spec)]
    [((0, 1), [[1, 1, 0], [0, 0, 0]])]
    """
    out = []
    for rule in rule_mask(spec):
        rule = sorted(rule)
        axes = tuple(a for a, _ in rule)
        zero = np.ones([spec.shape[a] for a in axes], dtype=bool)
        for j, (a, levels) in enumerate(rule):
            allowed = np.zeros(spec.shape[a], dtype=bool)
            allowed[list(levels)] = True
            zero &= allowed.reshape([-1 if k == j else 1 for k in range(len(axes))])
        out.append((axes, zero))
    return out


def _check_rules_locally(spec: Spec, tables: list[Table], sample: Sample | None) -> None:
    """Without the grid: no exact table counts, and no sampled person answers, a combination a rule rules out."""
    for i, (axes, zero) in enumerate(rule_zeros(spec), start=1):
        for t in tables:
            if not t.exact or not set(axes) <= set(t.axes):
                continue
            drop = tuple(j for j, a in enumerate(t.axes) if a not in axes)
            ruled = (t.counts > 0) & np.expand_dims(zero, drop) if drop else (t.counts > 0) & zero
            if ruled.any():
                raise _ruled_out(spec, t, ruled, f"rule {i} rules it out")
        if sample is None or sample.row_cells is None:
            continue
        _refuse_rows_in(spec, sample, axes, zero, f"is ruled out by rule {i}")


def _sample_row(sample: Sample, axes: tuple[int, ...], cell: tuple[int, ...]) -> int | None:
    """The first row of the sample that observes exactly ``axes``, at ``cell``."""
    if sample.row_cells is None or sample.row_numbers is None:
        return None
    observed = sample.row_cells >= 0
    pattern = np.isin(np.arange(sample.row_cells.shape[1]), axes)
    match = (observed == pattern).all(axis=1) & (sample.row_cells[:, list(axes)] == np.array(cell)).all(axis=1)
    return int(sample.row_numbers[np.argmax(match)]) if match.any() else None


def _fmt(x: float) -> str:
    return f"{float(x):,.6g}"
