"""A causal language model as a plausibility scorer (:class:`populace.language_models.CausalLM`).

Two modes (DESIGN.md sections 4-5):

contrastive
    The score of a combination is the log-likelihood of its description given the
    template's preamble, ``log P(sentence_1 ... sentence_k | preamble)``. On its own that
    mostly measures how common each level is in text; the filter removes those main
    effects by centring each attribute pair (:mod:`populace.llm_filter.assemble`), which
    leaves ``log P(b | a) - log P(b | neutral subject)``: a log odds ratio.
yes-no
    ``log P(yes) - log(P(yes) + P(no))`` for the next token after the description and
    the template's question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from populace.errors import DataError
from populace.language_models import CausalLM, LoadedModel
from populace.llm_filter.template import PromptTemplate

MODES = ("contrastive", "yes-no")
YES_WORDS = (" yes", " Yes", "yes", "Yes")
NO_WORDS = (" no", " No", "no", "No")


class LanguageModelScorer:
    """Scores combinations with a causal LM (see the module docstring for the modes).

    Parameters
    ----------
    model
        A :class:`~populace.language_models.LoadedModel`, a model name for
        :func:`~populace.language_models.load_language_model` (loaded on the first call
        of :meth:`score`, so a fit whose scores are all in the cache never loads the
        model), or a :class:`~populace.language_models.CausalLM`.
    template
        How levels become sentences.
    mode
        ``contrastive`` (default) or ``yes-no``.
    progress
        Say on stderr when a GGUF model is being converted.

    Attributes
    ----------
    cache_id
        Model identity, template key and mode: the score cache's key for this scorer.
    ordered
        True: the order of attributes in a combination changes its text (and score).
    """

    ordered = True

    def __init__(
        self,
        model: LoadedModel | CausalLM | str,
        template: PromptTemplate,
        mode: str = "contrastive",
        *,
        progress: bool = True,
    ) -> None:
        if mode not in MODES:
            raise DataError(f"unknown scoring mode '{mode}' (use one of {', '.join(MODES)})")
        self.template = template
        self.mode = mode
        self.lm = model if isinstance(model, CausalLM) else CausalLM(model, progress=progress)
        self.cache_id = f"{self.lm.identity}|{template.key}|{mode}"

    def score(self, combinations: Sequence[Mapping[str, str]]) -> np.ndarray:
        """Log plausibility (<= 0) of each combination."""
        texts = [self.template.description(c) for c in combinations]
        if self.mode == "contrastive":
            return self.lm.loglik(texts, self.template.preamble)
        questions = [f"{t}\n{self.template.question}" for t in texts]
        return self.lm.choice_logprob(questions, self.template.preamble, YES_WORDS, NO_WORDS)
