"""Fixtures of the namespace lab tests: a fresh lab per test, torn down and checked for traces even on failure."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hbd.lab import Lab
from hbd.lab.cleanup import traces


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test in tests/lab needs root; the top-level conftest skips `lab` tests for other users.
    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.lab)
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
