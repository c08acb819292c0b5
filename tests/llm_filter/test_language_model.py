"""The causal-LM scorer on a tiny random model built offline: scores, modes, loading errors."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from populace.errors import DataError
from populace.language_models import load_language_model
from populace.llm_filter.language_model import LanguageModelScorer
from populace.llm_filter.template import load_template

COMBINATIONS = [
    {"age": "16", "employment": "retired"},
    {"age": "70", "employment": "retired"},
    {"employment": "retired", "age": "16"},
    {"sex": "female"},
]


def _reference_logprob(loaded, scorer: LanguageModelScorer, combination: dict[str, str]) -> float:  # noqa: ANN001
    """Log-likelihood of the description after the preamble, from the full logits."""
    import torch

    ids, mask, lengths = scorer.lm._encode([scorer.template.description(combination)], scorer.template.preamble)
    with torch.inference_mode():
        logits = loaded.model(input_ids=ids, attention_mask=mask).logits.double()
    logp = torch.log_softmax(logits[0, :-1], dim=-1).gather(-1, ids[0, 1:, None])[:, 0]
    start = len(scorer.lm._prefix(scorer.template.preamble))
    return float(logp[start - 1 : lengths[0] - 1].sum())


def test_contrastive_scores_are_description_loglikelihoods(tiny_model: pathlib.Path) -> None:
    loaded = load_language_model(str(tiny_model), progress=False)
    scorer = LanguageModelScorer(loaded, load_template(), "contrastive")
    scores = scorer.score(COMBINATIONS)
    assert scores.shape == (4,) and np.isfinite(scores).all() and (scores < 0).all()
    for combination, got in zip(COMBINATIONS, scores):
        assert got == pytest.approx(_reference_logprob(loaded, scorer, combination), abs=1e-3)
    # a batch gives the same scores as one at a time (padding does not leak)
    one = np.concatenate([scorer.score([c]) for c in COMBINATIONS])
    np.testing.assert_allclose(scores, one, atol=1e-4)
    # the order of attributes is part of the text
    assert scores[0] != pytest.approx(scores[2])


def test_yes_no_scores_are_normalised_log_probabilities(tiny_model: pathlib.Path) -> None:
    scorer = LanguageModelScorer(str(tiny_model), load_template(), "yes-no")
    scores = scorer.score(COMBINATIONS)
    assert np.isfinite(scores).all() and (scores <= 0).all()
    # log P(yes) + log P(no) normalised: the two complement each other
    assert (np.exp(scores) < 1).all() and (np.exp(scores) > 0).all()


def test_the_model_is_loaded_only_when_a_score_is_needed(tiny_model: pathlib.Path) -> None:
    scorer = LanguageModelScorer(str(tiny_model), load_template(), "contrastive")
    assert scorer.lm._loaded is None and str(tiny_model.name) in scorer.cache_id
    scorer.score(COMBINATIONS[:1])
    assert scorer.lm._loaded is not None


def test_cache_id_changes_with_mode_and_template(tiny_model: pathlib.Path, tmp_path: pathlib.Path) -> None:
    template = load_template()
    a = LanguageModelScorer(str(tiny_model), template, "contrastive").cache_id
    b = LanguageModelScorer(str(tiny_model), template, "yes-no").cache_id
    other = tmp_path / "t.yaml"
    other.write_text('version: other\npreamble: "A person."\nfallback: "{attribute} {level}"\n')
    c = LanguageModelScorer(str(tiny_model), load_template(other), "contrastive").cache_id
    assert len({a, b, c}) == 3


def test_missing_and_broken_models_are_bad_input(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DataError, match="model does not exist"):
        load_language_model(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no config.json"):
        load_language_model(str(tmp_path / "empty"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama", "vocab_size": 10}')
    with pytest.raises(DataError, match="cannot load the model"):
        load_language_model(str(broken))
    bad_gguf = tmp_path / "model.gguf"
    bad_gguf.write_bytes(b"not a gguf file")
    with pytest.raises(DataError, match="cannot load the GGUF model"):
        load_language_model(str(bad_gguf), progress=False)
    with pytest.raises(DataError, match="unknown scoring mode"):
        LanguageModelScorer(str(bad_gguf), load_template(), "maybe")


def test_remote_code_is_never_trusted() -> None:
    import inspect

    from populace import language_models

    source = inspect.getsource(language_models)
    assert "trust_remote_code=True" not in source and source.count("trust_remote_code=False") >= 3
    assert source.count("trust_remote_code=False") >= 3
