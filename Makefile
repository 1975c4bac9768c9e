# hbd: the two set-up commands of README.md are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
APT_PACKAGES := $(shell grep -v '^\s*\#' tests/apt-packages | xargs)
PYTEST_ARGS ?=

.PHONY: all deps apt venv test test-debian-libs unit demo bench bench-quick clean lab-down

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

# Every test: mypy --strict over hbd/, unit, simulation and package tests in two workers, then the lab tests
# two at a time, then alone the lab files with tight timing bounds (marker `exclusive`, tests/lab/conftest.py;
# lab tests skip with a reason when not root), then the unit tests
# again on the library versions Debian 12 ships (pyroute2 0.7, scapy 2.5, lxml 4.9), which the Debian
# package will use.
test: deps
	$(PY) -m mypy
	$(PY) -m pytest -q -rs -n 2 $(PYTEST_ARGS) tests/unit tests/sim tests/pkg
	$(PY) -m pytest -q -rs -n 2 -m 'not exclusive' $(PYTEST_ARGS) tests/lab
	$(PY) -m pytest -q -rs -m exclusive $(PYTEST_ARGS) tests/lab
	$(MAKE) --no-print-directory test-debian-libs

# A venv on Debian's /usr/bin/python3 that sees only Debian's python3-* packages (no PyPI downloads).
DEBVENV ?= .venv-debian
$(DEBVENV)/.installed: setup.cfg pyproject.toml
	/usr/bin/python3 -m venv --system-site-packages $(DEBVENV)
	$(DEBVENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

test-debian-libs: apt $(DEBVENV)/.installed
	$(DEBVENV)/bin/python -c 'import pyroute2, scapy, lxml, pyudev, sdnotify; from importlib.metadata import version as v; print("Debian libraries:", *(f"{p} {v(p)}" for p in ("pyroute2", "scapy", "lxml", "pyudev", "sdnotify")))'
	$(DEBVENV)/bin/python -m pytest -q -n 2 -p no:cacheprovider tests/unit

unit: venv
	$(PY) -m pytest -q tests/unit tests/sim

demo: deps
	$(VENV)/bin/hbd demo

# hbd beside Heartbeat 3.0.6 and keepalived in the lab (as root): quick (under 5 min) or full (10 runs per
# cell, under 45 min, writes its tables into bench/README.md).
bench-quick: deps
	$(PY) bench/run_all.py

bench: deps
	$(PY) bench/run_all.py --full --readme

lab-down: venv
	$(VENV)/bin/hbd lab down

clean:
	rm -rf $(VENV) $(DEBVENV) build *.egg-info .pytest_cache .hypothesis
