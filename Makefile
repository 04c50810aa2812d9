# The two commands of the README. Both set up .venv (Python 3.11) on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
STAMP  := $(VENV)/.installed-all

.PHONY: demo test bench setup clean-cache

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e ".[all]" --config-settings editable_mode=compat
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/refimpl demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -ra

bench: $(STAMP)
	$(VENV)/bin/refimpl bench

clean-cache:
	rm -rf .cache
