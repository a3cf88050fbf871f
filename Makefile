# memlab — README's two commands go through here:  `make demo`  and  `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export MPLBACKEND ?= Agg
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export HF_HUB_DISABLE_TELEMETRY = 1
export TOKENIZERS_PARALLELISM = false

.PHONY: setup demo test test-slow bench notebooks lab mutate clean

setup: $(STAMP)

# torch's CPU build is installed first, so nothing later pulls a multi-GB CUDA build.
# pip shows what it fetches (no --quiet): the first setup takes minutes, and a silent one looks hung.
$(STAMP): pyproject.toml
	@echo "memlab: setting up $(VENV) (first time: about 2.7 GB, 2-5 minutes; pip's progress follows)"
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "memlab: [1/2] torch, CPU build (the largest download)"
	$(PY) -m pip install --progress-bar on --disable-pip-version-check torch==2.13.0
	@echo "memlab: [2/2] memlab and its dependencies"
	$(PY) -m pip install --progress-bar on --disable-pip-version-check -e '.[test,serve,pg]'
	touch $(STAMP)
	@echo "memlab: setup done ($(VENV))"

demo: setup
	$(VENV)/bin/memlab demo

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow tests

# Benchmarks run on demand (never in tests); results land in benchmarks/results/.
bench: setup
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_locomo.py
	$(PY) benchmarks/bench_graph.py
	$(PY) benchmarks/bench_server.py
	$(PY) benchmarks/bench_pg.py

# Re-execute the notebooks, keeping outputs only of cells marked NBVAL_CHECK_OUTPUT.
# One notebook only: make notebooks NB=notebooks/01_quickstart.ipynb
NB ?=
notebooks: setup
	$(PY) tools/refresh_notebooks.py $(NB)

# Mutation check of the critical modules (filters, search thresholds, fusion, BM25, metrics, sweeps,
# compare stats, mem0 repair); ~20 min on 2 cores. Some targets only: make mutate TARGETS="metrics fusion"
TARGETS ?=
mutate: setup
	OMP_NUM_THREADS=1 $(PY) tools/mutate.py --json reports/mutation.json $(TARGETS)

# --allow-root only when run as root (common in containers), where Jupyter refuses to start otherwise.
lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) reports .pytest_cache
