# Shortcuts; the README's two commands are what a fresh machine needs.
VENV ?= .venv
PY = $(VENV)/bin/python

$(PY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[test]'

.PHONY: test lint demo validate bench
test: $(PY)
	$(PY) -m pytest

lint: $(PY)
	$(VENV)/bin/pip install -q ruff
	$(VENV)/bin/ruff check qms_cli tests

demo: $(PY)
	$(VENV)/bin/qms demo

validate: $(PY)
	$(VENV)/bin/qms -C . validate

bench: $(PY)
	$(PY) bench/bench.py
