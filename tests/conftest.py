"""Shared fixtures: the embedded example, a small fitted posterior, the Agg backend."""

from __future__ import annotations

import os
import pathlib
import shutil

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "populace" / "data" / "cps1988"


@pytest.fixture
def example_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A private copy of the CPS 1988 example (spec, tables, sample, truth)."""
    target = tmp_path / "cps1988"
    shutil.copytree(EXAMPLE, target)
    return target


@pytest.fixture(scope="session")
def small_posterior(tmp_path_factory: pytest.TempPathFactory):
    """The example fitted with few draws (2 chains x 150), saved once for the session."""
    import populace as pp

    spec = pp.Spec.from_yaml(EXAMPLE / "spec.yaml")
    post = pp.fit(spec, draws=150, chains=2, seed=3, progress=False)
    path = tmp_path_factory.mktemp("post") / "posterior.nc"
    post.to_netcdf(path)
    return path
