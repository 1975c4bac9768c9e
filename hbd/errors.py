"""The one error hierarchy of hbd, and the collector that config parsers report problems into."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


class HbdError(Exception):
    """Base of every error hbd raises on purpose; anything else escaping is a bug."""


@dataclass(frozen=True)
class Problem:
    """One finding about a configuration file, printed as `file:line: severity: text`."""

    file: str
    line: int | None
    severity: Severity
    text: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity}: {self.text}"


class ConfigError(HbdError):
    """The configuration cannot be used. Carries every problem found (errors and warnings)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__(str(errors[0]) if errors else "configuration error")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


@dataclass
class Problems:
    """Collects problems while parsing so that `hbd config check` can show them all at once.

    Parsers call `error()` / `warning()` and keep going where they sensibly can; the caller ends with
    `raise_if_errors()`. A parser that cannot continue raises `ConfigError(problems.items)` itself.
    """

    items: list[Problem] = field(default_factory=list)

    def error(self, file: str | Path, line: int | None, text: str) -> None:
        self.items.append(Problem(str(file), line, "error", text))

    def warning(self, file: str | Path, line: int | None, text: str) -> None:
        self.items.append(Problem(str(file), line, "warning", text))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.items)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ConfigError(self.items)

    def fail(self, file: str | Path, line: int | None, text: str) -> ConfigError:
        """Record an error and return the exception to raise when parsing cannot go on."""
        self.error(file, line, text)
        return ConfigError(self.items)


class AgentError(HbdError):
    """A resource agent could not be run at all (not found, not executable, bad parameters)."""


class LabError(HbdError):
    """The namespace lab could not be set up, driven or torn down."""


class ProtocolError(HbdError):
    """A datagram could not be decoded or authenticated (always caught and counted by the receiver)."""
