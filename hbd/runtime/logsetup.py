"""Logging of the daemon in Heartbeat's formats (heartbeat.md §9.1): logfile, debugfile, syslog facility.

- logfile: every level but debug, `Nov 21 21:03:35 alice hbd: [34]: WARN: node bob: is dead`;
- debugfile: the same lines, debug included;
- logfacility: syslog with ident `hbd` and the message `[pid]: LEVEL: text`;
- stderr (foreground runs): the logfile's lines.
Levels travel as `extra={"hb_level": ...}` so Heartbeat's words (`WARN`, `CRIT`, `info`) appear exactly.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
from dataclasses import dataclass

from hbd.runtime.membership_service import LEVELS, HeartbeatFormatter

SYSLOG_SOCKET = "/dev/log"


def hb_level(record: logging.LogRecord) -> str:
    """Heartbeat's level word for a record (the core's own word when it gave one)."""
    given = getattr(record, "hb_level", None)
    if given:
        return str(given)
    return {logging.WARNING: "WARN", logging.CRITICAL: "CRIT", logging.ERROR: "ERROR",
            logging.DEBUG: "debug"}.get(record.levelno, "info")


class SyslogFormatter(logging.Formatter):
    """`hbd: [pid]: LEVEL: text` (the ident is part of the message for SysLogHandler)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += " " + self.formatException(record.exc_info).replace("\n", " | ")
        return f"hbd: [{record.process}]: {hb_level(record)}: {text}"


@dataclass(frozen=True)
class LogTargets:
    logfile: str | None = None
    debugfile: str | None = None
    facility: str | None = None  # syslog facility name (daemon, local0, ...); None or "none": no syslog
    stderr: bool = False


def facility_code(name: str) -> int:
    codes = logging.handlers.SysLogHandler.facility_names
    if name not in codes:
        raise ValueError(f"unknown syslog facility '{name}'")
    return codes[name]


def configure(host: str, targets: LogTargets) -> list[str]:
    """Point the `hbd` logger tree at the targets; return problems met (a target that cannot be opened)."""
    problems: list[str] = []
    handlers: list[logging.Handler] = []
    formatter = HeartbeatFormatter(host)

    def add(handler: logging.Handler, level: int, fmt: logging.Formatter) -> None:
        handler.setLevel(level)
        handler.setFormatter(fmt)
        handlers.append(handler)

    for path, level in ((targets.logfile, logging.INFO), (targets.debugfile, logging.DEBUG)):
        if path:
            try:
                add(logging.FileHandler(path), level, formatter)
            except OSError as exc:
                problems.append(f"cannot open log file {path}: {exc.strerror}")
    if targets.facility and targets.facility != "none":
        try:
            add(logging.handlers.SysLogHandler(SYSLOG_SOCKET, facility_code(targets.facility)), logging.INFO,
                SyslogFormatter())
        except (OSError, ValueError) as exc:
            problems.append(f"cannot log to syslog facility {targets.facility}: {exc}")
    if targets.stderr:
        add(logging.StreamHandler(sys.stderr), logging.INFO, formatter)
    root = logging.getLogger("hbd")
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers or [logging.NullHandler()]
    root.setLevel(logging.DEBUG if targets.debugfile else logging.INFO)
    root.propagate = False
    return problems


def log_hb(logger: logging.Logger, level: str, text: str) -> None:
    """Log with a Heartbeat level word (info, WARN, ERROR, CRIT, debug)."""
    logger.log(LEVELS.get(level, logging.INFO), text, extra={"hb_level": level})
