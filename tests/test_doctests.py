"""Run the docstring examples of every module under populace/ (doctest), one test per module.

Examples run in a temporary working directory holding a copy of the CPS 1988 example, so
those that write files leave the repository alone, with these names defined:

``np``, ``pd``, ``xr``, ``pp`` (``import populace``), ``spec`` (the example Spec),
``example_spec`` (path of the copied spec.yaml; ``"spec.yaml"`` works too),
``load_inputs``, ``Posterior``, ``post`` (a posterior built without a sampler,
tests/fakes.py: 2 chains x 50 draws), and ``example_outcome`` (path of an outcome spec
over education and region, with a 300-row poll, in the same folder).

Modules whose examples fit a model or run JAX are marked ``pipeline``.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import populace as pp
from populace.data.examples import example_spec_path
from populace.data.inputs import load_inputs
from populace.posterior import Posterior

PACKAGE = pathlib.Path(pp.__file__).resolve().parent
# Examples that need a sampler or JAX: minutes of compilation, so the pipeline tier.
PIPELINE = {"populace.inference.fit", "populace.inference.pathfinder", "populace.outcomes.forecast"}
# Examples known to be wrong, in modules this test's author may not edit: each fails
# strictly, so the mark has to go when the example is fixed.
KNOWN_WRONG: dict[str, str] = {}
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    """Dotted names of the package's modules whose source holds a ``>>>`` example."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _param(name: str) -> object:
    marks = [pytest.mark.pipeline] if name in PIPELINE else []
    if name in KNOWN_WRONG:
        marks.append(pytest.mark.xfail(reason=KNOWN_WRONG[name], strict=True))
    return pytest.param(name, marks=marks)


MODULES = [_param(m) for m in _modules_with_examples()]


def _write_example_outcome(folder: pathlib.Path) -> pathlib.Path:
    """An outcome spec and its poll over the example's education and region; returns the spec's path."""
    rng = np.random.default_rng(2)
    education = rng.choice(["lt12", "12", "13-15", "16plus"], 300)
    region = rng.choice(["northeast", "midwest", "south", "west"], 300)
    choice = np.where(rng.random(300) < np.where(education == "16plus", 0.8, 0.3), "yes", "no")
    rows = "".join(f"{e},{r},{c},1.5\n" for e, r, c in zip(education, region, choice))
    (folder / "poll.csv").write_text("education,region,choice,wt\n" + rows)
    path = folder / "outcome.yaml"
    path.write_text(
        "outcome: choice\nlevels: [yes, no]\ndata: {file: poll.csv, weight: wt}\n"
        "predictors: [education, region]\nby: [region]\n"
    )
    return path


@pytest.fixture
def doctest_globals(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, fake_posterior) -> dict:
    """The names examples may use, with the working directory moved to a private example copy."""
    for item in example_spec_path().parent.iterdir():
        if item.is_file():
            shutil.copy(item, tmp_path / item.name)
    monkeypatch.chdir(tmp_path)
    # examples may register model kinds; keep the registry as it was for the other tests
    from populace.models import base

    monkeypatch.setattr(base, "_REGISTERED", dict(getattr(base, "_REGISTERED", {})), raising=False)
    return {
        "np": np,
        "pd": pd,
        "xr": xr,
        "pp": pp,
        "spec": pp.Spec.from_yaml(tmp_path / "spec.yaml"),
        "example_spec": tmp_path / "spec.yaml",
        "load_inputs": load_inputs,
        "Posterior": Posterior,
        "post": fake_posterior,
        "example_outcome": _write_example_outcome(tmp_path),
    }


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, doctest_globals: dict) -> None:
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module, extraglobs=doctest_globals) if t.examples]
    runnable = sum(1 for t in tests for e in t.examples if not e.options.get(doctest.SKIP))
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    if runnable == 0:
        pytest.skip(f"every example in {name} is marked +SKIP")
