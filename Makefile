# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DATASET ?= demo

.PHONY: install run test bench lint typecheck migrate sandbox worker clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m app run --dataset $(DATASET)

test: install
	$(PY) -m app migrate
	$(PY) -m pytest -q

bench: install
	$(PY) -m tests.benchmarks

lint: install
	$(PY) -m ruff check app tests
	$(PY) -m ruff format --check app tests

typecheck: install
	$(PY) -m mypy app

migrate: install
	$(PY) -m app migrate

sandbox: install
	$(PY) -m app sandbox

worker: install
	$(VENV)/bin/procrastinate --app=app.worker.procrastinate_app worker

clean:
	-$(PY) -m app db stop
	rm -rf .data
