"""`hbd stop`: stop the running daemon gracefully, wait until it has gone, and report what it released.

The daemon releases its groups in reverse order and tells the peer, which takes them over at once (the same
shutdown as SIGTERM). The answer comes when the release has finished; then this command waits for the process
to exit. Exit codes: 0 stopped with every group released, 1 a group could not be released or the daemon did
not exit in time, 3 not running (LSB: stopping a stopped service is not an error for `init.d/hbd stop`,
which maps 3 to 0).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hbd.cli.client import ask
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET

EXIT_POLL_S = 0.05


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd stop", description="stop the running daemon: release every group "
                                "(the peer takes them over), wait for the daemon to exit, report")
    p.add_argument("--socket", default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds to wait for the release and the exit (default 1800, the unit's stop timeout)")
    return p


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an exited daemon its parent has not reaped yet is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def process_gone(pid: int, timeout_s: float) -> bool:
    """Wait (bounded) until `pid` has exited."""
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(EXIT_POLL_S)
    return True


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    answer = ask("hbd stop", Path(args.socket), cm.StopRequest(), args.timeout)
    if isinstance(answer, int):
        return answer
    if "pid" not in answer:
        print(f"hbd stop: {answer.get('text') or answer.get('error') or 'refused'}", file=sys.stderr)
        return 1
    pid = int(answer["pid"])
    released = answer.get("released") or []
    left = answer.get("still_held") or []
    gone = process_gone(pid, max(0.0, args.timeout - (time.monotonic() - started)))
    took = time.monotonic() - started
    if left:
        print(f"hbd stop: could not release {' '.join(left)}; the daemon (pid {pid}) "
              f"{'exited' if gone else 'is still running'} holding them: see its log", file=sys.stderr)
        return 1
    if not gone:
        print(f"hbd stop: every group was released but the daemon (pid {pid}) has not exited within "
              f"{args.timeout:g} s", file=sys.stderr)
        return 1
    what = f"released {' '.join(released)} to {answer.get('peer')}" if released else "held no group"
    print(f"hbd stopped (pid {pid}, {took:.1f} s): {what}")
    return 0
