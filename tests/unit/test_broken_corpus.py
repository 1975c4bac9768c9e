"""Every broken configuration in tests/data/broken/ gives exactly one clear error naming file and line.

A case is a directory holding the files of one configuration (ha.cf + authkeys + haresources, or
cluster.conf) and an `expect` file of `key: value` lines:

    message: text that must appear in the error line
    file: the file name the error must name (ha.cf, authkeys, haresources, cluster.conf)
    line: the line number the error must name, or `none` for a whole-file problem (mode, missing file)
    chmod: FILE MODE      optional, e.g. `authkeys 0644` (git keeps no modes; authkeys is 0600 otherwise)
    node: NAME            optional, the local node name (default: the first `node` of ha.cf, or n1)
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from hbd.cli.main import dispatch

CORPUS = Path(__file__).resolve().parent.parent / "data" / "broken"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


def _expect(case: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in (case / "expect").read_text().splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            key, _, value = raw.partition(":")
            out[key.strip()] = value.strip()
    return out


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40, f"only {len(CASES)} broken-config cases in {CORPUS}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_config_gives_one_clear_error(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = _expect(case)
    work = tmp_path / "cfg"
    shutil.copytree(case, work)
    (work / "expect").unlink()
    if (work / "authkeys").exists():
        (work / "authkeys").chmod(0o600)
    if "chmod" in expect:
        name, mode = expect["chmod"].split()
        (work / name).chmod(int(mode, 8))
    node = expect.get("node", "n1")

    rc = dispatch(["config", "check", "-c", str(work), "--node", node])
    out = capsys.readouterr()
    text = out.out + out.err

    assert rc == 1, f"exit {rc}, expected 1; output:\n{text}"
    assert "Traceback" not in text
    errors = [ln for ln in text.splitlines() if ": error: " in ln]
    assert len(errors) == 1, f"expected exactly one error line, got:\n{text}"
    line_no = expect["line"]
    where = re.escape(str(work / expect["file"])) + ("" if line_no == "none" else f":{line_no}")
    assert re.match(where + r": error: ", errors[0]), f"error does not name {expect['file']}:{line_no}: {errors[0]}"
    assert expect["message"] in errors[0], f"{expect['message']!r} not in {errors[0]!r}"
