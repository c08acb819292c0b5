"""Reading a spec: keys, attribute declarations, defaults (DESIGN.md section 1).

Every error is a :class:`SpecError` whose one-line message names the offending key or
value, so the command line can print it as it is and exit with code 2.
"""

from __future__ import annotations

import dataclasses
import pathlib
import textwrap

import pytest

from populace.errors import PopulaceInputError, SpecError
from populace.spec import Spec

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "populace" / "data" / "cps1988" / "spec.yaml"

MINIMAL = """\
attributes:
  sex: {levels: [female, male]}
marginals:
  - file: sex.csv
"""


def parse(text: str) -> Spec:
    return Spec.from_text(textwrap.dedent(text), name="test.yaml")


def refused(text: str) -> str:
    """Parse ``text``, expect a SpecError, return its message (checked to be one line)."""
    with pytest.raises(SpecError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, PopulaceInputError)
    return message


# --- levels are text, exactly as written ----------------------------------------------


def test_unquoted_yaml_11_words_and_numbers_stay_text():
    spec = parse(
        """\
        attributes:
          answer: {levels: [no, yes, on, off, true, null, ~]}
          grade:  {levels: [12, 007, 1.50, 0x1F, 1e3]}
        marginals: [answer.csv]
        """
    )
    assert spec.attribute("answer").levels == ("no", "yes", "on", "off", "true", "null", "~")
    assert spec.attribute("grade").levels == ("12", "007", "1.50", "0x1F", "1e3")
    assert all(type(v) is str for a in spec.attributes for v in a.levels)


def test_quoted_and_unquoted_levels_mean_the_same_text():
    spec = parse(
        """\
        attributes:
          smsa: {levels: ["no", yes]}
          education: {levels: [lt12, "12", 13-15]}
        marginals: [smsa.csv]
        """
    )
    assert spec.attribute("smsa").levels == ("no", "yes")
    assert spec.attribute("education").levels == ("lt12", "12", "13-15")


def test_example_spec_levels_and_structure():
    spec = Spec.from_yaml(EXAMPLE)
    assert spec.names == ("region", "ethnicity", "smsa", "parttime", "education", "wage")
    assert spec.attribute("smsa").levels == ("no", "yes")
    assert spec.attribute("parttime").levels == ("no", "yes")
    assert spec.attribute("education").levels == ("lt12", "12", "13-15", "16plus")
    assert spec.attribute("education").ordered and not spec.attribute("region").ordered
    assert spec.shape == (4, 2, 2, 2, 4, 4)
    assert [m.file for m in spec.marginals] == [
        "region_ethnicity.csv",
        "region_smsa.csv",
        "education_parttime.csv",
        "wage.csv",
    ]
    assert spec.microdata is not None
    assert spec.microdata.source.file == "sample.csv"
    assert spec.microdata.weight == "weight"
    assert spec.base_dir == EXAMPLE.parent
    assert spec.name == "spec.yaml"


def test_non_scalar_level_is_refused_with_a_message():
    message = refused(
        """\
        attributes:
          sex: {levels: [female, [male]]}
        marginals: [sex.csv]
        """
    )
    assert "sex" in message and "male" in message


def test_rule_levels_are_text_too():
    spec = parse(
        """\
        attributes:
          smsa: {levels: ["no", "yes"]}
          grade: {levels: ["12", "13"]}
        marginals: [smsa.csv]
        rules:
          - {smsa: no, grade: [12]}
        """
    )
    assert spec.rules == ((("smsa", ("no",)), ("grade", ("12",))),)


# --- keys and values that are refused ----------------------------------------------------


def test_unknown_top_level_key():
    message = refused(MINIMAL + "populaton: 100\n")
    assert "populaton" in message and "test.yaml" in message


def test_unknown_attribute_key():
    message = refused(
        """\
        attributes:
          sex: {levels: [female, male], orderd: true}
        marginals: [sex.csv]
        """
    )
    assert "orderd" in message and "sex" in message


def test_a_misspelt_key_gets_the_key_it_is_closest_to():
    assert "did you mean 'population'?" in refused(MINIMAL + "populaton: 100\n")


