"""Fixtures of the namespace lab tests: a fresh lab per test, torn down and checked for traces even on failure."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hbd.lab import Lab
from hbd.lab.cleanup import traces


# Files whose tests assert a timing bound of a few hundred milliseconds, or load the machine on purpose (the
# flood's sender runs at SCHED_FIFO on one core): `make test` runs them alone, after the other lab tests have
# run two at a time. A lab test is not alone on the machine otherwise, so it must wait on its condition
# with a bound generous enough for a busy 2-core machine.
EXCLUSIVE_FILES = frozenset({
    "test_flood_lab.py",                # the flooder takes a core; a neighbour's test would starve the daemons
    "test_daemon_preprobe_timing.py",   # keepalive 10 ms, deadtime 50 ms
    "test_membership_media.py",         # detection within deadtime +- 0.25 s
    "test_membership_interop.py",       # detection within deadtime + 0.25 s, beside Heartbeat
    "test_isolation_lab.py",            # release within max(deadping, deadtime / 2) + keepalive
    "test_splitbrain_lab.py",           # one owner within deadtime + 2 s of the heal
    "test_splitbrain_cluster_lab.py",   # the service stopped on the other node within 4 s of the heal
    "test_advise_lab.py",               # measured heartbeat delays below deadtime
    "test_agents_filesystem.py",        # a bounded wait measured to within 2 s
    "test_watchdog_lab.py",             # a frozen daemon against the watchdog's period
})


LONGEST_FILES = frozenset({"test_postgresql_rounds_lab.py"})  # 1.5-2.5 min a test


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test in tests/lab needs root; the top-level conftest skips `lab` tests for other users.
    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.lab)
            if item.fspath.basename in EXCLUSIVE_FILES:
                item.add_marker(pytest.mark.exclusive)
    # The longest files first: `-n 2` hands tests out in order, so a long one handed out last would run
    # alone at the end while the other worker idles.
    items.sort(key=lambda item: item.fspath.basename not in LONGEST_FILES)  # stable: the rest keep their order
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root: network namespaces, loop devices and mounts")
        for item in items:
            if "tests/lab/" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A 2-node, 2-media lab with a client; removed after the test, which then fails on any trace left."""
    instance = Lab.up(nodes=2, media=2)
    try:
        yield instance
    finally:
        instance.down()
        left = traces(instance.name)
        assert not left, f"lab {instance.name} left traces: {left}"


@pytest.fixture
def new_lab() -> Iterator:
    """Factory for labs of other sizes; every lab made is torn down and checked like `lab`."""
    made: list[Lab] = []

    def make(**kwargs) -> Lab:
        made.append(Lab.up(**kwargs))
        return made[-1]

    try:
        yield make
    finally:
        for instance in made:
            instance.down()
        for instance in made:
            left = traces(instance.name)
            assert not left, f"lab {instance.name} left traces: {left}"
