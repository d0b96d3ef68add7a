# The two commands of the README. Both create .venv and install what they need.
.PHONY: run test lint install

VENV := .venv
PY := $(VENV)/bin/python

run:
	@bash bin/bootstrap
	@$(PY) bin/run_embedded.py

test:
	@bash bin/test

lint:
	@bash bin/bootstrap
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

install:
	@bash bin/bootstrap
