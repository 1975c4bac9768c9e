"""The control socket: mode 0600, one JSON request and answer per connection, bad requests answered
with an error (the server survives), clients told clearly when no daemon runs."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from hbd.errors import HbdError
from hbd.runtime.control import ControlServer, NotRunning, parse_request, request


async def echo(req: dict[str, Any]) -> dict[str, Any]:
    if req["cmd"] == "boom":
        raise RuntimeError("bug")
    return {"ok": True, "seen": req}


def raw(path: Path, data: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(data)
        return json.loads(sock.makefile("rb").readline())


def test_server_answers_and_survives_bad_requests(tmp_path: Path) -> None:
    path = tmp_path / "run" / "hbd.sock"

    async def scenario() -> list[dict[str, Any]]:
        server = ControlServer(path, echo)
        await server.start()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        loop = asyncio.get_running_loop()
        answers = []
        for data in (b'{"cmd": "status"}\n', b"not json\n", b'["cmd"]\n', b'{"cmd": "boom"}\n'):
            answers.append(await loop.run_in_executor(None, raw, path, data))
        answers.append(await loop.run_in_executor(None, request, path, {"cmd": "x", "n": 1}, 5.0))
        server.close()
        return answers

    ok, not_json, not_object, bug, client = asyncio.run(scenario())
    assert ok == {"ok": True, "seen": {"cmd": "status"}}
    assert not not_json["ok"] and not_json["error"].startswith("bad request: not JSON")
    assert not not_object["ok"] and '"cmd"' in not_object["error"]
    assert bug == {"ok": False, "error": "internal error: bug"}
    assert client == {"ok": True, "seen": {"cmd": "x", "n": 1}}
    assert not path.exists()


def test_a_leftover_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "hbd.sock"
    path.write_text("leftover")

    async def scenario() -> dict[str, Any]:
        server = ControlServer(path, echo)
        await server.start()
        answer = await asyncio.get_running_loop().run_in_executor(None, request, path, {"cmd": "a"}, 5.0)
        server.close()
        return answer

    assert asyncio.run(scenario())["ok"]


def test_client_without_daemon(tmp_path: Path) -> None:
    with pytest.raises(NotRunning, match="not running"):
        request(tmp_path / "absent.sock", {"cmd": "status"}, 1.0)
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(dead))  # bound, never listening: connection refused
    with pytest.raises(NotRunning):
        request(dead, {"cmd": "status"}, 1.0)


def test_silent_server_times_out(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        with pytest.raises(HbdError, match="no answer from hbd within 0.2 s"):
            request(path, {"cmd": "status"}, 0.2)


@pytest.mark.parametrize("line, error", [(b"", "not JSON"), (b"{}", '"cmd"'), (b'{"cmd": 3}', '"cmd"')])
def test_parse_request_rejects(line: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_request(line)
