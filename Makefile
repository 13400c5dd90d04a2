# colliderflow: the two commands of the README.
#   make demo   set up .venv if needed, then run the pipeline on a small default sample
#   make test   set up .venv if needed, then run the default test suite (< 10 min on 2 cores)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CF     := $(VENV)/bin/colliderflow
DEMO   ?= demo-out
JOBS   ?= 2

.PHONY: install demo test test-all bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: install
	@test -f $(DEMO)/pileup-pool.parquet || $(CF) pileup-pool --events 400 --seed 1 --jobs $(JOBS) --out $(DEMO)/pileup-pool.parquet
	$(CF) dataset --process ttbar --events 40 --seed 1 --pileup 0 --jobs $(JOBS) --chunk-size 20 --out $(DEMO)/ttbar
	$(CF) dataset --process ttbar --events 8 --seed 2 --pileup 55-75 --pileup-pool $(DEMO)/pileup-pool.parquet --jobs $(JOBS) --chunk-size 4 --out $(DEMO)/ttbar-pu
	$(CF) inspect $(DEMO)/ttbar
	$(CF) inspect $(DEMO)/ttbar-pu
	$(CF) validate-target $(DEMO)/ttbar-pu --out $(DEMO)/validate-target
	@echo "demo done: datasets and plots under $(DEMO)/"

test: install
	$(PY) -m pytest -q -m "not slow"

test-all: install
	$(PY) -m pytest -q

bench: install
	$(PY) bench/bench_dataset.py

clean:
	rm -rf $(DEMO) .pytest_cache
