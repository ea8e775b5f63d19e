# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench schema demo-federation clean

$(BIN)/dudao: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/dudao

run: $(BIN)/dudao
	$(BIN)/dudao up

test: $(BIN)/dudao
	$(BIN)/pytest

# A province and two counties on this machine, linked, with demo data; prints a roll-up and its answer.
demo-federation: $(BIN)/dudao
	$(BIN)/python -m dudao.federation_demo

bench: $(BIN)/dudao
	$(BIN)/python bench/registry_throughput.py
	$(BIN)/python bench/monitoring_results.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/dashboard.py

# The gateway's schema as `strawberry export-schema gateway.schema:schema --output gateway/schema.graphql` writes it
# (that command needs strawberry's cli extra, typer and rich, which nothing else here needs).
schema: $(BIN)/dudao
	$(BIN)/python -c 'from pathlib import Path; from gateway.schema import schema; Path("gateway/schema.graphql").write_text(schema.as_str() + "\n", encoding="utf-8")'

clean:
	rm -rf .dudao
