"""The errors a user sees for bad input files, and what good files load to.

Each test copies the CPS 1988 example into a temporary folder, corrupts one thing, and
checks that :func:`load_inputs` raises a :class:`DataError` whose message is one line
naming the file and, where it applies, the row, the column and the value (DESIGN.md
sections 1 and 2).
"""

from __future__ import annotations

import csv
import pathlib
import shutil

import numpy as np
import pytest

from populace.data.inputs import load_inputs, margin
from populace.errors import DataError, PopulaceInputError
from populace.spec import Spec

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "populace" / "data" / "cps1988"


@pytest.fixture
def example(tmp_path: pathlib.Path) -> pathlib.Path:
    """A private copy of the worked example."""
    return pathlib.Path(shutil.copytree(EXAMPLE, tmp_path / "cps1988"))


def load(folder: pathlib.Path):
    return load_inputs(Spec.from_yaml(folder / "spec.yaml"))


def replace(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def read_rows(path: pathlib.Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: pathlib.Path, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def data_error(folder: pathlib.Path, file: str) -> DataError:
    """Load ``folder``, expect a DataError about ``file``, check the message form."""
    with pytest.raises(DataError) as info:
        load(folder)
    error = info.value
    message = str(error)
    assert isinstance(error, PopulaceInputError)
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(file), message
    assert error.file == file
    return error


def table(inputs, name: str):
    return next(t for t in inputs.tables if t.source == name)


# --- the example loads ---------------------------------------------------------------------


def test_example_loads(example):
    inputs = load(example)
    assert [t.source for t in inputs.tables] == [
        "region_ethnicity.csv",
        "region_smsa.csv",
        "education_parttime.csv",
        "wage.csv",
    ]
    assert [t.source for t in inputs.exact_tables] == ["region_ethnicity.csv", "region_smsa.csv", "wage.csv"]
    assert inputs.sample is not None
    assert inputs.support.shape == inputs.spec.shape
    # Every cell of the known truth is allowed by the support.
    names = inputs.spec.names
    for row in read_rows(example / "truth.csv"):
        cell = tuple(inputs.spec.attribute(n).levels.index(row[n]) for n in names)
        assert inputs.support[cell]


def test_dense_counts_match_the_files(example):
    inputs = load(example)
    spec = inputs.spec
    for t in inputs.tables:
        rows = read_rows(example / t.source)
        assert len(rows) == t.counts.size
        for row in rows:
            cell = tuple(spec.attributes[a].levels.index(row[spec.names[a]]) for a in t.axes)
            assert t.counts[cell] == float(row["count"])


def test_population_is_the_exact_tables_total(example):
    inputs = load(example)
    for name in ("region_ethnicity.csv", "region_smsa.csv", "wage.csv"):
        assert sum(float(r["count"]) for r in read_rows(example / name)) == inputs.population
    assert inputs.population == 28155


def test_se_tables_keep_their_se(example):
    inputs = load(example)
    (t,) = inputs.se_tables
    assert t.source == "education_parttime.csv" and not t.exact
    spec = inputs.spec
    assert t.axes == (spec.names.index("parttime"), spec.names.index("education"))
    rows = read_rows(example / "education_parttime.csv")
    for row in rows:
        cell = (
            spec.attribute("parttime").levels.index(row["parttime"]),
            spec.attribute("education").levels.index(row["education"]),
        )
        assert t.se[cell] == pytest.approx(float(row["se"]))
        assert t.counts[cell] == float(row["count"])
    assert all(x.se is None and x.exact for x in inputs.exact_tables)


def test_level_missing_from_a_table_means_zero(example):
    path = example / "education_parttime.csv"
    rows = read_rows(path)
    dropped = next(r for r in rows if (r["education"], r["parttime"]) == ("lt12", "yes"))
    write_rows(path, [r for r in rows if r is not dropped])
    inputs = load(example)
    t = table(inputs, "education_parttime.csv")
    spec = inputs.spec
    assert (
        t.counts[spec.attribute("parttime").levels.index("yes"), spec.attribute("education").levels.index("lt12")] == 0
    )
    assert t.total == sum(float(r["count"]) for r in rows) - float(dropped["count"])
    assert np.count_nonzero(t.counts) == len(rows) - 1


def test_level_missing_from_an_exact_table_is_a_structural_zero(example):
    """Drop wage q4 (moving its persons to q3): no cell with wage q4 can hold anyone."""
    spec_path = example / "spec.yaml"
    text = spec_path.read_text(encoding="utf-8")
    spec_path.write_text(text[: text.index("microdata:")], encoding="utf-8")  # the sample has q4 persons
    rows = read_rows(example / "wage.csv")
    q3, q4 = rows[2], rows[3]
    assert (q3["wage"], q4["wage"]) == ("q3", "q4")
    q3["count"] = str(int(q3["count"]) + int(q4["count"]))
    write_rows(example / "wage.csv", rows[:3])
    inputs = load(example)
    spec = inputs.spec
    q4 = spec.attribute("wage").levels.index("q4")
    assert table(inputs, "wage.csv").counts[q4] == 0
    assert not inputs.support[..., q4].any()
    assert inputs.support[..., :q4].any()
    assert inputs.sample is None
    assert inputs.population == 28155


def test_effective_size_for_equal_weights_counts_usable_rows(example):
    path = example / "sample.csv"
    rows = read_rows(path)
    attributes = ["region", "ethnicity", "smsa", "parttime", "education", "wage"]
    for r in rows[:7]:
        r["weight"] = "0"
    for r in rows[7:12]:
        for a in attributes:
            r[a] = ""
    rows[12]["weight"] = "0"
    for a in attributes[:-1]:
        rows[13][a] = ""  # only wage observed: still a usable row
    write_rows(path, rows)
    usable = [r for r in rows if float(r["weight"]) > 0 and any(r[a] != "" for a in attributes)]
    assert 0 < len(usable) < len(rows)
    sample = load(example).sample
    assert sample.n_rows == len(usable)
    assert sample.n_effective == pytest.approx(len(usable))
    assert sample.weight_total == pytest.approx(sum(float(r["weight"]) for r in usable))
    # The weighted counts over all patterns add up to the effective size.
    assert sum(counts.sum() for _, counts in sample.patterns) == pytest.approx(len(usable))


def test_effective_size_for_unequal_weights_is_kish(example):
    path = example / "sample.csv"
    rows = read_rows(path)
    for i, r in enumerate(rows):
        r["weight"] = str(1 + i % 3)
    write_rows(path, rows)
    w = np.array([float(r["weight"]) for r in rows])
    sample = load(example).sample
    assert sample.n_effective == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert sample.n_effective < len(rows)


def test_sample_without_weight_column_in_spec_counts_each_row_once(example):
    replace(example / "spec.yaml", "  weight: weight\n", "")
    rows = read_rows(example / "sample.csv")
    write_rows(example / "sample.csv", [{k: v for k, v in r.items() if k != "weight"} for r in rows])
    sample = load(example).sample
    assert sample.n_effective == len(rows) == sample.weight_total


def test_bom_at_the_start_of_a_file_is_accepted(example):
    for name in ("wage.csv", "sample.csv"):
        path = example / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with_bom = load(example)
    plain = load_inputs(Spec.from_yaml(EXAMPLE / "spec.yaml"))
    np.testing.assert_array_equal(table(with_bom, "wage.csv").counts, table(plain, "wage.csv").counts)
    assert with_bom.sample.n_rows == plain.sample.n_rows


def test_crlf_line_endings_are_accepted(example):
    path = example / "region_smsa.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert table(load(example), "region_smsa.csv").total == 28155


def test_spec_population_that_agrees_is_used(example):
    replace(example / "spec.yaml", "attributes:\n", "population: 28155\nattributes:\n")
    assert load(example).population == 28155


# --- one corruption per test ---------------------------------------------------------------


def test_unknown_level(example):
    replace(example / "wage.csv", "q3,6855", "q5,6855")
    error = data_error(example, "wage.csv")
    assert (error.row, error.column, error.value) == (3, "wage", "q5")
    message = str(error)
    assert "row 3" in message and "'wage'" in message and "'q5'" in message


def test_level_with_stray_space_is_unknown_and_hinted(example):
    replace(example / "wage.csv", "q3,6855", " q3,6855")
    error = data_error(example, "wage.csv")
    assert (error.row, error.column, error.value) == (3, "wage", " q3")
    assert "exactly" in str(error)


def test_unknown_level_is_reported_before_totals(example):
    """The q5 row also breaks the q3 total; the level is the first thing reported."""
    replace(example / "wage.csv", "q3,6855", "q5,7355")
    error = data_error(example, "wage.csv")
    assert error.value == "q5"


def test_missing_count_column(example):
    replace(example / "wage.csv", "wage,count", "wage,persons")
    error = data_error(example, "wage.csv")
    assert "'count'" in str(error)


def test_unknown_column(example):
    replace(example / "region_smsa.csv", "region,smsa,count", "region,metro,count")
    error = data_error(example, "region_smsa.csv")
    assert error.column == "metro"
    assert "'metro'" in str(error)


def test_duplicate_column_in_header(example):
    replace(example / "region_smsa.csv", "region,smsa,count", "region,smsa,count,smsa")
    error = data_error(example, "region_smsa.csv")
    assert error.column == "smsa"
    assert "twice" in str(error)


def test_empty_column_name_in_header(example):
    replace(example / "wage.csv", "wage,count", "wage,,count")
    data_error(example, "wage.csv")


@pytest.mark.parametrize(
    ("bad", "word"),
    [
        ("-7052", "negative"),
        ("lots", "not a finite number"),
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        ("", "not a finite number"),
    ],
)
def test_bad_count(example, bad, word):
    replace(example / "wage.csv", "q2,7052", f"q2,{bad}")
    error = data_error(example, "wage.csv")
    assert (error.row, error.column, error.value) == (2, "count", bad)
    message = str(error)
    assert "row 2" in message and "'count'" in message and f"'{bad}'" in message and word in message


def test_negative_se(example):
    replace(example / "education_parttime.csv", "12,yes,809,28.4", "12,yes,809,-28.4")
    error = data_error(example, "education_parttime.csv")
    assert (error.row, error.column, error.value) == (2, "se", "-28.4")


def test_duplicate_cell(example):
    replace(example / "region_smsa.csv", "northeast,no,989", "midwest,no,989")
    error = data_error(example, "region_smsa.csv")
    assert error.row == 3
    message = str(error)
    assert "row 3" in message and "region=midwest" in message and "smsa=no" in message and "twice" in message


def test_missing_file(example):
    (example / "region_smsa.csv").unlink()
    error = data_error(example, "region_smsa.csv")
    assert "no such file" in str(error)


def test_missing_sample_file(example):
    (example / "sample.csv").unlink()
    data_error(example, "sample.csv")


def test_exact_totals_disagree(example):
    replace(example / "wage.csv", "q2,7052", "q2,7552")
    error = data_error(example, "wage.csv")
    assert error.column == "count"
    message = str(error)
    assert "28,655" in message and "28,155" in message and "region_ethnicity.csv" in message


def test_exact_sub_margin_disagrees_while_grand_totals_agree(example):
    path = example / "region_smsa.csv"
    replace(path, "midwest,no,2074", "midwest,no,2174")
    replace(path, "northeast,no,989", "northeast,no,889")
    assert sum(float(r["count"]) for r in read_rows(path)) == 28155
    error = data_error(example, "region_smsa.csv")
    message = str(error)
    assert "region_ethnicity.csv" in message
    assert "region=midwest" in message or "region=northeast" in message


def test_se_table_far_outside_its_errors(example):
    replace(example / "education_parttime.csv", "12,no,9740,98.7", "12,no,19740,98.7")
    error = data_error(example, "education_parttime.csv")
    assert "standard errors" in str(error)


def test_se_table_within_its_errors_is_accepted(example):
    replace(example / "education_parttime.csv", "12,no,9740,98.7", "12,no,9840,98.7")
    assert table(load(example), "education_parttime.csv").total == 28255


def test_spec_population_disagrees_with_exact_tables(example):
    replace(example / "spec.yaml", "attributes:\n", "population: 30000\nattributes:\n")
    error = data_error(example, "region_ethnicity.csv")
    assert "30,000" in str(error) and "28,155" in str(error)


def test_empty_file(example):
    (example / "wage.csv").write_bytes(b"")
    assert "empty" in str(data_error(example, "wage.csv"))


def test_blank_lines_only(example):
    (example / "wage.csv").write_text("\n\n", encoding="utf-8")
    assert "empty" in str(data_error(example, "wage.csv"))


def test_header_only(example):
    (example / "wage.csv").write_text("wage,count\n", encoding="utf-8")
    assert "no rows" in str(data_error(example, "wage.csv"))


def test_non_utf8_bytes(example):
    replace(example / "spec.yaml", "[q1, q2, q3, q4]", "[q1, q2, q3, q4, qé]")
    path = example / "wage.csv"
    path.write_bytes(path.read_bytes() + "qé,0\n".encode("latin-1"))
    error = data_error(example, "wage.csv")
    assert "UTF-8" in str(error)


def test_non_utf8_level_is_accepted_once_saved_as_utf8(example):
    """The control for the test above: the same level written as UTF-8 loads."""
    replace(example / "spec.yaml", "[q1, q2, q3, q4]", "[q1, q2, q3, q4, qé]")
    path = example / "wage.csv"
    path.write_bytes(path.read_bytes() + "qé,0\n".encode())
    assert table(load(example), "wage.csv").counts.tolist() == [7256, 7052, 6855, 6992, 0]


def test_nul_bytes(example):
    path = example / "wage.csv"
    path.write_bytes(path.read_bytes() + b"\x00\x00\n")
    data_error(example, "wage.csv")


def test_unterminated_quote_is_a_data_error(example):
    path = example / "wage.csv"
    path.write_text(path.read_text(encoding="utf-8") + '"q9,1\n', encoding="utf-8")
    data_error(example, "wage.csv")


@pytest.mark.parametrize(("old", "new", "row"), [("q3,6855", "q3,6855,1", 3), ("q1,7256", "q1,7256,", 1)])
def test_row_with_too_many_fields_is_reported_by_row(example, old, new, row):
    """An extra field in the first data row must not shift the columns (pandas' index guess)."""
    replace(example / "wage.csv", old, new)
    error = data_error(example, "wage.csv")
    assert error.row == row
    assert "3 fields" in str(error) and "header has 2" in str(error)


# --- microdata -------------------------------------------------------------------------------


def test_sample_unknown_level(example):
    rows = read_rows(example / "sample.csv")
    rows[4]["education"] = "phd"
    write_rows(example / "sample.csv", rows)
    error = data_error(example, "sample.csv")
    assert (error.row, error.column, error.value) == (5, "education", "phd")
    assert "row 5" in str(error) and "'phd'" in str(error)


def test_sample_negative_weight(example):
    rows = read_rows(example / "sample.csv")
    rows[9]["weight"] = "-99.84"
    write_rows(example / "sample.csv", rows)
    error = data_error(example, "sample.csv")
    assert (error.row, error.column, error.value) == (10, "weight", "-99.84")
    assert "negative" in str(error)


def test_sample_non_numeric_weight(example):
    rows = read_rows(example / "sample.csv")
    rows[0]["weight"] = "heavy"
    write_rows(example / "sample.csv", rows)
    error = data_error(example, "sample.csv")
    assert (error.row, error.column, error.value) == (1, "weight", "heavy")


def test_sample_weight_column_missing(example):
    rows = read_rows(example / "sample.csv")
    write_rows(example / "sample.csv", [{k: v for k, v in r.items() if k != "weight"} for r in rows])
    error = data_error(example, "sample.csv")
    assert "'weight'" in str(error)


def test_sample_unknown_column(example):
    rows = read_rows(example / "sample.csv")
    for r in rows:
        r["age"] = "40"
    write_rows(example / "sample.csv", rows)
    error = data_error(example, "sample.csv")
    assert error.column == "age"


def test_sample_with_no_usable_rows(example):
    rows = read_rows(example / "sample.csv")
    for r in rows:
        r["weight"] = "0"
    write_rows(example / "sample.csv", rows)
    data_error(example, "sample.csv")


def test_sampled_person_ruled_out_by_a_rule(example):
    """parttime=yes with wage=q4 is ruled out; the sample holds one such person."""
    rows = read_rows(example / "sample.csv")
    offenders = [i + 1 for i, r in enumerate(rows) if (r["parttime"], r["wage"]) == ("yes", "q4")]
    assert len(offenders) == 1
    with (example / "spec.yaml").open("a", encoding="utf-8") as f:
        f.write('rules:\n  - {parttime: "yes", wage: q4}\n')
    error = data_error(example, "sample.csv")
    message = str(error)
    assert "parttime=yes" in message and "wage=q4" in message
    assert error.row == offenders[0]
    assert f"row {offenders[0]}" in message


def test_rule_without_sampled_offenders_is_accepted(example):
    """The control for the test above: a rule no sampled person breaks loads, zeroing its cells."""
    with (example / "spec.yaml").open("a", encoding="utf-8") as f:
        f.write('rules:\n  - {parttime: "yes", wage: q4, region: west}\n')
    inputs = load(example)
    spec = inputs.spec
    yes = spec.attribute("parttime").levels.index("yes")
    west = spec.attribute("region").levels.index("west")
    assert not inputs.support[west, :, :, yes, :, 3].any()
    assert inputs.support[west, :, :, yes, :, 2].any()


def test_exact_count_ruled_out_by_a_rule(example):
    with (example / "spec.yaml").open("a", encoding="utf-8") as f:
        f.write("rules:\n  - {region: west, ethnicity: afam}\n")
    error = data_error(example, "region_ethnicity.csv")
    message = str(error)
    assert "region=west" in message and "ethnicity=afam" in message


def test_marginal_sums_of_the_support_cover_every_positive_exact_cell(example):
    inputs = load(example)
    for t in inputs.exact_tables:
        assert (margin(inputs.support, t.axes)[t.counts > 0] > 0).all()


def test_implausibly_large_weight_is_refused_not_overflowed(example_dir) -> None:
    import populace as pp
    from populace.data.inputs import load_inputs

    sample = (example_dir / "sample.csv").read_text().splitlines()
    sample[1] = sample[1].rsplit(",", 1)[0] + ",1e308"
    (example_dir / "sample.csv").write_text("\n".join(sample) + "\n")
    with pytest.raises(pp.DataError, match="implausibly large") as info:
        load_inputs(pp.Spec.from_yaml(example_dir / "spec.yaml"))
    assert "sample.csv" in str(info.value) and "row 1" in str(info.value) and "1e308" in str(info.value)


def test_an_attribute_no_input_holds_is_named_and_fit_warns(example: pathlib.Path, capsys) -> None:
    replace(example / "spec.yaml", "  wage:", "  pets:      {levels: [cat, dog]}\n  wage:")
    inputs = load(example)
    assert inputs.unconstrained == ("pets",)
    import populace as pp

    pp.fit(Spec.from_yaml(example / "spec.yaml"), method="pathfinder", draws=10, chains=1, seed=0, progress=False)
    err = capsys.readouterr().err
    assert "warning:" in err and "attribute 'pets' is in no table" in err
    assert "'wage'" not in err  # a sampled attribute with missing answers is held by the sample


def test_the_example_leaves_no_attribute_unconstrained(example: pathlib.Path) -> None:
    assert load(example).unconstrained == ()
