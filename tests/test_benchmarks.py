"""The benchmark's baseline rows carry bootstrap intervals, and the report shows them (or "–")."""

from __future__ import annotations

import importlib
import pathlib
import types

import numpy as np
import pandas as pd
import pytest

import populace as pp

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """benchmarks/'s modules (scripts that import each other by module name)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    names = ("tasks", "methods", "report")
    return types.SimpleNamespace(**{n: importlib.import_module(n) for n in names})


def _population(bench: types.SimpleNamespace) -> object:
    rng = np.random.default_rng(0)
    levels = {"x": ("x0", "x1", "x2"), "y": ("y0", "y1"), "z": ("z0", "z1")}
    codes = rng.choice(12, size=4000, p=rng.dirichlet(np.full(12, 3.0)))
    cells = np.unravel_index(codes, (3, 2, 2))
    frame = pd.DataFrame({n: np.asarray(lv)[c] for (n, lv), c in zip(levels.items(), cells)})
    return bench.tasks.Population(
        name="toy",
        title="toy",
        source="none",
        frame=frame,
        attributes=tuple(pp.Attribute(name=n, levels=lv) for n, lv in levels.items()),
        two_way=(("x", "y"),),
    )


def test_baselines_that_use_the_sample_get_bootstrap_intervals(bench: types.SimpleNamespace):
    task = bench.tasks.build_task(_population(bench), "twoway", 0.05, seed=0)
    rows = {r["method"]: r for r in bench.methods.baseline_rows(task, seed=1, replicates=20)}
    for name in ("IPF, sample + 0.5", "IPF, best pseudo-count", "weighted sample alone"):
        row = rows[name]
        assert 0 <= row["coverage_50"] <= row["coverage_90"] <= 1
        assert row["width_90"] > 0
        assert row["cells_scored"] == 12
        assert "bootstrap, B=20" in row["note"]
    assert rows["independence (IPF, flat seed)"].get("coverage_90") is None
    again = {r["method"]: r for r in bench.methods.baseline_rows(task, seed=1, replicates=20)}
    assert again["IPF, sample + 0.5"]["width_90"] == rows["IPF, sample + 0.5"]["width_90"]


def _task(rows: list[dict]) -> dict:
    return {
        "title": "toy task",
        "key": "toy",
        "rows": rows,
        "tables": ["x"],
        "unpublished_pairs": 1,
        "population_size": 100,
        "cells": 4,
        "empty_cells": 0,
    }


def test_report_shows_bootstrap_coverage_and_a_dash_for_old_results(bench: types.SimpleNamespace):
    nuts = {"method": "populace nuts (2x500)", "family": "populace", "tvd": 0.1, "coverage_90": 0.9}
    nuts |= {"coverage_50": 0.5, "width_90": 10.0, "fit_seconds": 5.0, "r_hat": None}
    old_ipf = {"method": "IPF, best pseudo-count", "family": "baseline", "tvd": 0.2, "fit_seconds": 0.01}
    new_ipf = old_ipf | {"coverage_90": 0.55, "coverage_50": 0.29, "width_90": 122.3}
    old = bench.report._summary({"tasks": [_task([nuts, old_ipf])]})
    new = bench.report._summary({"tasks": [_task([nuts, new_ipf])]})
    column = old.splitlines()[4].split(" | ").index("best IPF boot cov 90")
    assert old.splitlines()[-1].split(" | ")[column] == "–"
    assert new.splitlines()[-1].split(" | ")[column] == "55%"
    section = bench.report._task_section(_task([nuts, new_ipf]), "toy.png")
    assert "| IPF, best pseudo-count | 0.200 | – | – | – | 55% | 29% | 122.3 |" in section
