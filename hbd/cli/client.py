"""The command-line side of the control socket: one request, with the daemon's absence turned into exit codes."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hbd.errors import HbdError
from hbd.runtime.control import NotRunning, request
from hbd.runtime.control_messages import AnyRequest, encode

NOT_RUNNING = 3  # LSB's "program is not running", the exit code of every command that needs the daemon


def ask(prog: str, socket_path: Path, payload: AnyRequest, timeout: float) -> dict[str, Any] | int:
    """The daemon's answer to a typed request (sent as control_messages.encode writes it), or the exit code
    (3 not running, 1 other failure) after saying why on stderr."""
    try:
        return request(socket_path, encode(payload), timeout)
    except NotRunning as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return NOT_RUNNING
    except HbdError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1


def ask_and_report(prog: str, socket_path: Path, payload: AnyRequest, timeout: float) -> int:
    """Send one typed request and report the daemon's answer: its text on stdout and 0 when it did what was
    asked, `prog: text` on stderr and 1 when it refused, or ask()'s exit code (3 not running, 1 failure)."""
    answer = ask(prog, socket_path, payload, timeout)
    if isinstance(answer, int):
        return answer
    text = answer.get("text") or answer.get("error") or ""
    if answer.get("ok"):
        print(text)
        return 0
    print(f"{prog}: {text}", file=sys.stderr)
    return 1
