# Two commands: `make run` (the whole product on embedded defaults) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# An MLflow 2.x client apart from the 3.x one the project uses: tests/test_mlflow2_client.py.
MLFLOW2_VENV ?= .venv-mlflow2
PORT ?= 8000
HOST ?= 127.0.0.1

export DEBUG ?= true
export ALLOWED_HOSTS ?= localhost,127.0.0.1,[::1]
export SITE_URL ?= http://$(HOST):$(PORT)

.PHONY: install test-clients run test lint bench clean

$(VENV)/.installed: pyproject.toml cli/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m pip install --quiet -e ./cli  # after the server: an older server package owned `vetted`
	touch $@

# Two MLflow installations apart from the product's (whose mlflow-skinny is the 3.x client the
# tests pin), each in its own venv, made by `make test` only: a real `mlflow server`
# (tests/test_mlflow_import.py; full MLflow's Flask, SQLAlchemy, pandas < 3 stay out of the
# product's venv) and an MLflow 2.x client (tests/test_mlflow2_client.py).
MLFLOW_SERVER_VENV ?= .venv-mlflow-server

$(MLFLOW_SERVER_VENV)/.installed: tests/requirements-mlflow-server.txt
	$(PYTHON) -m venv $(MLFLOW_SERVER_VENV)
	$(MLFLOW_SERVER_VENV)/bin/python -m pip install --quiet -r tests/requirements-mlflow-server.txt
	touch $@

$(MLFLOW2_VENV)/.installed: tests/requirements-mlflow2.txt
	$(PYTHON) -m venv $(MLFLOW2_VENV)
	$(MLFLOW2_VENV)/bin/python -m pip install --quiet -r tests/requirements-mlflow2.txt
	touch $@

install: $(VENV)/.installed

test-clients: $(MLFLOW_SERVER_VENV)/.installed $(MLFLOW2_VENV)/.installed

run: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Vetted runs at http://$(HOST):$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo "  Demo logins (password: vetted-demo):"
	@echo "    alice  data scientist, owner of team Fraud"
	@echo "    bob    DevOps in Fraud          carol  app developer in Fraud"
	@echo "    victor viewer in Fraud          mallory data scientist in team Growth"
	@echo "    admin  superuser"
	@echo ""
	@$(VENV)/bin/celery -A vetted worker --loglevel=INFO --concurrency=2 -Q celery,monitoring & worker=$$!; \
	$(VENV)/bin/celery -A vetted beat --loglevel=INFO & beat=$$!; \
	trap 'kill -TERM $$worker $$beat 2>/dev/null; wait $$worker $$beat' EXIT INT TERM; \
	$(VENV)/bin/gunicorn vetted.wsgi --config python:vetted.gunicorn_conf --bind $(HOST):$(PORT) \
		--access-logfile -

test: install test-clients
	DEBUG=true $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

bench: install
	bash bench/run.sh

clean:
	rm -rf $(VENV) $(MLFLOW_SERVER_VENV) $(MLFLOW2_VENV) var
