"""Shared fixtures: the embedded example, fake and small fitted posteriors, the Agg backend."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import tempfile

import matplotlib
import pytest

from populace.llm_filter.template import load_template

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")
# One JAX compilation cache for the whole run (CLI children inherit it), fresh each run so
# that timings do not depend on what an earlier run left in the user's cache.
_JAX_CACHE = None
if "POPULACE_JAX_CACHE" not in os.environ:
    _JAX_CACHE = os.environ["POPULACE_JAX_CACHE"] = tempfile.mkdtemp(prefix="populace-jax-cache-")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the long tests first (the slow tier, then the notebooks), so that with two
    workers (``make test``) the short ones fill the gaps instead of one long test
    running alone at the end. The order within each group is kept."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if item.nodeid.startswith("tests/test_notebooks.py::test_notebook_runs") else 2

    items.sort(key=rank)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the run's compilation cache (only one this run made)."""
    if _JAX_CACHE is not None:
        shutil.rmtree(_JAX_CACHE, ignore_errors=True)


EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "populace" / "data" / "cps1988"


@pytest.fixture
def example_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A private copy of the CPS 1988 example (spec, tables, sample, truth)."""
    target = tmp_path / "cps1988"
    shutil.copytree(EXAMPLE, target)
    return target


@pytest.fixture(scope="session")
def fake_posterior():
    """The CPS 1988 example as a posterior without sampling: 2 chains x 50 draws around IPF.

    Every draw meets the exact tables (see ``tests/fakes.py``); treat it as read-only.
    """
    from tests.fakes import fake_example_posterior

    return fake_example_posterior(chains=2, draws=50, seed=0)


@pytest.fixture(scope="session")
def known_posterior():
    """A sex x age posterior without sampling whose draws centre on ``tests.fakes.KNOWN_JOINT``."""
    from tests.fakes import fake_known_posterior

    return fake_known_posterior(chains=2, draws=100, seed=0)


@pytest.fixture(scope="session")
def small_posterior(tmp_path_factory: pytest.TempPathFactory):
    """The example fitted with few draws (2 chains x 150), saved once for the session."""
    import populace as pp

    spec = pp.Spec.from_yaml(EXAMPLE / "spec.yaml")
    post = pp.fit(spec, draws=150, chains=2, seed=3, progress=False)
    path = tmp_path_factory.mktemp("post") / "posterior.nc"
    post.to_netcdf(path)
    return path


# Text the tiny model's word-level vocabulary must cover.
EXTRA_TEXT = "Question: Could this be a real person? Answer yes or no. Yes No employed retired 16 70"


def build_tiny_model(folder: pathlib.Path, texts: list[str]) -> pathlib.Path:
    """A 1-layer Llama with a word-level tokenizer over the words of ``texts``, in ``folder``."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t)})
    vocab = {w: i for i, w in enumerate(["<unk>", "<s>", "</s>", "<pad>", *words])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    config = transformers.LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Folder of a tiny random causal LM whose vocabulary covers the built-in template."""
    template = load_template()
    texts = [template.preamble, template.question, template.fallback or "", EXTRA_TEXT]
    for block in template.attributes.values():
        texts += [block.get("default", ""), *block.get("levels", {}).values()]
    texts += ["age sex female male marital married widowed 25 18-29"]
    return build_tiny_model(tmp_path_factory.mktemp("tiny-lm"), texts)
