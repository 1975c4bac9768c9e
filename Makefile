# hbd: the two set-up commands of README.md are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
APT_PACKAGES := $(shell grep -v '^\s*\#' tests/apt-packages | xargs)
PYTEST_ARGS ?=

.PHONY: all deps apt venv test unit demo bench clean lab-down

all: test

# Debian packages: installed only when missing, and only as root (CI runs as root on a clean machine).
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "not root: cannot install Debian packages ($$missing); tests that need them will skip"; \
	  fi; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

deps: apt venv

# Every test: unit, simulation and lab. Lab tests skip with a reason when not root.
test: deps
	$(PY) -m pytest -q -rs $(PYTEST_ARGS) tests

unit: venv
	$(PY) -m pytest -q tests/unit tests/sim

demo: deps
	$(VENV)/bin/hbd demo

bench: deps
	$(PY) bench/run_all.py

lab-down: venv
	$(VENV)/bin/hbd lab down

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
