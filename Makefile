# The two commands of the README, and a few helpers.
#   make workflow   install everything, then run the whole workflow (offline default)
#   make test       install everything the tests need, then run the tests
#   make lint       ruff (lint + format) on the Python, snakefmt on the Snakefiles (tests/test_lint.py)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all

.PHONY: install latex workflow test lint report bench-images bench-detector clean

install: $(VENV)/.deepcee-installed

# tools/check_venv.py first: a VENV holding another checkout's editable install is refused, not re-pointed.
$(VENV)/.deepcee-installed: requirements.lock pyproject.toml
	$(PYTHON) tools/check_venv.py $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

latex:
	tools/install-debian.sh latex

workflow: install latex
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

test: install latex
	tools/install-debian.sh slurm
	bash tests/slurm/setup_slurm.sh
	DEEPCEE_SLURM=1 $(BIN)/pytest

# Settings in pyproject.toml ([tool.ruff], [tool.snakefmt]). To apply the formatters:
#   $(BIN)/ruff check --fix . && $(BIN)/ruff format . && $(BIN)/snakefmt Snakefile rules/
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/

report: install
	$(BIN)/snakemake --report results/report.html

bench-images: install
	$(BIN)/python -m deepcee.bench.images

bench-detector: install
	$(BIN)/python -m deepcee.bench.detector

clean:
	rm -rf results/0* results/figures results/tables results/*.tex results/*.json results/*.html logs .snakemake paper/ms.pdf
