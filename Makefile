# colliderflow: the two commands of the README.
#   make demo   set up .venv if needed, then run the whole chain on a small default sample
#   make test   set up .venv (and .venv-serve) if needed, then run the default test suite (< 10 min on 2 cores)
#   make serve-env   the serving environment of 'colliderflow serve' (PyTriton needs numpy < 2; ~450 MB, < 1 min)
#
# TORCH selects the PyTorch build installed in .venv; the default is the 2.13.0 CPU build
# (a CUDA build is several GB). Example for a GPU machine:
#   make TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" install

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
PY     := $(VENV)/bin/python
# the serving environment: nvidia-pytriton (tritonserver + Python backend) needs numpy < 2, the main
# environment has numpy 2 (pandas 3); SERVE_ORT=onnxruntime-gpu on a GPU machine
SERVE_VENV ?= .venv-serve
SERVE_ORT  ?= onnxruntime
CF     := $(VENV)/bin/colliderflow
DEMO   ?= demo-out
JOBS   ?= 2

.PHONY: install serve-env demo test test-all bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[ml,test]"
	touch $@

serve-env: $(SERVE_VENV)/.installed

# ONNX Runtime at the version of .venv: served and local inference then agree bit for bit
$(SERVE_VENV)/.installed: Makefile $(VENV)/.installed
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SERVE_VENV)/bin/python -m pip install --quiet "nvidia-pytriton==0.7.0" "numpy<2" \
	    "$(SERVE_ORT)==$$($(PY) -c 'import onnxruntime; print(onnxruntime.__version__)')"
	touch $@

demo: install
	@test -f $(DEMO)/pileup-pool.parquet || $(CF) pileup-pool --events 400 --seed 1 --jobs $(JOBS) --out $(DEMO)/pileup-pool.parquet
	$(CF) dataset --process ttbar --events 40 --seed 1 --pileup 0 --jobs $(JOBS) --chunk-size 20 --out $(DEMO)/ttbar
	$(CF) dataset --process ttbar --events 40 --seed 2 --pileup 55-75 --pileup-pool $(DEMO)/pileup-pool.parquet --jobs $(JOBS) --chunk-size 10 --out $(DEMO)/ttbar-pu
	$(CF) inspect $(DEMO)/ttbar
	$(CF) inspect $(DEMO)/ttbar-pu
	$(CF) validate-target $(DEMO)/ttbar-pu --out $(DEMO)/validate-target
	$(CF) reconstruct --algo pf --dataset $(DEMO)/ttbar-pu --out $(DEMO)/pf --quiet
	$(CF) reconstruct --algo mlpf --dataset $(DEMO)/ttbar-pu --out $(DEMO)/mlpf --quiet
	$(CF) evaluate --dataset $(DEMO)/ttbar-pu --reco PF=$(DEMO)/pf --reco MLPF=$(DEMO)/mlpf --out $(DEMO)/report
	$(CF) nano --dataset $(DEMO)/ttbar-pu --candidates $(DEMO)/pf --out $(DEMO)/nano-full.root --quiet
	$(CF) flashsim sample --model cms-like --input $(DEMO)/nano-full.root --oversample 10 --out $(DEMO)/nano-flash.root --quiet
	$(CF) flashsim validate --flash $(DEMO)/nano-flash.root --full $(DEMO)/nano-full.root --out $(DEMO)/flashsim --quiet
	@echo "demo done: datasets under $(DEMO)/, target plots in $(DEMO)/validate-target/, PF vs MLPF report in $(DEMO)/report/report.md, FlashSim vs full simulation in $(DEMO)/flashsim/report.md"

test: install serve-env
	$(PY) -m ruff check --select F src bench tests
	$(PY) -m mypy
	$(PY) -m pytest -q -m "not slow"

test-all: install serve-env
	$(PY) -m pytest -q

bench: install
	$(PY) bench/bench_dataset.py
	$(PY) bench/bench_generate.py
	$(PY) bench/bench_pf.py
	$(PY) bench/bench_resolution.py --detector cms-like

clean:
	rm -rf $(DEMO) .pytest_cache .mypy_cache
