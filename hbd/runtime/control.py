"""The control socket: one JSON request per connection, one JSON answer (`/run/hbd/hbd.sock`, mode 0600).

Requests: {"cmd": "status"}, {"cmd": "standby"|"takeover", "which": "all|local|foreign|failback"},
{"cmd": "reload"}, ... (every command and its keys: control_messages.py, which the daemon's server decodes
each request with before acting: a malformed one is answered {"ok": false, "error": "bad request: ..."} and
changes nothing). Answers: {"ok": true|false, ...}; a handover's answer comes when it has finished.
Every CLI tool is a client (`request()`); only root can connect, because the socket is mode 0600.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any, Awaitable, Callable

from hbd.errors import HbdError

DEFAULT_SOCKET = Path("/run/hbd/hbd.sock")
MAX_REQUEST = 64 * 1024
LOG = logging.getLogger("hbd.control")

Handler = Callable[[Any], Awaitable[dict[str, Any]]]  # gets what `decode` made of the request object
Decoder = Callable[[dict[str, Any]], Any]


class NotRunning(HbdError):
    """No daemon answers on the control socket."""


def parse_request(line: bytes) -> dict[str, Any]:
    """A request object, or ValueError with a plain reason."""
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise ValueError('a request is an object with a "cmd" string')
    return request


class ControlServer:
    def __init__(self, path: Path, handler: Handler, decode: Decoder | None = None):
        self.path = path
        self.handler = handler
        self.decode: Decoder = decode or (lambda request: request)  # raises ValueError on a bad request
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.path.unlink()  # a leftover of a killed daemon: the pid lock proved nobody uses it
        except FileNotFoundError:
            pass
        old = os.umask(0o177)  # created 0600: no moment with a wider mode
        try:
            self.server = await asyncio.start_unix_server(self._client, path=str(self.path), limit=MAX_REQUEST)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        try:
            self.path.unlink()
        except OSError:
            pass

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=10)
                answer = await self.handler(self.decode(parse_request(line)))
            except (ValueError, asyncio.LimitOverrunError) as exc:
                answer = {"ok": False, "error": f"bad request: {exc}"}
            except asyncio.TimeoutError:
                answer = {"ok": False, "error": "no request within 10 s"}
            except Exception as exc:  # a bug must not take the daemon down: report it to the caller
                LOG.exception("control request failed (bug)", extra={"hb_level": "ERROR"})
                answer = {"ok": False, "error": f"internal error: {exc}"}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the client went away; nothing to tell it
        finally:
            writer.close()


def request(path: Path, obj: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request and wait (at most `timeout` s) for its answer. NotRunning when nobody listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NotRunning(f"hbd is not running (no answer on {path}: {exc.strerror})") from None
        except PermissionError:
            raise HbdError(f"permission denied on {path}: run as root") from None
        sock.sendall(json.dumps(obj).encode() + b"\n")
        chunks: list[bytes] = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            raise HbdError(f"no answer from hbd within {timeout:g} s") from None
    data = b"".join(chunks)
    if not data:
        raise HbdError("hbd closed the control connection without an answer")
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise HbdError(f"unreadable answer from hbd: {exc}") from None
    if not isinstance(answer, dict):
        raise HbdError("unreadable answer from hbd: not an object")
    return answer
