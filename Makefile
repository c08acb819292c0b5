# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench bench-quick clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/populace demo --out demo-output

# The default suite, then the slow statistical tier when it fits (it does on 2 cores).
test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q
	$(PY) -m pytest -m slow -q

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not pipeline" -q

lint: $(STAMP)
	$(VENV)/bin/ruff check populace tests benchmarks
	$(VENV)/bin/ruff format --check populace tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/run.py --full

bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) demo-output .pytest_cache
