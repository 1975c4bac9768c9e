"""Reading Heartbeat's text configuration files: bytes to numbered lines, with the problems users paste in.

Files copied from web pages often carry non-breaking spaces (U+00A0) where spaces were meant. Heartbeat
reads them as part of a word (so `keepalive\u00a01` is an illegal directive); hbd reads them as spaces
and says so once per file, because the intent is never in doubt.
"""
from __future__ import annotations

from pathlib import Path

from hbd.errors import Problems

NBSP = "\u00a0"


def read_text(path: Path, problems: Problems, what: str) -> str | None:
    """The file's text, or None after recording an error naming the file (missing, unreadable, not UTF-8)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.error(path, None, f"cannot open {what} [{path}]: no such file")
        return None
    except OSError as exc:
        problems.error(path, None, f"cannot open {what} [{path}]: {exc.strerror or exc}")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.error(path, line, f"{what} is not valid UTF-8 text (byte 0x{data[exc.start]:02x})")
        return None


def numbered_lines(text: str, path: Path, problems: Problems) -> list[tuple[int, str]]:
    """(line number, line) pairs with CR/LF removed and non-breaking spaces turned into spaces.

    Only non-breaking spaces outside `#` comments are reported: in a comment they change nothing.
    """
    out: list[tuple[int, str]] = []
    nbsp_lines: list[int] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if NBSP in line.split("#", 1)[0]:
            nbsp_lines.append(number)
        if NBSP in line:
            line = line.replace(NBSP, " ")
        if "\x00" in line:
            problems.error(path, number, "NUL character in the file")
            line = line.replace("\x00", " ")
        out.append((number, line))
    if nbsp_lines:
        many = f" and {len(nbsp_lines) - 1} more lines" if len(nbsp_lines) > 1 else ""
        problems.warning(
            path,
            nbsp_lines[0],
            f"non-breaking space (U+00A0) here{many}, read as a space; Heartbeat would reject these lines",
        )
    return out