def test_a_misplaced_key_is_told_where_it_belongs():
    message = refused(MINIMAL.replace("  - file: sex.csv", "  - {file: sex.csv, weight: w}"))
    assert "unknown key 'weight' in marginals entry 1" in message and "'weight' belongs in 'microdata'" in message
    message = refused(MINIMAL + "draws: 500\n")
    assert "'draws' belongs in 'inference'" in message


def test_unknown_model_kind():
    message = refused(MINIMAL + "model: {kind: neural}\n")
    assert "neural" in message and "model.kind" in message


@pytest.mark.parametrize("value", ["many", "1.5", "''", "[10]"])
def test_bad_integer_for_draws(value):
    message = refused(MINIMAL + f"inference: {{draws: {value}}}\n")
    assert "draws" in message
    if value not in ("''", "[10]"):
        assert value in message


@pytest.mark.parametrize(("key", "value"), [("draws", "0"), ("chains", "0"), ("seed", "-1")])
def test_out_of_range_inference_integer(key, value):
    message = refused(MINIMAL + f"inference: {{{key}: {value}}}\n")
    assert key in message and value in message


def test_unknown_inference_method():
    message = refused(MINIMAL + "inference: {method: gibbs}\n")
    assert "gibbs" in message


def test_bad_interactions():
    assert "interactions" in refused(MINIMAL + "model: {interactions: two}\n")
    assert "interactions" in refused(MINIMAL + "model: {interactions: 0}\n")


@pytest.mark.parametrize("levels", ["[female, male, female]", '[no, "no"]', '[12, "12"]'])
def test_duplicate_levels(levels):
    message = refused(
        f"""\
        attributes:
          sex: {{levels: {levels}}}
        marginals: [sex.csv]
        """
    )
    assert "sex" in message and "twice" in message
    duplicate = {"[female, male, female]": "female", '[no, "no"]': "no", '[12, "12"]': "12"}[levels]
    assert f"'{duplicate}'" in message


def test_duplicate_attribute_names_in_python_constructor():
    from populace.spec import Attribute, TableSource

    with pytest.raises(SpecError, match="'sex' is declared twice"):
        Spec(
            attributes=[Attribute(name="sex", levels=("f",)), Attribute(name="sex", levels=("m",))],
            marginals=[TableSource(file="x.csv")],
        )


def test_rule_naming_an_unknown_attribute():
    message = refused(MINIMAL + "rules:\n  - {age: '0-17'}\n")
    assert "'age'" in message and "rule 1" in message


def test_rule_naming_an_unknown_level():
    message = refused(MINIMAL + "rules:\n  - {sex: other}\n")
    assert "'other'" in message and "sex" in message


def test_second_rule_is_numbered_in_the_message():
    message = refused(MINIMAL + "rules:\n  - {sex: male}\n  - {sex: [female, nonbinary]}\n")
    assert "rule 2" in message and "nonbinary" in message


def test_role_other_than_geography():
    message = refused(
        """\
        attributes:
          state: {levels: [AL, AK], role: area}
        marginals: [state.csv]
        """
    )
    assert "'area'" in message and "state" in message


def test_geography_role_is_kept():
    spec = parse(
        """\
        attributes:
          state: {levels: [AL, AK], role: geography}
        marginals: [state.csv]
        """
    )
    assert spec.attribute("state").role == "geography"


def test_bad_boolean_for_ordered():
    message = refused(
        """\
        attributes:
          age: {levels: [young, old], ordered: maybe}
        marginals: [age.csv]
        """
    )
    assert "maybe" in message and "ordered" in message


def test_no_evidence_is_refused():
    assert "marginals" in refused("attributes:\n  sex: {levels: [female, male]}\n")


def test_reserved_attribute_name():
    message = refused("attributes:\n  count: {levels: [a]}\nmarginals: [x.csv]\n")
    assert "'count'" in message


def test_invalid_yaml_names_the_line():
    message = refused(MINIMAL + "model: {kind: [loglinear}\n")
    assert "line" in message and "test.yaml" in message


def test_missing_spec_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError) as info:
        Spec.from_yaml(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value)


def test_population_must_be_a_positive_number():
    assert "lots" in refused("population: lots\n" + MINIMAL)
    assert "-5" in refused("population: -5\n" + MINIMAL)
    assert parse("population: 3_000_000\n" + MINIMAL).population == 3_000_000


# --- features not available yet ------------------------------------------------------------


