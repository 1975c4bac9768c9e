"""`hbd test` against the test vectors of rgmanager.md §7 and the seed's cluster.conf (§2.5), exactly.

Expected files are named CONF-STEM.SERVICE.OP and hold rg_test's stdout; stderr must be exactly
`Running in test mode.`.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config import load
from hbd.errors import ConfigError
from tests.unit.rg_test_helpers import run_hbd_test

DATA = Path(__file__).resolve().parent.parent / "data" / "cluster"
EXPECTED = sorted(DATA.glob("tv/tv*.*.st*")) + sorted(DATA.glob("seed-004.*.st*"))
SEED = DATA / "seed-004.conf"
SEED_AS_PRINTED = DATA / "seed-004-as-printed.conf"


def _case(expected: Path) -> tuple[Path, str, str]:
    stem, service, op = expected.name.split(".")
    return expected.parent / f"{stem}.conf", service, op


def test_every_vector_has_start_and_stop() -> None:
    names = {p.name for p in EXPECTED}
    assert len(EXPECTED) == 29  # 12 vectors (24 files + tv13 nosuch) and 4 seed files
    for p in EXPECTED:
        other = p.name.rsplit(".", 1)[0] + (".stop" if p.name.endswith(".start") else ".start")
        assert other in names or p.name == "tv13.nosuch.start", p.name


@pytest.mark.parametrize("expected", EXPECTED, ids=[p.name for p in EXPECTED])
def test_vector_output_is_exact(expected: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf, service, op = _case(expected)
    run = run_hbd_test(capsys, "noop", op, "service", service, "-c", str(conf))
    assert run.err == "Running in test mode.\n"
    assert run.out == expected.read_text()
    assert run.rc == (1 if service == "nosuch" else 0)


def test_rg_test_argument_order_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", str(SEED), "start", "service", "dbnode")
    assert run.rc == 0
    assert run.out == (DATA / "seed-004.dbnode.start").read_text()


def test_seed_tree_dump_is_the_corrected_seed_dump(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "tree", "-c", str(SEED))
    assert run.rc == 0
    assert run.err == "Running in test mode.\nLoaded 23 resource rules\n"
    tree = run.out[run.out.index("=== Resource Tree ===\n") + len("=== Resource Tree ===\n"):]
    assert tree == (DATA / "seed-004.tree").read_text()
    assert run.out.startswith("=== Resources List ===\nResource type: service [INLINE]\n")


def test_seed_as_printed_is_not_well_formed(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "start", "service", "database", "-c", str(SEED_AS_PRINTED))
    assert run.rc == 1
    assert run.out == f"Error parsing {SEED_AS_PRINTED}\n"
    lines = run.err.splitlines()
    assert lines[0] == "Running in test mode."
    assert lines[1] == f"{SEED_AS_PRINTED}:13: error: not well-formed XML: Start tag expected, '<' not found"
    assert len(lines) == 2


def test_seed_as_printed_is_rejected_by_load_with_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        load(SEED_AS_PRINTED)
    assert [(p.file, p.line) for p in info.value.errors] == [(str(SEED_AS_PRINTED), 13)]


def test_corrected_seed_loads_without_problems() -> None:
    cfg = load(SEED)
    assert cfg.kind == "cluster.conf"
    assert cfg.problems == ()
    assert [r.ident for r in cfg.cluster.roots] == ["service:database"]  # type: ignore[attr-defined]
