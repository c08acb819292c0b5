"""The filter end to end: `populace score`, a fit with the filter, `check` reporting its weight, bad input."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import populace as pp
from populace.llm_filter import register_scorer

EXE = [sys.executable, "-m", "populace.cli"]


def run(*args: str, cwd: pathlib.Path, home: pathlib.Path) -> subprocess.CompletedProcess:
    env = os.environ | {"POPULACE_HOME": str(home)}
    return subprocess.run([*EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def _with_filter(example_dir: pathlib.Path, block: str) -> None:
    spec = example_dir / "spec.yaml"
    spec.write_text(spec.read_text() + "llm_filter:\n" + block)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.pipeline
def test_score_fills_the_cache_and_a_fit_uses_it(example_dir: pathlib.Path, tiny_model: pathlib.Path, tmp_path) -> None:
    _with_filter(example_dir, f"  model: {tiny_model}\n  cache: scores.sqlite\n")
    first = run("score", "spec.yaml", "--top", "5", "--quiet", cwd=example_dir, home=tmp_path)
    assert first.returncode == 0, first.stderr
    rows = [line for line in first.stdout.splitlines() if line and not line.startswith(("#", "score"))]
    assert len(rows) == 5
    scores = [float(line.split(",")[0]) for line in rows]
    assert scores == sorted(scores) and scores[0] < 0
    assert (example_dir / "scores.sqlite").is_file()
    again = run("score", "spec.yaml", "--top", "5", "--quiet", cwd=example_dir, home=tmp_path)
    assert again.stdout == first.stdout

    fitted = run(
        "fit",
        "spec.yaml",
        "--out",
        "post.nc",
        "--draws",
        "60",
        "--chains",
        "2",
        "--quiet",
        cwd=example_dir,
        home=tmp_path,
    )
    assert fitted.returncode == 0, fitted.stderr
    post = pp.load(example_dir / "post.nc")
    assert post.spec.llm_filter is not None and post.spec.llm_filter.cache == "scores.sqlite"
    weight = post.posterior["llm_weight"]
    assert weight.dims == ("chain", "draw", "plausibility_term") and (weight.values >= 0).all()
    checked = run("check", "post.nc", cwd=example_dir, home=tmp_path)
    assert "plausibility weight [all]" in checked.stdout


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("  model: no/such/model\n", ["no/such/model", "does not exist"]),
        ("  scorer: oracle\n", ["llm_filter.scorer 'oracle' is unknown"]),
        ("  mode: maybe\n", ["llm_filter.mode 'maybe'"]),
        ("  template: missing.yaml\n", ["missing.yaml", "cannot read"]),
        ("  template: bad.yaml\n", ["bad.yaml", "lacks the placeholder {level}"]),
    ],
)
def test_bad_filter_input_exits_2_with_one_line(example_dir: pathlib.Path, tmp_path, block, expected) -> None:
    (example_dir / "bad.yaml").write_text('version: b\npreamble: "A person."\nfallback: "Something."\n')
    _with_filter(example_dir, block)
    for command in (("score", "spec.yaml"), ("fit", "spec.yaml", "--out", "post.nc")):
        line = _one_line(run(*command, "--quiet", cwd=example_dir, home=tmp_path))
        for piece in expected:
            assert piece in line
    assert not (example_dir / "post.nc").exists()


def test_score_without_a_filter_block_is_bad_input(example_dir: pathlib.Path, tmp_path) -> None:
    assert "no 'llm_filter' block" in _one_line(run("score", "spec.yaml", cwd=example_dir, home=tmp_path))


class Scripted:
    """Wage q4 with less than 12 years of schooling is implausible (a scripted scorer)."""

    cache_id = None

    def score(self, combinations):  # noqa: ANN001, ANN201
        return np.array([-5.0 if c.get("education") == "lt12" and c.get("wage") == "q4" else 0.0 for c in combinations])


@pytest.mark.pipeline
def test_a_registered_scorer_lowers_the_share_it_calls_implausible(example_dir: pathlib.Path) -> None:
    register_scorer("scripted-test", Scripted)
    spec = pp.Spec.from_yaml(example_dir / "spec.yaml")
    plain = pp.fit(spec, draws=150, chains=2, seed=4, progress=False)
    _with_filter(example_dir, "  scorer: scripted-test\n")
    filtered = pp.fit(pp.Spec.from_yaml(example_dir / "spec.yaml"), draws=150, chains=2, seed=4, progress=False)

    def share(post) -> float:  # noqa: ANN001
        return float(post.summary(["education", "wage"]).query("education == 'lt12' and wage == 'q4'")["mean"].iloc[0])

    assert share(filtered) < share(plain)
    assert filtered.fit_info["llm_filter"]["scorer"] == "scripted-test"
    assert "education:wage" in filtered.fit_info["llm_filter"]["terms"]
