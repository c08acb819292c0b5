"""Property tests of reading inputs: any well-formed spec and tables load to what was written.

Specs are written with ``yaml.safe_dump`` and tables with the ``csv`` module, so levels may
hold any text (commas, quotes, line breaks, non-ASCII) as long as it is quoted properly.
Tables are margins of one random joint, hence consistent; corrupting one count must give
a :class:`DataError` naming the row, never another exception.
"""

from __future__ import annotations

import csv
import pathlib
import tempfile

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from populace.data.inputs import load_inputs
from populace.errors import DataError
from populace.spec import Spec

SETTINGS = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Any text but NUL (a file with NUL bytes is refused as binary) and lone surrogates
# (not encodable as UTF-8).
LEVEL_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=6)


@st.composite
def problems(draw):
    """A spec (attribute names and levels), a joint of counts, and the tables to write."""
    n_attributes = draw(st.integers(1, 3))
    names = [f"attr_{i}" for i in range(n_attributes)]
    levels = [draw(st.lists(LEVEL_TEXT, min_size=1, max_size=4, unique=True)) for _ in names]
    shape = tuple(len(v) for v in levels)
    flat = draw(st.lists(st.integers(0, 40), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    joint = np.array(flat, dtype=float).reshape(shape)
    if joint.sum() == 0:
        joint[(0,) * n_attributes] = 1
    subsets = [tuple(a for a in range(n_attributes) if mask >> a & 1) for mask in range(1, 2**n_attributes)]
    tables = draw(st.lists(st.sampled_from(subsets), min_size=1, max_size=3, unique=True))
    # Zero cells may be left out of a table (a missing level means a count of 0).
    omit_zeros = draw(st.booleans())
    shuffle = draw(st.randoms(use_true_random=False))
    return names, levels, joint, tables, omit_zeros, shuffle


def table_rows(names, levels, joint, axes, omit_zeros, shuffle):
    """Rows of the margin of ``joint`` over ``axes``: level texts, then the count."""
    drop = tuple(a for a in range(joint.ndim) if a not in axes)
    counts = joint.sum(axis=drop)
    rows = []
    for cell in np.ndindex(counts.shape):
        if omit_zeros and counts[cell] == 0:
            continue
        rows.append([levels[a][i] for a, i in zip(axes, cell, strict=True)] + [str(int(counts[cell]))])
    shuffle.shuffle(rows)
    return [[names[a] for a in axes] + ["count"]], rows, counts


def write_problem(folder: pathlib.Path, names, levels, joint, tables, omit_zeros, shuffle):
    """Write the spec and its tables; return each table's file name, rows and expected dense counts."""
    written = []
    for k, axes in enumerate(tables):
        header, rows, counts = table_rows(names, levels, joint, axes, omit_zeros, shuffle)
        file = f"table_{k}.csv"
        with (folder / file).open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(header + rows)
        written.append((file, axes, rows, counts))
    doc = {
        "attributes": {n: {"levels": list(v)} for n, v in zip(names, levels, strict=True)},
        "marginals": [{"file": file} for file, *_ in written],
    }
    (folder / "spec.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return written


@SETTINGS
@given(problems())
def test_consistent_tables_load_to_what_was_written(problem):
    names, levels, joint, *_ = problem
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        written = write_problem(folder, *problem)
        spec = Spec.from_yaml(folder / "spec.yaml")
        assert spec.names == tuple(names)
        assert [list(a.levels) for a in spec.attributes] == levels
        inputs = load_inputs(spec)
    assert len(inputs.tables) == len(written)
    for t, (file, axes, _, counts) in zip(inputs.tables, written, strict=True):
        assert t.source == file
        assert t.exact
        assert t.axes == axes
        np.testing.assert_array_equal(t.counts, counts)
    assert inputs.population == joint.sum()
    # Every cell the joint fills is possible; cells that an exact table zeroes are not.
    assert inputs.support[joint > 0].all()
    for _, axes, _, counts in written:
        drop = tuple(a for a in range(joint.ndim) if a not in axes)
        assert not (inputs.support.any(axis=drop) & (counts == 0)).any()


def non_numbers():
    def not_a_number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return True
        return False

    text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8).filter(not_a_number)
    return st.one_of(st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e999", "n/a", "1,5"]), text)


def negative_numbers():
    integers = st.integers(-(10**9), -1).map(str)
    floats = st.floats(max_value=-1e-12, allow_infinity=False, allow_nan=False).map(repr)
    return st.one_of(integers, floats)


@SETTINGS
@given(problems(), st.one_of(non_numbers(), negative_numbers()), st.data())
def test_one_bad_count_is_a_data_error_naming_its_row(problem, bad, data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        written = write_problem(folder, *problem)
        k = data.draw(st.integers(0, len(written) - 1), label="table")
        file, axes, rows, _ = written[k]
        row = data.draw(st.integers(0, len(rows) - 1), label="row")
        rows[row][-1] = bad
        with (folder / file).open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([[problem[0][a] for a in axes] + ["count"], *rows])
        spec = Spec.from_yaml(folder / "spec.yaml")
        try:
            load_inputs(spec)
        except DataError as error:
            caught = error
        else:
            raise AssertionError(f"count {bad!r} in {file} row {row + 1} was accepted")
    message = str(caught)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(file)
    assert (caught.file, caught.row, caught.column, caught.value) == (file, row + 1, "count", bad)