def test_an_unknown_model_kind_is_refused_with_the_kinds_there_are():
    message = refused(MINIMAL + "model: {kind: copula}\n")
    assert "'copula' is unknown" in message and "loglinear" in message


def test_llm_filter_block_is_read_with_defaults_and_round_trips():
    from populace.spec import spec_to_yaml

    spec = parse(MINIMAL + "llm_filter:\n  mode: yes-no\n  weights: per-pair\n")
    options = spec.llm_filter
    assert (options.scorer, options.model, options.mode, options.weights) == (
        "causal-lm",
        "gemma3-270m",
        "yes-no",
        "per-pair",
    )
    again = Spec.from_text(spec_to_yaml(dataclasses.replace(spec, text=None)))
    assert again.llm_filter == options


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("  mode: maybe\n", "llm_filter.mode 'maybe'"),
        ("  weights: many\n", "llm_filter.weights 'many'"),
        ("  order: triples\n", "llm_filter.order 'triples'"),
        ("  temperature: 2\n", "temperature"),
        ("  model: [a, b]\n", "llm_filter.model"),
    ],
)
def test_bad_llm_filter_values_are_refused(block, expected):
    assert expected in refused(MINIMAL + "llm_filter:\n" + block)


@pytest.mark.parametrize("empty", ["", " null", " ~"])
@pytest.mark.parametrize("block", ["llm_filter", "model", "inference"])
def test_empty_or_null_block_means_absent(block, empty):
    spec = parse(MINIMAL + f"{block}:{empty}\n")
    assert spec.llm_filter is None
    assert (spec.model.kind, spec.model.interactions) == ("loglinear", 3)
    assert spec.inference.draws == 1000


# --- defaults and overrides -----------------------------------------------------------------


def test_defaults_follow_the_contract():
    spec = parse(MINIMAL)
    assert spec.inference.method == "nuts"
    assert spec.inference.draws == 1000
    assert spec.inference.chains == 4
    assert spec.inference.seed == 0
    assert spec.model.kind == "loglinear"
    assert spec.model.interactions == 3
    assert spec.population is None
    assert spec.rules == ()
    assert spec.microdata is None
    assert spec.attribute("sex").ordered is False
    assert spec.attribute("sex").role is None


def test_partial_blocks_keep_the_other_defaults():
    spec = parse(MINIMAL + "inference: {draws: 250}\nmodel: {interactions: 2}\n")
    assert (spec.inference.method, spec.inference.draws, spec.inference.chains, spec.inference.seed) == (
        "nuts",
        250,
        4,
        0,
    )
    assert (spec.model.kind, spec.model.interactions) == ("loglinear", 2)


def test_spec_values_are_read():
    spec = parse(
        "population: 28155\n"
        + MINIMAL
        + "inference: {method: advi, draws: 20, chains: 2, seed: 7}\nmodel: {kind: loglinear, interactions: 1}\n"
    )
    assert spec.population == 28155
    assert (spec.inference.method, spec.inference.draws, spec.inference.chains, spec.inference.seed) == (
        "advi",
        20,
        2,
        7,
    )
    assert spec.model.interactions == 1


def test_with_inference_overrides_and_keeps_the_rest():
    spec = parse(MINIMAL + "inference: {method: pathfinder, draws: 50, chains: 3, seed: 9}\n")
    changed = spec.with_inference(draws=10, seed=None, chains=None)
    assert (changed.inference.method, changed.inference.draws, changed.inference.chains, changed.inference.seed) == (
        "pathfinder",
        10,
        3,
        9,
    )
    # The original is a value: untouched.
    assert spec.inference.draws == 50
    assert changed.attributes == spec.attributes and changed.marginals == spec.marginals
    assert spec.with_inference(method="nuts", seed=3).inference.method == "nuts"
    assert spec.with_inference(method="nuts", seed=3).inference.seed == 3


@pytest.mark.parametrize(("changes", "word"), [({"method": "gibbs"}, "gibbs"), ({"draws": 0}, "draws")])
def test_with_inference_checks_the_new_values(changes, word):
    spec = parse(MINIMAL)
    with pytest.raises(SpecError, match=word):
        spec.with_inference(**changes)


def test_spec_is_frozen():
    spec = parse(MINIMAL)
    with pytest.raises(AttributeError):
        spec.population = 5  # type: ignore[misc]
