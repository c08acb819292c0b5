"""A new model kind plugs in through the registry alone: fitted end to end by `populace fit`."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from populace.cli import main
from populace.errors import SpecError
from populace.models.base import Model, model_builder, model_kinds, register_model

from .independence_kind import IndependenceModel, build


def test_the_loglinear_kind_is_built_in() -> None:
    assert model_kinds()[0] == "loglinear"
    assert callable(model_builder("loglinear"))
    with pytest.raises(SpecError, match="'nope' is unknown"):
        model_builder("nope")


def test_the_toy_kind_implements_the_interface(example_dir: pathlib.Path) -> None:
    from populace.data.inputs import load_inputs
    from populace.spec import Spec

    model = build(load_inputs(Spec.from_yaml(example_dir / "spec.yaml")))
    assert isinstance(model, Model) and isinstance(model, IndependenceModel)


@pytest.mark.pipeline
def test_a_registered_kind_is_fitted_by_the_command_line(example_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    register_model("independence", build)
    spec = example_dir / "spec.yaml"
    text = spec.read_text()
    assert "model:" not in text
    spec.write_text(text + "\nmodel:\n  kind: independence\n")
    out = tmp_path / "post.nc"
    assert main(["fit", str(spec), "--out", str(out), "--draws", "150", "--chains", "2", "--quiet"]) == 0

    import populace as pp

    post = pp.load(out)
    assert post.fit_info["kind"] == "independence" and post.fit_info["toy"] == "independence"
    # the exact tables are met in every draw, as the projection promises
    report = pp.check(post)
    exact = report.checks[report.checks["check"].str.startswith("exact table")]
    assert len(exact) and exact["ok"].all()
    # the joint is not the flat one: the sample and the tables moved it
    shares = post.joint(["education"]).mean(("chain", "draw")).values
    assert np.abs(shares - 1 / len(shares)).max() > 0.02
    # a fresh process that never registered the kind still reads the posterior
    result = subprocess.run(
        [sys.executable, "-m", "populace.cli", "joint", str(out), "--by", "region"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "region,mean,sd,lower,upper"
