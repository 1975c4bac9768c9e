"""hbd/pyroute2_lean.py: the daemon's netlink code loads the pyroute2 modules it uses, not the whole package
(its `__init__` imports NDB, IPDB, sqlite3, ...: 6-10 MiB of RSS), and the package's own names still work
for code that asks for them. Each case runs in a new interpreter: sys.modules is the thing under test."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pyroute2.ndb.main", "pyroute2.ipdb", "pyroute2.nftables", "sqlite3")


def modules_after(code: str) -> dict[str, object]:
    probe = (f"import sys, json\n{code}\n"
             "print(json.dumps({'heavy': [m for m in %r if m in sys.modules], "
             "'count': sum(m.startswith('pyroute2') for m in sys.modules)}))" % (HEAVY,))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("module", ["hbd.agents.ipaddr2", "hbd.runtime.link_monitor"])
def test_the_daemons_netlink_modules_do_not_load_the_whole_package(module: str) -> None:
    lean = modules_after(f"import {module}")
    assert lean["heavy"] == [], lean
    full = modules_after("import pyroute2")  # what the package's __init__ alone loads
    assert int(str(lean["count"])) < int(str(full["count"])), (lean, full)


def test_the_packages_own_names_are_still_there_when_asked_for() -> None:
    after = modules_after("import hbd.agents.ipaddr2\nfrom pyroute2 import IPRoute, NetlinkError\n"
                          "from hbd.agents import ipaddr2\nassert ipaddr2.IPRoute is IPRoute")
    assert "pyroute2.ndb.main" in after["heavy"], after  # the real __init__ ran, once asked


def test_an_imported_package_is_left_as_it_is() -> None:
    modules_after("import pyroute2\nfull = pyroute2\nimport hbd.pyroute2_lean\nimport pyroute2\n"
                  "assert pyroute2 is full and type(pyroute2).__name__ == 'module'")


def test_an_unknown_name_is_an_attribute_error() -> None:
    modules_after("import hbd.pyroute2_lean, pyroute2\n"
                  "try:\n    pyroute2.no_such_name\nexcept AttributeError as e:\n    assert 'no_such_name' in str(e)\n"
                  "else:\n    raise SystemExit('no error')")
