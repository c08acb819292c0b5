"""Published shares as evidence, coarse predictors and two-party shares in the outcome model."""

from __future__ import annotations

import numpy as np
import pytest

import populace as pp
from populace.errors import DataError, SpecError
from populace.outcomes.forecast import forecast_table
from populace.outcomes.model import OutcomeDraws, _sum_zero_basis
from populace.outcomes.spec import OutcomeSpec, load_evidence, load_lean_predictor, load_outcome_data
from tests.fakes import KNOWN_JOINT, known_spec, posterior_from_draws

SPEC = """
attributes:
  state: {levels: [a, b]}
  edu:
    levels: [hs, some, ba]
    coarse: {no college: [hs, some], college: [ba]}
marginals:
  - file: state_edu.csv
"""
OUTCOME = """
outcome: vote
levels: [r, d, none]
data: {file: survey.csv}
predictors: [state, edu]
by: [state]
"""
# The population: state a leans r, state b leans d; college leans d everywhere.
TABLE = "state,edu,count\na,hs,300\na,some,200\na,ba,100\nb,hs,150\nb,some,150\nb,ba,300\n"


def _case(tmp_path, evidence: str = "", polls: str = "state,share,se\na,0.6,0.01\nb,0.4,0.01\n"):
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "state_edu.csv").write_text(TABLE)
    (tmp_path / "polls.csv").write_text(polls)
    (tmp_path / "outcome.yaml").write_text(OUTCOME + evidence)
    return pp.Spec.from_yaml(tmp_path / "spec.yaml"), tmp_path / "outcome.yaml"


EVIDENCE = "evidence: {file: polls.csv, share: [r], among: [r, d]}\n"


def test_the_evidence_block_is_read_and_checked(tmp_path) -> None:
    spec, path = _case(tmp_path, EVIDENCE)
    outcome = OutcomeSpec.from_yaml(path)
    (source,) = outcome.evidence
    assert source.share == ("r",) and source.among == ("r", "d") and source.bias > 0 and source.error > 0
    (data,) = load_evidence(outcome, spec)
    assert data.groups == ("state",) and data.numerator == (0,) and data.denominator == (0, 1)
    np.testing.assert_allclose(data.share, [0.6, 0.4])
    for bad, words in [
        ("evidence: {file: polls.csv, share: [x]}\n", "not an outcome level"),
        ("evidence: {file: polls.csv, share: [r], among: [d, none]}\n", "must be among"),
        ("evidence: {file: polls.csv, share: [r], bias: -1}\n", "positive"),
        ("evidence: {file: polls.csv, share: [r], error: x}\n", "error must be a number"),
        ("evidence: {file: polls.csv, share: [r], weight: 2}\n", "unknown key 'weight'"),
        ("evidence: []\n", "lists no sources"),
        ("evidence: [{file: polls.csv, share: [r]}, {file: polls.csv, share: [r]}]\n", "names a file twice"),
        ("evidence: [{file: polls.csv, share: [r]}, {file: us.csv, share: [d]}]\n", "the same share"),
    ]:
        _case(tmp_path, bad)
        with pytest.raises(SpecError, match=words):
            OutcomeSpec.from_yaml(path)


def test_sources_without_group_columns_give_shares_of_the_whole_population(tmp_path) -> None:
    spec, path = _case(tmp_path, "evidence: [{file: polls.csv, share: [r]}, {file: us.csv, share: [r], bias: 0.01}]\n")
    (tmp_path / "us.csv").write_text("share,se\n0.52,0.005\n")
    states, national = load_evidence(OutcomeSpec.from_yaml(path), spec)
    assert states.groups == ("state",) and national.groups == () and national.codes.shape == (1, 0)
    assert national.bias == 0.01 and national.name == "us.csv"
    np.testing.assert_allclose(national.share, [0.52])


@pytest.mark.parametrize(
    ("polls", "words"),
    [
        ("state,share\na,0.5\n", "no 'se' column"),
        ("state,share,se\nc,0.5,0.01\n", "unknown level 'c'"),
        ("state,share,se\na,1.5,0.01\n", "above 1"),
        ("state,share,se\na,0.5,-0.01\n", "is negative"),
        ("region,share,se\na,0.5,0.01\n", "not an attribute"),
    ],
)
def test_bad_evidence_files_name_the_file_and_the_problem(tmp_path, polls: str, words: str) -> None:
    spec, path = _case(tmp_path, EVIDENCE, polls)
    with pytest.raises(DataError, match=words) as info:
        load_evidence(OutcomeSpec.from_yaml(path), spec)
    assert "polls.csv" in str(info.value)


