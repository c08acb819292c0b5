"""The decomposable kind through ``populace fit``: tables met, margins, personas, check, saving, bad specs."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest

import populace as pp
from populace.data.inputs import load_inputs
from populace.errors import DataError, SpecError
from populace.spec import Spec

pytest.importorskip("numpyro")

EXAMPLE = pathlib.Path(pp.__file__).parent / "data" / "cps1988"
ATTRIBUTES = """attributes:
  region:    {levels: [northeast, midwest, south, west]}
  ethnicity: {levels: [cauc, afam]}
  smsa:      {levels: ["no", "yes"]}
  parttime:  {levels: ["no", "yes"]}
  education: {levels: [lt12, "12", "13-15", 16plus], ordered: true}
  wage:      {levels: [q1, q2, q3, q4], ordered: true}
"""
INPUTS = """marginals:
  - file: region_ethnicity.csv
  - file: region_smsa.csv
  - file: wage.csv
microdata:
  file: sample.csv
  weight: weight
"""


def _folder(tmp: pathlib.Path, model: str = "model: {kind: decomposable, classes: 2}\n") -> pathlib.Path:
    for name in ("region_ethnicity.csv", "region_smsa.csv", "wage.csv", "sample.csv"):
        shutil.copy(EXAMPLE / name, tmp / name)
    (tmp / "spec.yaml").write_text(ATTRIBUTES + INPUTS + model)
    return tmp / "spec.yaml"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[pp.Posterior, pathlib.Path]:
    spec_path = _folder(tmp_path_factory.mktemp("decomposable"))
    post = pp.fit(pp.Spec.from_yaml(spec_path), draws=30, chains=1, seed=3, progress=False)
    return post, spec_path.parent


def test_every_draw_meets_every_exact_table(fitted: tuple[pp.Posterior, pathlib.Path]) -> None:
    post, _ = fitted
    assert post.factorised and "p" not in post.posterior
    inputs = post.inputs()
    assert inputs.support is None  # loaded without the grid
    for table in inputs.tables:
        shares = post.joint([post.spec.names[a] for a in table.axes]).values.reshape(post.n_samples, -1)
        expected = np.broadcast_to((table.counts / table.total).ravel(), shares.shape)
        np.testing.assert_allclose(shares, expected, atol=1e-6)


def test_margins_are_consistent_and_survive_saving(fitted: tuple[pp.Posterior, pathlib.Path], tmp_path) -> None:
    post, _ = fitted
    three = post.joint(["wage", "education", "region"])
    assert three.dims == ("chain", "draw", "wage", "education", "region")
    np.testing.assert_allclose(three.sum(("education", "region")).values, post.joint(["wage"]).values, atol=1e-9)
    np.testing.assert_allclose(three.sum(axis=(2, 3, 4)).values, 1.0, atol=1e-9)
    again = pp.load(post.to_netcdf(tmp_path / "post.nc"))
    np.testing.assert_allclose(again.joint(["education", "wage"]).values, post.joint(["education", "wage"]).values)
    assert again.fit_info["classes"] == 2


def test_personas_follow_the_posterior(fitted: tuple[pp.Posterior, pathlib.Path]) -> None:
    post, _ = fitted
    people = pp.personas(post, n=30_000, seed=1)
    assert list(people.columns) == ["persona_id", "draw", *post.spec.names]
    expected = post.joint(["education", "wage"]).mean(("chain", "draw")).values
    observed = people.groupby(["education", "wage"], observed=False).size().to_numpy().reshape(expected.shape)
    assert np.abs(observed / len(people) - expected).max() < 0.01
    again = pp.personas(post, n=500, seed=1)
    assert again.equals(pp.personas(post, n=500, seed=1))


def test_check_reports_the_graph_and_draws_it(fitted: tuple[pp.Posterior, pathlib.Path], tmp_path) -> None:
    post, _ = fitted
    report = pp.check(post)
    rows = report.checks.set_index("check")
    assert "graph" in rows.index and "latent class of 2 levels" in rows.loc["graph", "message"]
    exact = report.checks[report.checks["check"].str.startswith("exact table")]
    assert len(exact) == 3 and bool(exact["ok"].all())
    assert any(report.cells["table"].str.startswith("microdata"))  # the sample's one-way margins, from its rows
    folder = report.write(tmp_path / "report")
    assert (folder / "graph.png").is_file()


def test_a_grid_too_large_for_loglinear_loads_without_it(tmp_path) -> None:
    levels = "{levels: [a, b, c, d]}"
    attributes = "attributes:\n" + "".join(f"  x{i}: {levels}\n" for i in range(20))
    (tmp_path / "x0.csv").write_text("x0,count\na,1\nb,2\nc,3\nd,4\n")
    text = attributes + "marginals:\n  - file: x0.csv\n"
    with pytest.raises(SpecError, match="cells"):
        load_inputs(Spec.from_text(text, base_dir=tmp_path))
    inputs = load_inputs(Spec.from_text(text + "model: {kind: decomposable}\n", base_dir=tmp_path))
    assert inputs.support is None and inputs.population == 10


@pytest.mark.parametrize("classes", ["1", "-2", "two"])
def test_bad_class_counts_are_refused(tmp_path, classes: str) -> None:
    spec_path = _folder(tmp_path, f"model: {{kind: decomposable, classes: {classes}}}\n")
    with pytest.raises(SpecError, match="model.classes"):
        pp.Spec.from_yaml(spec_path)


def test_classes_belong_to_the_decomposable_kind(tmp_path) -> None:
    spec_path = _folder(tmp_path, "model: {kind: loglinear, classes: 3}\n")
    with pytest.raises(SpecError, match="decomposable"):
        pp.fit(pp.Spec.from_yaml(spec_path), draws=5, chains=1, progress=False)


def test_rules_are_structural_zeros_in_every_draw_and_persona(tmp_path) -> None:
    """No sampled person is part-time in the third wage quartile: a rule makes that a structural zero."""
    rule = "rules:\n  - {parttime: 'yes', wage: q3}\n"
    spec_path = _folder(tmp_path, f"model: {{kind: decomposable, classes: 2}}\n{rule}")
    post = pp.fit(pp.Spec.from_yaml(spec_path), method="bootstrap", draws=50, chains=1, seed=1, progress=False)
    assert "parttime" in post.fit_info["tree_description"]
    pair = post.joint(["parttime", "wage"])
    assert float(pair.sel(parttime="yes", wage="q3").max()) == 0.0
    assert float(pair.sel(parttime="yes").sum("wage").min()) > 0.01  # the rest of the row keeps its mass
    people = pp.personas(post, n=20_000, seed=2)
    assert not ((people["parttime"] == "yes") & (people["wage"] == "q3")).any()
    report = pp.check(post).checks
    assert bool(report[report["check"].str.startswith("exact table")]["ok"].all())


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("{region: west, smsa: 'no'}", ["region_smsa.csv", "region=west, smsa=no", "rule 1"]),
        ("{parttime: 'yes', wage: q1}", ["sample.csv", "row", "parttime=yes, wage=q1", "rule 1"]),
    ],
)
def test_a_rule_that_a_table_or_a_person_breaks_is_bad_input(tmp_path, rule: str, words: list[str]) -> None:
    spec_path = _folder(tmp_path, f"model: {{kind: decomposable}}\nrules:\n  - {rule}\n")
    with pytest.raises(DataError) as err:
        load_inputs(pp.Spec.from_yaml(spec_path))
    assert all(w in str(err.value) for w in words), str(err.value)


def test_a_sampled_person_in_a_zero_cell_names_the_row(tmp_path) -> None:
    spec_path = _folder(tmp_path, "model: {kind: decomposable}\n")
    rows = dict(line.rsplit(",", 1) for line in (tmp_path / "region_smsa.csv").read_text().splitlines()[1:])
    # every western man in an SMSA: the table's totals still agree with the region table
    rows["west,yes"] = str(int(rows["west,yes"]) + int(rows.pop("west,no")))
    rows["west,no"] = "0"
    (tmp_path / "region_smsa.csv").write_text("region,smsa,count\n" + "".join(f"{k},{v}\n" for k, v in rows.items()))
    with pytest.raises(DataError, match="region_smsa.csv counts as zero") as info:
        load_inputs(pp.Spec.from_yaml(spec_path))
    assert info.value.file == "sample.csv" and info.value.row is not None


def test_latent_classes_need_a_sample(tmp_path) -> None:
    spec_path = _folder(tmp_path)
    text = spec_path.read_text().replace("microdata:\n  file: sample.csv\n  weight: weight\n", "")
    spec_path.write_text(text)
    with pytest.raises(SpecError, match="needs microdata"):
        pp.fit(pp.Spec.from_yaml(spec_path), draws=5, chains=1, progress=False)


@pytest.mark.slow
def test_latent_classes_recover_associations_the_tree_cannot(tmp_path) -> None:
    """Synthetic truth (a known answer is needed): a two-class latent class model over four attributes.

    Every pair is associated through the class, so no tree holds the joint; the model
    with two classes is the truth's own form. Published: the one-way tables; a sample of
    3,000. Scored: TVD of every pair margin of the posterior mean.
    """
    import itertools

    rng = np.random.default_rng(5)
    shape = (3, 3, 3, 3)
    weights = np.array([0.4, 0.6])
    profiles = [rng.dirichlet(np.full(k, 0.6), size=2) for k in shape]  # per attribute, one row per class
    truth = np.einsum("c,ca,cb,cd,ce->abde", weights, *profiles)
    names = ["a", "b", "c", "d"]
    levels = [[f"l{i}" for i in range(k)] for k in shape]
    cells = rng.choice(truth.size, size=3000, p=truth.ravel())
    persons = np.stack(np.unravel_index(cells, shape), axis=1)
    lines = [",".join(names)] + [",".join(levels[j][v] for j, v in enumerate(row)) for row in persons]
    (tmp_path / "sample.csv").write_text("\n".join(lines) + "\n")
    files = []
    for a, name in enumerate(names):
        counts = np.round(truth.sum(axis=tuple(b for b in range(4) if b != a)) * 1_000_000).astype(int)
        (tmp_path / f"{name}.csv").write_text(
            f"{name},count\n" + "".join(f"{lv},{c}\n" for lv, c in zip(levels[a], counts))
        )
        files.append(f"  - file: {name}.csv\n")
    attributes = "".join(f"  {n}: {{levels: [{', '.join(lv)}]}}\n" for n, lv in zip(names, levels))
    base = "attributes:\n" + attributes + "marginals:\n" + "".join(files) + "microdata:\n  file: sample.csv\n"
    errors = {}
    for classes in (0, 2):
        spec = Spec.from_text(base + f"model: {{kind: decomposable, classes: {classes}}}\n", base_dir=tmp_path)
        post = pp.fit(spec, draws=300, chains=2, seed=1, progress=False)
        tvds = []
        for pair in itertools.combinations(range(4), 2):
            mean = post.joint([names[a] for a in pair]).mean(("chain", "draw")).values
            true = truth.sum(axis=tuple(b for b in range(4) if b not in pair))
            tvds.append(0.5 * np.abs(mean - true).sum())
        errors[classes] = max(tvds)
    assert errors[2] < 0.04
    assert errors[2] < 0.7 * errors[0]


def test_a_table_with_standard_errors_is_a_measurement_by_nuts_and_by_the_bootstrap(tmp_path) -> None:
    """cps1988's education x parttime table has an se column: met within its errors, with their spread."""
    spec_path = _folder(tmp_path, model="model: {kind: decomposable}\n")
    shutil.copy(EXAMPLE / "education_parttime.csv", tmp_path / "education_parttime.csv")
    added = "  - file: wage.csv\n  - file: education_parttime.csv\n"
    spec_path.write_text(spec_path.read_text().replace("  - file: wage.csv\n", added))
    spec = pp.Spec.from_yaml(spec_path)
    table = next(t for t in load_inputs(spec, grid=False).tables if not t.exact)
    published, se = (table.counts / table.total).ravel(), (table.se / table.total).ravel()
    spreads = {}
    for method, draws, chains in (("nuts", 200, 2), ("bootstrap", 400, 1)):
        post = pp.fit(spec, method=method, draws=draws, chains=chains, seed=2, progress=False)
        shares = post.joint(["parttime", "education"]).values.reshape(post.n_samples, -1)
        assert np.all(np.abs(shares.mean(axis=0) - published) < 2.5 * se), method  # within the estimate's errors
        spreads[method] = shares.std(axis=0)
        assert np.all(spreads[method] < 1.2 * se) and np.all(spreads[method] > 0.2 * se), method
        report = pp.check(post).checks.set_index("check")
        assert bool(report.loc[[c for c in report.index if c.startswith("exact table")], "ok"].all())
        assert "se table education_parttime.csv" in report.index
    # the bootstrap redraws the published estimate as well as the sample: the same spread as NUTS
    np.testing.assert_allclose(spreads["bootstrap"], spreads["nuts"], rtol=0.3)
