"""Every plot writes a readable PNG, from posteriors built without a sampler (tests/fakes.py)."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from populace import plots
from populace.baselines import independence
from populace.data.examples import example_truth
from populace.data.inputs import load_inputs
from populace.errors import DataError
from populace.inference.checks import check
from populace.outcomes.forecast import forecast_table
from populace.outcomes.model import OutcomeDraws


def _image(path: pathlib.Path) -> np.ndarray:
    """The PNG at ``path`` as an array, after checking it is one and is not blank."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 50
    assert image[..., :3].std() > 0.01
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left behind
    return image


def _folder(parent: pathlib.Path, name: str) -> pathlib.Path:
    """A new empty folder (plots write into existing folders only)."""
    folder = parent / name
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def cells(fake_posterior) -> pd.DataFrame:
    return check(fake_posterior).cells


def test_ppc_plot_has_one_panel_per_table(cells, tmp_path) -> None:
    one = _image(plots.ppc_plot(cells[cells["table"] == "wage.csv"], _folder(tmp_path, "one") / "ppc.png"))
    tables = ["region_ethnicity.csv", "region_smsa.csv", "wage.csv"]
    three = _image(plots.ppc_plot(cells[cells["table"].isin(tables)], _folder(tmp_path, "three") / "ppc.png"))
    assert three.shape[0] > 2.1 * one.shape[0]  # 2.2 inches of height per table


def test_heatmap_plot_with_and_without_truth(fake_posterior, tmp_path) -> None:
    summary = fake_posterior.summary(["region", "wage"])
    plain = _image(plots.heatmap_plot(summary, "region", "wage", _folder(tmp_path, "a") / "heat.png"))
    truth = fake_posterior.joint(["region", "wage"]).mean(("chain", "draw")).to_series()
    marked = _image(plots.heatmap_plot(summary, "region", "wage", _folder(tmp_path, "b") / "heat.png", truth=truth))
    assert plain.shape[1] > plain.shape[0]  # 4 wage columns drawn wider than 4 region rows are tall
    assert plain.shape != marked.shape or not np.array_equal(plain, marked)  # the truth is written in


def test_plots_refuse_a_missing_folder(cells, tmp_path) -> None:
    with pytest.raises(DataError, match="folder does not exist"):
        plots.ppc_plot(cells, tmp_path / "absent" / "ppc.png")


def test_recovery_plot(fake_posterior, tmp_path) -> None:
    spec = fake_posterior.spec
    table = fake_posterior.summary()
    estimates = {
        "populace": table["mean"].to_numpy(),
        "independence": independence(load_inputs(spec)).ravel(),
    }
    path = plots.recovery_plot(
        example_truth(spec), estimates, table["lower"].to_numpy(), table["upper"].to_numpy(), tmp_path / "rec.png"
    )
    _image(path)


def test_forecast_plot_with_actual_results(known_posterior, tmp_path) -> None:
    model = OutcomeDraws(
        predictors=("age",), alpha=np.zeros((4, 1)), effects=(np.tile([[1.0], [0.0], [-1.0]], (4, 1, 1)),)
    )
    table = forecast_table(known_posterior, model, ["sex"], ["no", "yes"])
    actual = pd.Series({"female": 0.45, "male": 0.5})
    _image(plots.forecast_plot(table, "yes", _folder(tmp_path, "a") / "forecast.png", actual=actual))
    overall = forecast_table(known_posterior, model, [], ["no", "yes"])
    _image(plots.forecast_plot(overall, "yes", _folder(tmp_path, "b") / "forecast.png"))
