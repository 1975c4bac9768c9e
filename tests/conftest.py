"""Shared pytest fixtures and the root/lab skip rules."""
from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: network namespaces, loop devices and mounts")
    for item in items:
        if "root" in item.keywords or "lab" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shared_dir() -> Path:
    """../shared (seeds and references). Tests that read it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present")
    return SHARED


@pytest.fixture
def hbd_exe() -> str:
    exe = shutil.which("hbd")
    if exe is None:
        pytest.skip("the hbd command is not installed (run through `make test`)")
    return exe


@pytest.fixture(autouse=True)
def restore_hbd_logger() -> Iterator[None]:
    """Tests of hbd.runtime.logsetup reconfigure the `hbd` logger (its handlers, level, propagate=False and
    a writer thread); put it back afterwards, so later tests in the same worker still see hbd's records
    through caplog, whatever order the workers run the tests in."""
    logger = logging.getLogger("hbd")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    if (list(logger.handlers), logger.level, logger.propagate) != saved:
        from hbd.runtime import logsetup

        logsetup.stop()
        logger.handlers[:], logger.level, logger.propagate = saved
