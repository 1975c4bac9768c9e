"""`hbd status`, `hbd reload`, `hbd-standby`, `hbd-takeover` against a stand-in daemon on a control socket:
output, JSON, and exit codes (0 done, 1 refused or failed, 2 bad usage, 3 no daemon)."""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hbd.cli import handover_cmd, status_cmd
from hbd.runtime.control import ControlServer

STATUS = {
    "version": "0.1.0", "node": "n1", "pid": 42, "uptime_s": 12.0, "config": "/etc/ha.d", "phase": "running",
    "stable": True, "comm_up": True, "busy": None, "standby": None,
    "nodes": [{"name": "n1", "status": "active", "local": True, "age_s": 0.1, "deadtime_ms": 1000,
               "links": [{"name": "eth0", "up": True}]},
              {"name": "n2", "status": "dead", "local": False, "age_s": 9.0, "deadtime_ms": 1000,
               "links": [{"name": "eth0", "up": False}]}],
    "groups": [{"key": "IPaddr2::192.0.2.50", "preferred": "n2", "owner": "n1", "state": "running"}],
    "peer": {"node": "n2", "alive": False, "stable": False, "holds": []},
    "transitions": [{"time": "10:00:01", "text": "node n2: dead", "monotonic": 5.0}],
}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    """A control socket answering like the daemon; records the requests."""
    path = tmp_path / "hbd.sock"
    seen: list[dict[str, Any]] = []

    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        seen.append(req)
        if req["cmd"] == "status":
            return {"ok": True, "status": STATUS}
        if req["cmd"] == "reload":
            return {"ok": False, "text": "ha.cf:3: error: bad"}
        if req.get("which") == "local":
            return {"ok": False, "text": "n2 is not active"}
        return {"ok": True, "text": "handover complete"}

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server = ControlServer(path, handle)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield path, seen
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_status_text_and_json(daemon: tuple[Path, list], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = daemon
    assert status_cmd.main(["--socket", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("hbd 0.1.0 on n1: running (pid 42, up 12 s), running, stable")
    assert "  n2           dead     links: eth0 dead" in text
    assert "IPaddr2::192.0.2.50  owner n1         here: running   preferred n2" in text
    assert "  10:00:01  node n2: dead" in text
    assert status_cmd.main(["--json", "--socket", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS


def test_not_running_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    absent = str(tmp_path / "none.sock")
    assert status_cmd.main(["--socket", absent]) == 3
    assert status_cmd.main(["--reload", "--socket", absent]) == 3
    assert handover_cmd.main("standby", ["--socket", absent]) == 3
    assert "not running" in capsys.readouterr().err


def test_reload_refused_is_exit_1(daemon: tuple[Path, list], capsys: pytest.CaptureFixture[str]) -> None:
    path, seen = daemon
    assert status_cmd.main(["--reload", "--socket", str(path)]) == 1
    assert seen[-1] == {"cmd": "reload"}
    assert "ha.cf:3: error: bad" in capsys.readouterr().err


def test_handover_commands(daemon: tuple[Path, list], capsys: pytest.CaptureFixture[str]) -> None:
    path, seen = daemon
    assert handover_cmd.main("standby", ["--socket", str(path)]) == 0
    assert seen[-1]["cmd"] == "standby" and seen[-1]["which"] == "all"
    assert capsys.readouterr().out == "handover complete\n"
    assert handover_cmd.main("takeover", ["local", "--socket", str(path)]) == 1
    assert seen[-1]["cmd"] == "takeover" and seen[-1]["which"] == "local"
    assert capsys.readouterr().err == "hbd-takeover: n2 is not active\n"
    with pytest.raises(SystemExit) as bad:
        handover_cmd.main("standby", ["everything", "--socket", str(path)])
    assert bad.value.code == 2


def test_daemon_refuses_unusable_configurations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hbd.cli.main import _run

    assert _run(["-f", "-c", str(tmp_path / "absent")]) == 6  # DaemonExit.CONFIG: systemd does not restart it
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "cluster.conf").write_text('<?xml version="1.0"?><cluster name="c" config_version="1">'
                                           '<clusternodes><clusternode name="a" nodeid="1"/></clusternodes>'
                                           '</cluster>')
    assert _run(["-f", "-c", str(tmp_path)]) == 6
    assert "no key file" in capsys.readouterr().err  # cluster.conf runs; without a key it does not


def test_daemon_without_access_to_its_pid_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hbd.cli.main import _run

    ha_d = tmp_path / "ha.d"
    ha_d.mkdir()
    (ha_d / "ha.cf").write_text("keepalive 1\ndeadtime 3\ninitdead 10\nbcast lo\nauto_failback on\n"
                                "logfacility none\nnode alice bob\n")
    (ha_d / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (ha_d / "authkeys").chmod(0o600)
    (ha_d / "haresources").write_text("alice 192.0.2.50\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = _run(["-f", "-c", str(ha_d), "--node", "alice", "--pidfile", str(blocker / "sub" / "hbd.pid")])
    assert code == 1
    assert "cannot take the pid lock" in capsys.readouterr().err
