"""Import pyroute2's modules without its package `__init__` (doc/architecture.md, "Memory").

pyroute2's `__init__` imports every one of its modules (0.9: 303 of them, NDB with sqlite3, IPDB, nftables,
multiprocessing), so even `from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg` costs the daemon about 6 MiB
(pyroute2 0.9.7) to 10 MiB (Debian 12's 0.7.2) of resident memory it never uses. Importing this module first
puts a bare `pyroute2` package in sys.modules, with the real package's path: a submodule import then loads
that submodule and what it imports, nothing else.

Code that wants the package's own names (`from pyroute2 import NetNS`, as the lab does) still gets them: the
first such name asked of the bare package runs the real `__init__` in it, once, and the full package is
there from then on. If pyroute2 is already imported, nothing is changed.

Usage, before any pyroute2 import of the module:

    from hbd import pyroute2_lean  # noqa: F401
    from pyroute2.iproute.linux import IPRoute
"""
from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_LOCK = threading.RLock()  # re-entered: the real __init__ asks the package for names as it runs


class _BarePackage(types.ModuleType):
    """The pyroute2 package with its `__init__` not run yet; runs it on the first name it lacks."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # import machinery probes (__path__ is set, the rest may be missing)
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            # `from pyroute2 import config` (pyroute2 does this): a submodule, which the import system
            # loads when the package lacks the name
            raise AttributeError(name)
        with _LOCK:
            if not self.__dict__.get("_hbd_full", False):
                self.__dict__["_hbd_full"] = True
                spec = self.__spec__
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(self)  # the real __init__, in this module: its submodules are reused
        if name in self.__dict__:
            return self.__dict__[name]
        lazy = self.__dict__.get("__getattr__")  # a package __init__ may name things lazily (PEP 562)
        if callable(lazy):
            return lazy(name)
        raise AttributeError(f"module 'pyroute2' has no attribute {name!r}")


def _install() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed: the import that follows fails with the usual error
    bare = _BarePackage("pyroute2")
    bare.__spec__ = spec
    bare.__path__ = list(spec.submodule_search_locations)
    bare.__file__ = spec.origin
    bare.__package__ = "pyroute2"
    sys.modules["pyroute2"] = bare


_install()