def test_a_predictor_given_by_coarse_sets_is_coded_by_set(tmp_path) -> None:
    spec, path = _case(tmp_path)
    (tmp_path / "survey.csv").write_text("state,edu,vote\na,college,d\nb,no college,r\na,no college,none\n")
    data = load_outcome_data(OutcomeSpec.from_yaml(path), spec)
    assert data.sizes == (2, 2)
    assert data.level_maps[0] is None and data.level_maps[1].tolist() == [0, 0, 1]
    assert data.codes[:, 1].tolist() == [1, 0, 0]
    (tmp_path / "survey.csv").write_text("state,edu,vote\na,college,d\nb,hs,r\n")
    with pytest.raises(DataError, match="either by its levels or by its coarse sets"):
        load_outcome_data(OutcomeSpec.from_yaml(path), spec)


def test_level_probabilities_copy_a_set_to_its_levels() -> None:
    effects = np.array([[[0.0], [2.0]]])  # one draw, two sets, one logit
    model = OutcomeDraws(
        predictors=("edu",), alpha=np.zeros((1, 1)), effects=(effects,), level_maps=(np.array([0, 0, 1]),)
    )
    prob = model.level_probabilities()
    assert prob.shape == (1, 3, 2)
    np.testing.assert_allclose(prob[0, 0], prob[0, 1])
    np.testing.assert_allclose(prob[0, 2], model.probabilities()[0, 1])


