"""The command line: exit codes, one-line errors, atomic outputs, light start-up."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pandas as pd
import pytest

EXE = [sys.executable, "-m", "populace.cli"]


def run(*args: str, cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ["fit", "joint", "personas", "check", "forecast", "demo"]:
        assert command in result.stdout


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("wage.csv", "wage,count\nq1,7039\nq2,7039\nq3,7039\nq5,7038\n"), ["wage.csv", "q5", "row 4", "'wage'"]),
        (("wage.csv", "wage,count\nq1,7256\nq2,7052\nq3,6855\nq4,-6992\n"), ["wage.csv", "-6992", "negative"]),
        (("wage.csv", "wage,count\nq1,7256\nq2,7052\nq3,6855\nq4,7992\n"), ["wage.csv", "total"]),
        (("wage.csv", "wage,n\nq1,7256\n"), ["wage.csv", "count"]),
        (("spec.yaml", "attributes:\n  a: {levels: [x]}\nmarginals: [{file: t.csv}]\nbogus: 1\n"), ["bogus"]),
        (
            ("spec.yaml", "attributes:\n  a: {levels: [x]}\nmarginals: [{file: t.csv}]\nrules: [{b: x}]\n"),
            ["rule 1", "'b'"],
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(example_dir, edit, expected) -> None:
    name, text = edit
    (example_dir / name).write_text(text)
    result = run("fit", "spec.yaml", "--out", "post.nc", "--quiet", cwd=example_dir)
    line = _one_line_error(result)
    for piece in expected:
        assert piece in line
    assert not (example_dir / "post.nc").exists()
    assert not list(example_dir.glob(".post.nc.*"))


def test_a_grid_too_large_names_its_cells_and_the_kind_to_use(tmp_path) -> None:
    names = [f"a{i}" for i in range(18)]
    attributes = "".join(f"  {n}: {{levels: [w, x, y, z]}}\n" for n in names)
    (tmp_path / "a0.csv").write_text("a0,count\nw,1\nx,1\ny,1\nz,1\n")
    (tmp_path / "spec.yaml").write_text(f"attributes:\n{attributes}marginals: [{{file: a0.csv}}]\n")
    line = _one_line_error(run("fit", "spec.yaml", "--out", "post.nc", "--quiet", cwd=tmp_path))
    assert "68,719,476,736 cells" in line and "kind: decomposable" in line
    assert not (tmp_path / "post.nc").exists()


def test_missing_spec_and_unknown_posterior_are_bad_input(tmp_path) -> None:
    assert "nope.yaml" in _one_line_error(run("fit", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "p.nc")))
    (tmp_path / "junk.nc").write_text("not a posterior")
    assert "junk.nc" in _one_line_error(run("joint", str(tmp_path / "junk.nc")))


@pytest.mark.pipeline
def test_queries_on_a_saved_posterior(small_posterior, tmp_path) -> None:
    out = tmp_path / "j.csv"
    result = run("joint", str(small_posterior), "--by", "wage,region", "--prob", "0.5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, dtype={"wage": str, "region": str})
    assert list(table.columns) == ["wage", "region", "mean", "sd", "lower", "upper"]
    assert list(table["wage"][:4]) == ["q1"] * 4 and len(table) == 16
    assert "'sex'" in _one_line_error(run("joint", str(small_posterior), "--by", "sex"))
    csv_out = tmp_path / "people.csv"
    result = run("personas", str(small_posterior), "-n", "500", "--seed", "1", "--out", str(csv_out), "--quiet")
    assert result.returncode == 0, result.stderr
    people = pd.read_csv(csv_out)
    assert list(people.columns) == [
        "persona_id",
        "draw",
        "region",
        "ethnicity",
        "smsa",
        "parttime",
        "education",
        "wage",
    ]
    assert "--out" in _one_line_error(
        run("personas", str(small_posterior), "-n", "5", "--out", str(tmp_path / "x.txt"))
    )
    report = tmp_path / "report"
    result = run("check", str(small_posterior), "--out", str(report))
    assert result.returncode in (0, 1)
    assert "exact table wage.csv" in result.stdout
    assert (report / "ppc.png").stat().st_size > 1000 and (report / "checks.csv").exists()


@pytest.mark.pipeline
def test_joint_and_personas_do_not_import_jax(small_posterior, tmp_path) -> None:
    code = (
        "import sys; from populace.cli import main; "
        f"main(['joint', {str(small_posterior)!r}, '--by', 'wage', '--out', {str(tmp_path / 'j.csv')!r}]); "
        f"main(['personas', {str(small_posterior)!r}, '-n', '10', "
        f"'--out', {str(tmp_path / 'p.parquet')!r}, '--quiet']); "
        "bad = [m for m in ('jax', 'numpyro', 'arviz') if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_grid_too_large_for_the_cell_model_is_bad_input_naming_its_cells(tmp_path) -> None:
    names = [f"q{i}" for i in range(18)]
    attributes = "".join(f"  {n}: {{levels: [a, b, c, d, e]}}\n" for n in names)
    (tmp_path / "spec.yaml").write_text(f"attributes:\n{attributes}marginals: [{{file: q0.csv}}]\n")
    (tmp_path / "q0.csv").write_text("q0,count\na,1\nb,1\nc,1\nd,1\ne,1\n")
    line = _one_line_error(run("fit", "spec.yaml", "--out", "post.nc", "--quiet", cwd=tmp_path))
    assert "3,814,697,265,625 cells" in line and "18 attributes" in line and "loglinear" in line
    assert not (tmp_path / "post.nc").exists()


def test_tables_that_fix_every_cell_leave_nothing_to_infer(tmp_path) -> None:
    (tmp_path / "ab.csv").write_text("a,b,count\nx,u,3\nx,v,4\ny,u,5\ny,v,6\n")
    (tmp_path / "spec.yaml").write_text(
        "attributes:\n  a: {levels: [x, y]}\n  b: {levels: [u, v]}\nmarginals: [{file: ab.csv}]\n"
    )
    line = _one_line_error(run("fit", "spec.yaml", "--out", "post.nc", "--quiet", cwd=tmp_path))
    assert "fix every cell" in line and "a x b" in line
    assert not (tmp_path / "post.nc").exists()
