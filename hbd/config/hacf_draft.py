"""What the ha.cf parser (hacf.py) has read so far: the last value of each scalar with its line, the nodes,
media, ping nodes and raw directives in file order, and the directives whose value was refused."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hbd.config.model import AutoFailback, Directive, Medium, PingGroup
from hbd.errors import Problems


@dataclass
class Draft:
    """What has been read so far; turned into a HaCf by `hacf._finish` once the whole file is known."""

    path: Path
    problems: Problems
    nodes: list[str] = field(default_factory=list)
    first_node_line: int | None = None
    last: dict[str, tuple[object, int]] = field(default_factory=dict)  # scalar -> (value, line)
    media: list[tuple[Medium, int]] = field(default_factory=list)  # (medium, udpport in force when declared)
    serial_lines: list[int] = field(default_factory=list)
    ping_nodes: list[str] = field(default_factory=list)
    ping_groups: list[PingGroup] = field(default_factory=list)
    auto_failback: AutoFailback = "legacy"
    failback_set_explicitly: bool = False
    directives: list[Directive] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # directives with a refused value: skip checks built on them

    def error(self, line: int | None, text: str) -> None:
        self.problems.error(self.path, line, text)

    def warning(self, line: int | None, text: str) -> None:
        self.problems.warning(self.path, line, text)

    def value(self, name: str, default: object = None) -> object:
        return self.last[name][0] if name in self.last else default

    def number(self, name: str, default: int) -> int:
        value = self.value(name, default)
        return value if isinstance(value, int) else default

    def text(self, name: str) -> str | None:
        value = self.value(name)
        return value if isinstance(value, str) else None

    def flag(self, name: str, default: bool) -> bool:
        value = self.value(name, default)
        return value if isinstance(value, bool) else default

    def line_of(self, name: str) -> int | None:
        return self.last[name][1] if name in self.last else None
