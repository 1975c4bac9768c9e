"""`hbd status --json` against its documented schema: a real daemon's output validates against
doc/status.schema.json (JSON Schema, checked with the jsonschema package), every field of the schema is
described in doc/status-schema.md, the version is the one the daemon writes, and a status with a field
missing, renamed or out of its range is refused (the check can fail)."""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from hbd.runtime import drbd_status
from hbd.runtime.status import SCHEMA_VERSION
from tests.unit.service_daemon import free_udp_port, hbd, running_daemon, write_config

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (setup.cfg test extra; Debian python3-jsonschema)")

DOC = Path(__file__).resolve().parents[2] / "doc"
SCHEMA = json.loads((DOC / "status.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(status: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(status)]


def fields(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every property name the schema defines, at any depth."""
    for name, sub in schema.get("properties", {}).items():
        yield name
        yield from fields(sub, name)
        yield from fields(sub.get("items", {}), name)
        for alt in sub.get("oneOf", []):
            yield from fields(alt, name)


@pytest.fixture(scope="module")
def live_status(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`hbd status --json` of a real daemon (loopback heartbeats, a group, fencing by hand configured)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: SO_BINDTODEVICE on the heartbeat socket")
    tmp = tmp_path_factory.mktemp("status")
    config = write_config(tmp, free_udp_port(), "n1 IPaddr2::192.0.2.77/24/lo\n")
    with open(config / "ha.cf", "a") as hacf:
        hacf.write("stonith_host * meatware\n")
    with running_daemon(tmp, config) as sock:
        done = hbd("status", "--json", "--socket", sock)
        assert done.returncode == 0, done.stderr
        yield json.loads(done.stdout)


def test_real_status_validates(live_status: dict[str, Any]) -> None:
    assert errors(live_status) == []
    assert live_status["schema"] == SCHEMA_VERSION == SCHEMA["properties"]["schema"]["const"]
    # the optional parts were there to be checked
    assert "fencing" in live_status and live_status["groups"] and live_status["nodes"]
    assert live_status["groups"][0]["resources"], live_status["groups"]


def test_drbd_entries_validate(live_status: dict[str, Any]) -> None:
    def drbdadm(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        out = {"role": "Primary/Secondary\n", "dstate": "UpToDate/UpToDate\n", "cstate": "Connected\n"}[argv[1]]
        return subprocess.CompletedProcess(argv, 0, out, "")

    def missing(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 10, "", "'r9' not defined in your config\n")

    status = {**live_status, "drbd": [drbd_status.query("r0", run=drbdadm), drbd_status.query("r9", run=missing)]}
    assert errors(status) == []
    assert status["drbd"][0]["role"] == "Primary" and "error" in status["drbd"][1]


def test_a_handover_in_progress_validates(live_status: dict[str, Any]) -> None:
    status = {**live_status, "standby": {"role": "giver", "which": "all", "phase": "releasing",
                                         "groups": [g["key"] for g in live_status["groups"]]}}
    assert errors(status) == []


@pytest.mark.parametrize("mutate", [
    lambda s: s.pop("schema"),
    lambda s: s.update(schema=2),
    lambda s: s.update(surprise=1),
    lambda s: s["nodes"][0].update(status="online"),
    lambda s: s["nodes"][0].pop("links"),
    lambda s: s["groups"][0].update(state="started"),
    lambda s: s["groups"][0].update(owner=7),
    lambda s: s["transitions"].append({"time": "yesterday", "text": "x", "monotonic": 1.0}),
    lambda s: s["heartbeat"]["accepted"].update(n2=-1),
    lambda s: s.update(standby={"role": "thief", "which": "all", "phase": "x", "groups": []}),
])
def test_a_status_off_the_schema_is_refused(live_status: dict[str, Any], mutate: Any) -> None:
    status = copy.deepcopy(live_status)
    if not status["transitions"]:
        status["transitions"].append({"time": "06:00:00", "text": "probed", "monotonic": 1.0})
    mutate(status)
    assert errors(status) != []


def test_every_schema_field_is_documented() -> None:
    doc = (DOC / "status-schema.md").read_text()
    documented = set(re.findall(r"`([a-z_]+)`", doc))
    assert sorted(set(fields(SCHEMA)) - documented) == []
    assert f"schema {SCHEMA_VERSION}" in doc.splitlines()[0]


def test_the_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
