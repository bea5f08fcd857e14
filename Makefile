# Reward Studio. Two commands on a fresh machine:
#   make run    set up .venv if needed, then serve the studio on http://127.0.0.1:8501
#   make test   set up .venv if needed, then run the whole test suite
# Other targets: make bench (all benchmarks, quick), make screenshot (docs/screenshot.png), make clean.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ADDRESS ?= 127.0.0.1
PORT    ?= 8501

.PHONY: run test bench screenshot clean

# The stamp records which requirements were installed; editing requirements.txt reinstalls.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	cp requirements.txt $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py --server.address $(ADDRESS) --server.port $(PORT)

test: $(STAMP)
	$(PY) -m pytest

# every benchmark's --quick run (results under bench/results/quick/; full runs: python -m bench.<name>)
BENCHES := $(basename $(notdir $(filter-out bench/__init__.py bench/common.py,$(wildcard bench/*.py))))
bench: $(STAMP)
	@for b in $(BENCHES); do echo "== bench.$$b --quick"; $(PY) -m bench.$$b --quick | tail -1 || exit 1; done

screenshot: $(STAMP)
	$(PY) -m tests.browser_helpers docs/screenshot.png

clean:
	rm -rf $(VENV) .pytest_cache
