"""rgmanager's own regression files (tests/data/rgmanager-upstream) against `hbd test`.

Upstream ran `rg_test noop testNNN.conf start|stop service NAME` for every top-level service in file order,
appended stdout, and compared with `diff -w`; these tests do the same.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from tests.unit.rg_test_helpers import run_hbd_test, squeeze

UPSTREAM = Path(__file__).resolve().parent.parent / "data" / "rgmanager-upstream"
CONFS = sorted(UPSTREAM.glob("test*.conf"))
CASES = [(conf, op) for conf in CONFS for op in ("start", "stop")]
TREES = sorted(UPSTREAM.glob("test[0-9][0-9][0-9].expected"))
DELTAS = sorted(UPSTREAM.glob("delta-*.expected"))

# Lines hbd prints that the upstream files lack: their agent metadata (2004-2007) had fewer parameters
# (no service defaults, no nfsclient svcname/service_name/use_cache), and their printer skipped NULL
# inherited values instead of printing "(null)". Only attribute lines may be extra.
ATTRIBUTE_LINE = re.compile(r'^\s*[\w-]+( = .*| \[ inherit\(".*"\) \])$')
# The files also predate the ENFORCE-TIMEOUTS node flag (test012 sets __enforce_timeouts).
NEWER_FLAGS = re.compile(r" \[ ENFORCE-TIMEOUTS \]")


def top_level_services(conf: Path) -> list[str]:
    root = etree.parse(str(conf)).getroot()
    return [s.get("name") or s.get("ref") or "" for s in root.iterfind("rm/service")]


def test_corpus_is_complete() -> None:
    assert len(CONFS) == 18 and len(TREES) == 17 and len(DELTAS) == 16


@pytest.mark.parametrize("conf,op", CASES, ids=[f"{c.stem}-{op}" for c, op in CASES])
def test_start_stop_match_upstream(conf: Path, op: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = (UPSTREAM / f"{conf.stem}.{op}.expected").read_text()
    out = []
    for name in top_level_services(conf):
        run = run_hbd_test(capsys, "noop", op, "service", name, "-c", str(conf))
        assert run.rc == 0, run.out + run.err
        assert run.err.splitlines()[0] == "Running in test mode."
        out.append(run.out)
    assert squeeze("".join(out)) == squeeze(expected)


def _is_subsequence(needles: list[str], haystack: list[str]) -> tuple[bool, list[str]]:
    """Whether needles occur in order in haystack; also the haystack lines that matched no needle."""
    extra: list[str] = []
    i = 0
    for line in haystack:
        if i < len(needles) and line == needles[i]:
            i += 1
        else:
            extra.append(line)
    return i == len(needles), extra


def assert_same_dump(ours_text: str, expected_text: str) -> None:
    """Upstream's lines appear in ours, in order; everything else we print is an attribute line."""
    ours = NEWER_FLAGS.sub("", ours_text).splitlines()
    found, extra = _is_subsequence(squeeze(expected_text), ["".join(line.split()) for line in ours])
    assert found, f"upstream lines missing or out of order in:\n{ours_text}"
    squeezed_attrs = {"".join(line.split()) for line in ours if ATTRIBUTE_LINE.match(line)}
    assert [e for e in extra if e and e not in squeezed_attrs] == []


@pytest.mark.parametrize("expected", TREES, ids=[t.stem for t in TREES])
def test_tree_dump_matches_upstream(expected: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = UPSTREAM / f"{expected.stem}.conf"
    run = run_hbd_test(capsys, "tree", "-c", str(conf))
    assert run.rc == 0, run.err
    assert_same_dump(run.out, expected.read_text())


@pytest.mark.parametrize("expected", DELTAS, ids=[d.stem for d in DELTAS])
def test_delta_matches_upstream(expected: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = expected.stem.split("-")[1:]
    run = run_hbd_test(capsys, "delta", str(UPSTREAM / f"{old}.conf"), str(UPSTREAM / f"{new}.conf"))
    assert run.rc == 0, run.err
    assert run.err == "Running in resource tree delta test mode.\n"
    assert_same_dump(run.out, expected.read_text())
    flagged = [line.strip() for line in run.out.splitlines() if "NEED" in line or "RECONFIG" in line]
    assert flagged == [line.strip() for line in expected.read_text().splitlines() if "NEED" in line]
