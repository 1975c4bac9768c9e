"""Reading Heartbeat's text configuration files: bytes to numbered lines, with the problems users paste in.

Files copied from web pages often carry non-breaking spaces (U+00A0) where spaces were meant. Heartbeat
reads them as part of a word (so `keepalive\u00a01` is an illegal directive); hbd reads them as spaces
and says so once per file, because the intent is never in doubt.

Every configuration file is read through `read_bounded`: a regular file only (a FIFO would block, a
device such as /dev/zero never ends), opened without blocking, at most MAX_FILE_BYTES; and no line may
be longer than MAX_LINE_CHARS. A wrong path given to `-c` gets an error, not a hang or gigabytes of RSS.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from hbd.errors import Problems

NBSP = "\u00a0"
MAX_FILE_BYTES = 1024 * 1024  # far above any real ha.cf, authkeys or haresources
MAX_LINE_CHARS = 16 * 1024


class NotReadable(Exception):
    """The path is not a regular file, or is larger than the limit (the text says which)."""


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; NotReadable or OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                    else "not a regular file")
            raise NotReadable(f"{kind}, not a regular file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise NotReadable(f"larger than {limit // (1024 * 1024)} MiB: not a configuration file")
    return data


def read_text(path: Path, problems: Problems, what: str) -> str | None:
    """The file's text, or None after recording an error naming the file (missing, unreadable, not UTF-8)."""
    try:
        data = read_bounded(path)
    except FileNotFoundError:
        problems.error(path, None, f"cannot open {what} [{path}]: no such file")
        return None
    except OSError as exc:
        problems.error(path, None, f"cannot open {what} [{path}]: {exc.strerror or exc}")
        return None
    except NotReadable as exc:
        problems.error(path, None, f"cannot read {what} [{path}]: {exc}")
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
        if len(line) > MAX_LINE_CHARS:
            problems.error(path, number, f"line longer than {MAX_LINE_CHARS} characters ({len(line)})")
            out.append((number, ""))
            continue
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
