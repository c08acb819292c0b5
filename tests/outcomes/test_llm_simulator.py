"""The LLM outcome simulator on a tiny random model: probabilities, answer scoring, the CLI path."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from populace.errors import DataError
from populace.outcomes.llm_simulator import LanguageModelSimulator

QUESTION = "Question: Could this person answer yes or no? Answer:"


def test_probabilities_are_normalised_answer_likelihoods(tiny_model: pathlib.Path) -> None:
    sim = LanguageModelSimulator(str(tiny_model), QUESTION, {"yes": "Yes", "no": "No No"})
    people = pd.DataFrame({"age": ["16", "70", "16"], "employment": ["retired", "retired", "retired"]})
    prob = sim(people)
    assert prob.shape == (3, 2) and np.allclose(prob.sum(axis=1), 1.0) and (prob > 0).all()
    np.testing.assert_allclose(prob[0], prob[2])  # same persona, same answer
    # by hand: P(answer | prompt) from two log-likelihoods, normalised over the levels
    prompt = f"{sim.template.description({'age': '16', 'employment': 'retired'})} {QUESTION}"
    base = sim.lm.loglik([prompt], sim.template.preamble)[0]
    logp = np.array([sim.lm.loglik([f"{prompt} {text}"], sim.template.preamble)[0] - base for text in ("Yes", "No No")])
    np.testing.assert_allclose(prob[0], np.exp(logp) / np.exp(logp).sum(), rtol=1e-6)


def test_bad_answers_are_refused(tiny_model: pathlib.Path) -> None:
    with pytest.raises(DataError, match="at least two"):
        LanguageModelSimulator(str(tiny_model), QUESTION, {"yes": "Yes"})
    with pytest.raises(DataError, match="empty answer"):
        LanguageModelSimulator(str(tiny_model), QUESTION, {"yes": "Yes", "no": " "})


@pytest.mark.pipeline
def test_forecast_with_an_llm_simulator_from_the_command_line(small_posterior, tiny_model, tmp_path) -> None:
    (tmp_path / "outcome.yaml").write_text(
        "outcome: answer\nlevels: [yes, no]\nby: [region]\n"
        f"simulator:\n  model: {tiny_model}\n  question: '{QUESTION}'\n  answers: {{yes: 'Yes', no: 'No'}}\n"
    )
    out = tmp_path / "forecast.csv"
    command = [sys.executable, "-m", "populace.cli", "forecast", str(small_posterior), str(tmp_path / "outcome.yaml")]
    result = subprocess.run(
        [*command, "--draws", "20", "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["region", "level", "mean", "sd", "lower", "upper"]
    assert len(table) == 4 * 2
    sums = table.groupby("region")["mean"].sum()
    assert np.allclose(sums, 1.0)
    assert ((table["lower"] <= table["mean"]) & (table["mean"] <= table["upper"])).all()


def test_simulator_answers_must_match_the_levels(tmp_path) -> None:
    from populace.errors import SpecError
    from populace.outcomes.spec import OutcomeSpec

    (tmp_path / "o.yaml").write_text(
        "outcome: a\nlevels: [yes, no]\nsimulator:\n  question: 'Q?'\n  answers: {no: 'No', yes: 'Yes'}\n"
    )
    with pytest.raises(SpecError, match="an answer text for each level, in order: yes, no"):
        OutcomeSpec.from_yaml(tmp_path / "o.yaml")
    (tmp_path / "o.yaml").write_text("outcome: a\nlevels: [yes, no]\nsimulator:\n  question: 'Q?'\n  tone: calm\n")
    with pytest.raises(SpecError, match="unknown key 'tone'"):
        OutcomeSpec.from_yaml(tmp_path / "o.yaml")
