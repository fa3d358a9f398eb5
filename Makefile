# The two commands of the README: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench install

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[demo,test]'
	touch $@

install: $(VENV)/.installed

ERP ?= sage50

demo: $(VENV)/.installed
	$(VENV)/bin/paysync demo --erp $(ERP)

test: $(VENV)/.installed
	$(PY) -m pytest

# Every issue-10 figure beside its baseline; `make bench BENCH_ARGS=--quick` takes a few minutes.
BENCH_ARGS ?=
bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)
