# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench bench-province schema scope-matrix demo-federation constraints clean

$(BIN)/dudao: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(BIN)/dudao

# constraints.txt: every package version an install uses, resolved afresh from pyproject.toml in a throw-away venv.
# Run it after changing a dependency (or to take newer versions), then review the diff and run `make test`.
constraints:
	rm -rf .constraints-venv && $(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/pip install --quiet --upgrade pip
	.constraints-venv/bin/pip install --quiet '.[test]'
	{ sed -n '1,2p' constraints.txt; .constraints-venv/bin/pip freeze --all | grep -v -e '^dudao' -e '^pip=='; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .constraints-venv

run: $(BIN)/dudao
	$(BIN)/dudao up

# ruff first (seconds; `ruff format .` and `ruff check --fix .` mend most of what it finds), then the tests: four
# workers, each with its own PostgreSQL and NATS (the session fixtures); the suite mostly waits on them, so four
# share two cores well (about 7 minutes; three took 9). `pytest -n 0` runs it in one process.
test: $(BIN)/dudao
	$(BIN)/ruff format --check --quiet . || { echo 'make test: code is not formatted as ruff would; run: $(BIN)/ruff format .'; exit 1; }
	$(BIN)/ruff check --quiet .
	$(BIN)/pytest -n 4

# A province and two counties on this machine, linked, with demo data; prints a roll-up and its answer.
demo-federation: $(BIN)/dudao
	$(BIN)/python -m dudao_cli.federation_demo

# A province at its size (issue 24): 20,000 schools generated, relayed and replayed; minutes, not part of `make bench`.
bench-province: $(BIN)/dudao
	$(BIN)/python bench/province.py

bench: $(BIN)/dudao
	$(BIN)/python bench/registry_throughput.py
	$(BIN)/python bench/monitoring_results.py
	$(BIN)/python bench/fetch.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/crash_consistency.py

# The gateway's schema as `strawberry export-schema gateway.schema:schema --output gateway/schema.graphql` writes it
# (that command needs strawberry's cli extra, typer and rich, which nothing else here needs).
schema: $(BIN)/dudao
	$(BIN)/python -c 'from pathlib import Path; from gateway.schema import schema; Path("gateway/schema.graphql").write_text(schema.as_str() + "\n", encoding="utf-8")'

# docs/scope-matrix.md: who may call each route, from the rules the routes declare (a test fails when it drifts).
scope-matrix: $(BIN)/dudao
	$(BIN)/python -c 'import tempfile, pathlib, dataclasses; from dudao.config import Settings; from dudao import auth; from tests.route_rules import apps, matrix, routes; home = pathlib.Path(tempfile.mkdtemp()); auth.ensure_dev_key(home / "k.pem"); s = dataclasses.replace(Settings(), home=home, dev_key_path=home / "k.pem", run_workers=False); pathlib.Path("docs/scope-matrix.md").write_text(matrix(routes(apps(s))), encoding="utf-8")'

clean:
	rm -rf .dudao
