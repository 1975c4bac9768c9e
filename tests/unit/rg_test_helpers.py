"""Helpers shared by the `hbd test` tests: run the command in-process and capture its streams."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from hbd.cli.test_cmd import main


@dataclass(frozen=True)
class Run:
    rc: int
    out: str
    err: str


def run_hbd_test(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    capsys.readouterr()
    rc = main(list(argv))
    captured = capsys.readouterr()
    return Run(rc, captured.out, captured.err)


def squeeze(text: str) -> list[str]:
    """Lines with all white space removed, empty lines dropped (what `diff -w` compares, upstream's way)."""
    return [s for s in ("".join(line.split()) for line in text.splitlines()) if s]
