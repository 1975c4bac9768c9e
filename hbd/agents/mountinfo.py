"""`/proc/self/mountinfo` parsed into typed entries (the mount table of this mount namespace)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_ESCAPE = re.compile(r"\\([0-7]{3})")


def unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as \\040, \\011, \\012, \\134."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


@dataclass(frozen=True)
class MountEntry:
    mount_id: int
    parent_id: int
    major: int
    minor: int
    root: str
    mountpoint: str
    options: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...]

    @property
    def dev(self) -> int:
        return os.makedev(self.major, self.minor)

    def is_at_or_below(self, directory: str) -> bool:
        base = directory.rstrip("/") or "/"
        return self.mountpoint == base or self.mountpoint.startswith(base + "/") or base == "/"


def parse_line(line: str) -> MountEntry:
    """`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue` (proc(5))."""
    parts = line.split()
    try:
        sep = parts.index("-", 6)
        major, minor = parts[2].split(":")
        return MountEntry(int(parts[0]), int(parts[1]), int(major), int(minor), unescape(parts[3]),
                          unescape(parts[4]), tuple(parts[5].split(",")), parts[sep + 1],
                          unescape(parts[sep + 2]), tuple(parts[sep + 3].split(",")) if len(parts) > sep + 3 else ())
    except (ValueError, IndexError):
        raise ValueError(f"not a mountinfo line: {line!r}") from None


def parse(text: str) -> tuple[MountEntry, ...]:
    return tuple(parse_line(line) for line in text.splitlines() if line.strip())


def read(path: str | Path = "/proc/self/mountinfo") -> tuple[MountEntry, ...]:
    return parse(Path(path).read_text())


def at(entries: tuple[MountEntry, ...], mountpoint: str) -> MountEntry | None:
    """The mount visible at mountpoint: the last one mounted there (it hides the earlier ones)."""
    found = [e for e in entries if e.mountpoint == mountpoint.rstrip("/")]
    return found[-1] if found else None


def below(entries: tuple[MountEntry, ...], directory: str) -> tuple[MountEntry, ...]:
    """Mounts at or below directory, deepest (and latest) first: the order to unmount them in."""
    inside = [(i, e) for i, e in enumerate(entries) if e.is_at_or_below(directory)]
    inside.sort(key=lambda ie: (ie[1].mountpoint.count("/"), ie[0]), reverse=True)
    return tuple(e for _, e in inside)
