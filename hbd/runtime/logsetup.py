"""Logging of the daemon in Heartbeat's formats (heartbeat.md §9.1): logfile, debugfile, syslog facility.

- logfile: every level but debug, `Nov 21 21:03:35 alice hbd: [34]: WARN: node bob: is dead`;
- debugfile: the same lines, debug included;
- logfacility: syslog with ident `hbd` and the message `[pid]: LEVEL: text`;
- stderr (foreground runs): the logfile's lines.
Levels travel as `extra={"hb_level": ...}` so Heartbeat's words (`WARN`, `CRIT`, `info`) appear exactly.

Nothing here blocks the heartbeat loop: a log call puts the record on a bounded queue and one thread
writes it (a write to a file can wait seconds on the file system's journal while a database fsyncs, a
syslog socket can fill). When the queue is full, records are dropped and counted, never waited for.
Log files are created 0640, group `adm` when it exists (Debian's group for reading logs), else root's:
they say who talks to whom and why packets were refused, which is not for every local user. A file
renamed away (logrotate) is noticed at the next line and reopened; `reopen()` (SIGHUP, `hbd reload`)
reopens every file at once.
"""
from __future__ import annotations

import atexit
import grp
import logging
import logging.handlers
import os
import queue
import sys
import time
from dataclasses import dataclass
from typing import Any

from hbd.runtime.membership_service import LEVELS, HeartbeatFormatter

SYSLOG_SOCKET = "/dev/log"
LOG_FILE_MODE = 0o640
LOG_GROUP = "adm"
QUEUE_LIMIT = 20000  # records waiting for the writer thread; beyond this they are dropped and counted
FLUSH_WAIT_S = 2.0


class LogFileHandler(logging.handlers.WatchedFileHandler):
    """A log file that is never world-readable and follows renames (logrotate without copytruncate)."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_FILE_MODE)
        try:
            os.fchmod(fd, os.fstat(fd).st_mode & LOG_FILE_MODE)  # an older 0644 file loses its world bit
            if os.geteuid() == 0:
                os.fchown(fd, -1, log_group())
        except OSError:
            pass
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)

    def reopen(self) -> None:
        self.acquire()
        try:
            if self.stream is not None:
                self.stream.close()
            self.stream = self._open()
            self._statstream()
        finally:
            self.release()


def log_group() -> int:
    try:
        return grp.getgrnam(LOG_GROUP).gr_gid
    except KeyError:
        return 0


class NonBlockingHandler(logging.handlers.QueueHandler):
    """The handler the loop's threads log through: enqueue and return, drop (and count) when full."""

    def __init__(self, q: "queue.Queue[logging.LogRecord]"):
        super().__init__(q)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def flush(self) -> None:
        """Wait (bounded) until the writer thread has written everything queued so far."""
        q = self.queue
        deadline = time.monotonic() + FLUSH_WAIT_S
        while getattr(q, "unfinished_tasks", 0) and time.monotonic() < deadline:
            time.sleep(0.002)


_listener: logging.handlers.QueueListener | None = None
_files: list[LogFileHandler] = []


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
                add(LogFileHandler(path), level, formatter)
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
    stop()
    for old in root.handlers:
        old.close()
    if handlers:
        global _listener
        q: "queue.Queue[logging.LogRecord]" = queue.Queue(QUEUE_LIMIT)
        _listener = logging.handlers.QueueListener(q, *handlers, respect_handler_level=True)
        _listener.start()
        _files[:] = [h for h in handlers if isinstance(h, LogFileHandler)]
        root.handlers[:] = [NonBlockingHandler(q)]
    else:
        root.handlers[:] = [logging.NullHandler()]
    root.setLevel(logging.DEBUG if targets.debugfile else logging.INFO)
    root.propagate = False
    return problems


def reopen() -> None:
    """Reopen every log file (after logrotate moved it away): SIGHUP and `hbd reload` call this."""
    flush()
    for handler in _files:
        try:
            handler.reopen()
        except OSError:
            pass  # the next line retries through WatchedFileHandler's own check


def flush() -> None:
    for handler in logging.getLogger("hbd").handlers:
        handler.flush()


def dropped() -> int:
    """Log records dropped because the writer could not keep up."""
    return sum(getattr(h, "dropped", 0) for h in logging.getLogger("hbd").handlers)


def stop() -> None:
    """Write what is queued and stop the writer thread (at exit and before a re-exec)."""
    global _listener
    if _listener is not None:
        flush()
        _listener.stop()
        for handler in _listener.handlers:
            handler.close()
        _listener = None
    _files.clear()


atexit.register(stop)


def log_hb(logger: logging.Logger, level: str, text: str) -> None:
    """Log with a Heartbeat level word (info, WARN, ERROR, CRIT, debug)."""
    logger.log(LEVELS.get(level, logging.INFO), text, extra={"hb_level": level})
