# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench clean

$(BIN)/dudao: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/dudao

run: $(BIN)/dudao
	$(BIN)/dudao up

test: $(BIN)/dudao
	$(BIN)/pytest

bench: $(BIN)/dudao
	$(BIN)/python bench/registry_throughput.py
	$(BIN)/python bench/monitoring_results.py

clean:
	rm -rf .dudao