def test_the_sum_zero_basis_is_orthonormal_and_sums_to_zero() -> None:
    for levels in (2, 3, 50):
        q = _sum_zero_basis(levels)
        assert q.shape == (levels, levels - 1)
        np.testing.assert_allclose(q.sum(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(q.T @ q, np.eye(levels - 1), atol=1e-12)


def test_among_reports_shares_among_the_named_levels_only() -> None:
    spec = known_spec()
    p = np.broadcast_to(KNOWN_JOINT, (1, 3, *KNOWN_JOINT.shape)).copy()
    post = posterior_from_draws(spec, pp.data.load_inputs(spec), p)
    # P(level | age): constant 0.5 / 0.3 / 0.2 for levels x, y, z
    logits = np.log(np.array([0.3, 0.2]) / 0.5)
    model = OutcomeDraws(predictors=(), alpha=np.broadcast_to(logits, (3, 2)).copy(), effects=())
    table = forecast_table(post, model, [], ["x", "y", "z"], among=["x", "y"])
    assert table["level"].tolist() == ["x", "y"]
    np.testing.assert_allclose(table["mean"], [0.5 / 0.8, 0.3 / 0.8])
    with pytest.raises(DataError, match="two or more outcome levels"):
        forecast_table(post, model, [], ["x", "y", "z"], among=["x"])


@pytest.mark.pipeline
def test_evidence_sets_the_level_where_the_survey_leans(tmp_path) -> None:
    # The survey over-represents d voters in every cell; the published shares are right.
    spec, path = _case(tmp_path, EVIDENCE.replace("}", ", bias: 0.01}"))
    rng = np.random.default_rng(0)
    true_r = {("a", "no college"): 0.75, ("a", "college"): 0.45, ("b", "no college"): 0.55, ("b", "college"): 0.25}
    rows = []
    for (state, edu), share in true_r.items():
        lean = share / (share + 2.0 * (1 - share))  # twice as many d voters answer
        for _ in range(400):
            rows.append(f"{state},{edu},{'r' if rng.random() < lean else 'd'}")
    (tmp_path / "survey.csv").write_text("state,edu,vote\n" + "\n".join(rows) + "\n")
    weights = {"a": (500, 100), "b": (300, 300)}
    truth = {s: (w[0] * true_r[(s, "no college")] + w[1] * true_r[(s, "college")]) / sum(w) for s, w in weights.items()}
    polls = "state,share,se\n" + "".join(f"{s},{v:.4f},0.01\n" for s, v in truth.items())
    (tmp_path / "polls.csv").write_text(polls)
    joint = np.array([[300, 200, 100], [150, 150, 300]], dtype=float) / 1200
    post = posterior_from_draws(spec, pp.data.load_inputs(spec), np.broadcast_to(joint, (1, 20, 2, 3)).copy())
    with_polls = pp.forecast(post, path, draws=300, chains=1, seed=0, among=["r", "d"]).set_index(["state", "level"])
    (tmp_path / "outcome.yaml").write_text(OUTCOME)
    survey_only = pp.forecast(post, path, draws=300, chains=1, seed=0, among=["r", "d"]).set_index(["state", "level"])
    for state, share in truth.items():
        assert with_polls.loc[(state, "r"), "mean"] == pytest.approx(share, abs=0.03)
        assert survey_only.loc[(state, "r"), "mean"] < share - 0.08  # the survey alone leans d


@pytest.mark.pipeline
def test_a_national_share_corrects_the_state_shares_shared_error(tmp_path) -> None:
    # The state polls all read 4 points too d; the national poll is right and trusted more.
    post, path, truth = _representative_case(tmp_path, seed=1, poll_shift=-0.04)
    national = sum(truth[s] * n for s, n in {"a": 600, "b": 600}.items()) / 1200
    (tmp_path / "us.csv").write_text(f"share,se\n{national:.4f},0.003\n")
    states = "{file: polls.csv, share: [r], among: [r, d], bias: 0.03, error: 0.005}"
    results = {}
    for name, evidence in [
        ("states only", f"evidence: [{states}]\n"),
        (
            "with national",
            f"evidence: [{states}, {{file: us.csv, share: [r], among: [r, d], bias: 0.005, error: 0.002}}]\n",
        ),
    ]:
        (tmp_path / "outcome.yaml").write_text(OUTCOME + evidence)
        table = pp.forecast(post, path, draws=300, chains=1, seed=0, among=["r", "d"])
        results[name] = table[table["level"] == "r"].set_index("state")["mean"]
    for state, share in truth.items():
        assert results["with national"][state] == pytest.approx(share, abs=0.015)
        assert results["states only"][state] < share - 0.02  # the state polls' shared error stays


def test_the_correlated_error_block_is_read_and_checked(tmp_path) -> None:
    block = "correlated_error: {attribute: edu, levels: [hs, some], sd: 0.2}\n"
    spec, path = _case(tmp_path, EVIDENCE + block)
    error = OutcomeSpec.from_yaml(path).correlated_error
    assert error.attribute == "edu" and error.levels == ("hs", "some") and error.sd == 0.2
    _case(tmp_path, EVIDENCE + "common_error: 0.02\n")
    assert OutcomeSpec.from_yaml(path).common_error == 0.02
    for bad, words in [
        (block, "needs 'evidence'"),
        (EVIDENCE + "correlated_error: {attribute: edu, levels: [hs]}\n", "needs 'sd'"),
        (EVIDENCE + "correlated_error: {attribute: edu, levels: [hs], sd: 0}\n", "sd must be positive"),
        (EVIDENCE + "correlated_error: {attribute: edu, levels: [hs], sd: 1, by: x}\n", "unknown key 'by'"),
        (EVIDENCE + "correlated_error: [edu]\n", "must be {attribute, levels, sd}"),
        ("common_error: 0.02\n", "needs 'evidence'"),
        (EVIDENCE + "common_error: -0.02\n", "common_error must be positive"),
        (EVIDENCE + "common_error: two\n", "common_error must be a number"),
    ]:
        _case(tmp_path, bad)
        with pytest.raises(SpecError, match=words):
            OutcomeSpec.from_yaml(path)


def _representative_case(tmp_path, *, seed: int, poll_shift: float = 0.0):
    """A representative survey and state polls `poll_shift` off; a and b differ in their share without college."""
    spec, path = _case(tmp_path)
    rng = np.random.default_rng(seed)
    true_r = {("a", "no college"): 0.75, ("a", "college"): 0.45, ("b", "no college"): 0.55, ("b", "college"): 0.25}
    rows = [
        f"{state},{edu},{'r' if rng.random() < share else 'd'}"
        for (state, edu), share in true_r.items()
        for _ in range(400)
    ]
    (tmp_path / "survey.csv").write_text("state,edu,vote\n" + "\n".join(rows) + "\n")
    weights = {"a": (500, 100), "b": (300, 300)}
    truth = {s: (w[0] * true_r[(s, "no college")] + w[1] * true_r[(s, "college")]) / sum(w) for s, w in weights.items()}
    polls = "".join(f"{s},{v + poll_shift:.4f},0.005\n" for s, v in truth.items())
    (tmp_path / "polls.csv").write_text("state,share,se\n" + polls)
    joint = np.array([[300, 200, 100], [150, 150, 300]], dtype=float) / 1200
    post = posterior_from_draws(spec, pp.data.load_inputs(spec), np.broadcast_to(joint, (1, 400, 2, 3)).copy())
    return post, path, truth


@pytest.mark.pipeline
def test_shared_errors_widen_by_their_prior_and_are_not_learned(tmp_path) -> None:
    # State a is 83% without college, b 50%, the population 67%: with a correlated error
    # of sd 0.2 both states may miss by 0.2 x 0.17 = 3.3 points (in opposite directions),
    # the population by nothing; a common error of sd 0.02 moves every group and the
    # population alike. Neither is learned: the fitted model is the same.
    evidence = "evidence: {file: polls.csv, share: [r], among: [r, d], bias: 0.005, error: 0.005}\n"
    width, mean, models = {}, {}, {}
    for name, extra in [
        ("plain", ""),
        ("correlated", "correlated_error: {attribute: edu, levels: [hs, some], sd: 0.2}\n"),
        ("common", "common_error: 0.02\n"),
    ]:
        post, path, truth = _representative_case(tmp_path, seed=2)
        (tmp_path / "outcome.yaml").write_text(OUTCOME + evidence + extra)
        models[name] = model = pp.outcome_model(post, path, draws=400, chains=1, seed=0)
        for by in (["state"], []):
            table = pp.forecast(post, path, by=by, model=model, among=["r", "d"])
            table = table[table["level"] == "r"].set_index(by or ["level"])
            width[(name, bool(by))] = table["upper"] - table["lower"]
            mean[(name, bool(by))] = table["mean"]
    assert abs(float(models["correlated"].correlated_error.std()) - 0.2) < 0.03
    assert abs(float(models["common"].common_error.std()) - 0.02) < 0.003
    for name in ("correlated", "common"):
        np.testing.assert_array_equal(models[name].alpha, models["plain"].alpha)
        none = models[name].with_shared_errors(common=False, correlated=False)
        np.testing.assert_allclose(none.probabilities(), models["plain"].probabilities(), atol=1e-12)
    for state, share in truth.items():
        assert mean[("correlated", True)][state] == pytest.approx(share, abs=0.03)
        assert width[("correlated", True)][state] > width[("plain", True)][state] + 0.04
        assert _added(width[("common", True)][state], width[("plain", True)][state]) > 0.04
    assert float(width[("correlated", False)].iloc[0]) < float(width[("plain", False)].iloc[0]) + 0.01
    assert _added(float(width[("common", False)].iloc[0]), float(width[("plain", False)].iloc[0])) > 0.04


def _added(wider: float, plain: float) -> float:
    """The 90% width an independent error adds in quadrature: 0.066 for sd 0.02 at shares near one half
    (the shift is on the log odds, so shares at 0.25 or 0.75 move by 3/4 of it)."""
    return float(np.sqrt(max(wider**2 - plain**2, 0.0)))


LEAN_SPEC = "attributes:\n  state: {levels: [%s]}\nmarginals:\n  - file: states.csv\n"
LEAN_OUTCOME = """
outcome: vote
levels: [r, d]
data: {file: survey.csv}
predictors: [state]
by: [state]
evidence: {file: polls.csv, share: [r], among: [r, d], bias: 0.01, error: 0.04}
"""


def _lean_case(tmp_path, n_states: int = 10):
    """States whose true log odds run from -1 to 1; a survey that compresses them to 0.6 of that
    (and leans d); noisy polls; last election's log odds (the truth's, with noise) as the predictor."""
    rng = np.random.default_rng(3)
    states = [f"s{i}" for i in range(n_states)]
    (tmp_path / "spec.yaml").write_text(LEAN_SPEC % ", ".join(states))
    (tmp_path / "states.csv").write_text("state,count\n" + "".join(f"{s},1000\n" for s in states))
    logit = np.linspace(-1.0, 1.0, n_states)
    truth = 1 / (1 + np.exp(-logit))
    survey = 1 / (1 + np.exp(-(0.6 * logit - 0.3)))
    rows = [f"{s},{'r' if rng.random() < q else 'd'}" for s, q in zip(states, survey, strict=True) for _ in range(400)]
    (tmp_path / "survey.csv").write_text("state,vote\n" + "\n".join(rows) + "\n")
    polls = truth + rng.normal(0.0, 0.04, n_states)
    (tmp_path / "polls.csv").write_text(
        "state,share,se\n" + "".join(f"{s},{v:.4f},0.01\n" for s, v in zip(states, polls, strict=True))
    )
    lean = logit + rng.normal(0.0, 0.1, n_states)
    (tmp_path / "lean.csv").write_text(
        "state,lean\n" + "".join(f"{s},{v:.4f}\n" for s, v in zip(states, lean, strict=True))
    )
    spec = pp.Spec.from_yaml(tmp_path / "spec.yaml")
    joint = np.full((1, 200, n_states), 1.0 / n_states)
    post = posterior_from_draws(spec, pp.data.load_inputs(spec), joint)
    return post, dict(zip(states, truth, strict=True))


@pytest.mark.pipeline
def test_a_lean_predictor_undoes_a_survey_that_compresses_the_groups(tmp_path) -> None:
    post, truth = _lean_case(tmp_path)
    path = tmp_path / "outcome.yaml"
    error, slope = {}, {}
    for name, extra in [("pooled", ""), ("lean", "lean_predictor: {file: lean.csv, column: lean}\n")]:
        path.write_text(LEAN_OUTCOME + extra)
        model = pp.outcome_model(post, path, draws=400, chains=1, seed=0)
        table = pp.forecast(post, path, model=model, among=["r", "d"])
        table = table[table["level"] == "r"].set_index("state")
        error[name] = np.array([table.loc[s, "mean"] - v for s, v in truth.items()])
        slope[name] = model.house_slope
    truth_spread = np.array(list(truth.values())) - np.mean(list(truth.values()))
    # pooled toward zero, the survey's compressed pattern pulls the states together ...
    assert np.polyfit(truth_spread, error["pooled"], 1)[0] < -0.1
    # ... pooled toward the predictor, it does not, and the states are nearer the truth
    assert abs(np.polyfit(truth_spread, error["lean"], 1)[0]) < 0.6 * abs(
        np.polyfit(truth_spread, error["pooled"], 1)[0]
    )
    assert np.abs(error["lean"]).mean() < np.abs(error["pooled"]).mean()
    assert slope["pooled"] is None and np.quantile(slope["lean"], 0.95) < 0  # the survey leans against the predictor


def test_the_lean_predictor_is_read_and_checked(tmp_path) -> None:
    post, _ = _lean_case(tmp_path, n_states=3)
    path = tmp_path / "outcome.yaml"
    path.write_text(LEAN_OUTCOME + "lean_predictor: {file: lean.csv, column: lean}\n")
    outcome = OutcomeSpec.from_yaml(path)
    values = load_lean_predictor(outcome, post.spec, ("state",))
    assert values.shape == (3,) and abs(values.mean()) < 1e-12 and values.std() == pytest.approx(1.0)
    assert values[0] < values[1] < values[2]
    for bad, words in [
        ("lean_predictor: {file: lean.csv}\n", "needs 'column'"),
        ("lean_predictor: {file: lean.csv, column: lean, by: x}\n", "unknown key 'by'"),
        ("lean_predictor: lean.csv\n", "must be {file, column}"),
    ]:
        path.write_text(LEAN_OUTCOME + bad)
        with pytest.raises(SpecError, match=words):
            OutcomeSpec.from_yaml(path)
    path.write_text(LEAN_OUTCOME.split("evidence")[0] + "lean_predictor: {file: lean.csv, column: lean}\n")
    with pytest.raises(SpecError, match="needs 'evidence'"):
        OutcomeSpec.from_yaml(path)
    path.write_text(LEAN_OUTCOME + "lean_predictor: {file: lean.csv, column: lean}\n")
    for text, words in [
        ("state,lean\ns0,1\ns1,2\n", "no value for the group state=s2"),
        ("state,lean\ns0,1\ns1,2\ns2,x\n", "'x' is not a finite number"),
        ("state,lean\ns0,1\ns1,2\ns2,3\ns0,4\n", "second time"),
        ("state,lean\ns0,1\ns1,2\ns9,3\n", "unknown level 's9'"),
        ("state,lean\ns0,1\ns1,1\ns2,1\n", "does not vary"),
        ("region,lean\ns0,1\ns1,2\ns2,3\n", "group attribute 'state'"),
        ("state,x\ns0,1\ns1,2\ns2,3\n", "no column 'lean'"),
    ]:
        (tmp_path / "lean.csv").write_text(text)
        with pytest.raises(DataError, match=words) as info:
            load_lean_predictor(OutcomeSpec.from_yaml(path), post.spec, ("state",))
        assert info.value.file == "lean.csv"
