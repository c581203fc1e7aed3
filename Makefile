# opinion — the two commands that matter:
#   make demo   set up .venv and run the pipeline on the bundled airline corpus
#   make test   set up .venv and run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --disable-pip-version-check -q $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
STAMP := $(VENV)/.installed

.PHONY: demo test venv lint format bench train airflow airflow-stop airflow-cluster airflow-cluster-stop cluster-check constraints clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -c constraints.txt -e ".[airflow,cluster,spacy,dev]"
	$(PY) -m pip check
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/opinion demo

# tests/test_s3_lake.py runs a real S3 server (moto) from a venv of its own: moto needs
# python-dateutil < 3, the project pins 4
S3_VENV := .venv-s3
$(S3_VENV)/bin/moto_server:
	$(PYTHON) -m venv $(S3_VENV)
	$(S3_VENV)/bin/python -m pip install $(PIP_FLAGS) "moto[server]>=5,<6"

test: venv $(S3_VENV)/bin/moto_server
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: venv
	$(VENV)/bin/opinion bench

train: venv
	$(VENV)/bin/opinion train

# Airflow on this machine: LocalExecutor + SQLite under airflow_home/ (git-ignored), DAGs from
# dags/, UI on http://127.0.0.1:8080. Ctrl-C stops it. See docs/airflow.md.
airflow: venv
	scripts/airflow-standalone.sh

# end `make airflow` from another shell: Airflow and the task processes it started
airflow-stop:
	scripts/airflow-standalone.sh stop

# A multi-worker deployment on this machine: CeleryExecutor, PostgreSQL, Redis, two Celery
# workers, the lake on S3-compatible storage (needs: apt-get install postgresql redis-server).
# See docs/airflow.md "Multi-worker deployment".
airflow-cluster: venv
	scripts/airflow-cluster.sh start

airflow-cluster-stop:
	scripts/airflow-cluster.sh stop

# collect -> extract -> load across the two workers, compared with `opinion demo` (digests)
cluster-check: venv
	$(PY) scripts/cluster_check.py

constraints: venv
	$(VENV)/bin/pip freeze --exclude-editable | grep -v "^opinion" | sed "s/+cpu$$//" > constraints.txt

# keeps data/state/author_salt: a new salt would change every author hash in a later load
clean:
	rm -rf data/lake data/warehouse
	@if [ -d data/state ]; then \
	  find data/state -mindepth 1 -maxdepth 1 ! -name author_salt -exec rm -rf {} +; \
	  if [ -e data/state/author_salt ]; then echo "kept data/state/author_salt"; fi; \
	fi
