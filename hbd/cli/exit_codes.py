"""The daemon's exit codes: one per kind of start failure, so that systemd (and an admin) can tell them apart.

The values follow conventions systemd and init scripts already know: 6 is LSB's "program is not configured"
(systemd prints it as `status=6/NOTCONFIGURED`), the others are sysexits.h values. etc/hbd.service names
CONFIG in RestartPreventExitStatus=: restarting cannot repair a broken ha.cf, while a medium that could not
be opened (an interface not up yet) or a daemon that was already running may well be fine a moment later.
"""
from __future__ import annotations

import enum


class DaemonExit(enum.IntEnum):
    OK = 0  # graceful shutdown: every group released
    FAILURE = 1  # any other failure (e.g. the pid lock file cannot be created: not root)
    USAGE = 2  # bad command line (argparse)
    CONFIG = 6  # unusable configuration: hbd config check refuses it too
    MEDIUM = 69  # EX_UNAVAILABLE: a heartbeat medium cannot be opened (no such interface, no address, port taken)
    INTERNAL = 70  # EX_SOFTWARE: a bug escaped; the traceback is on stderr and in the log
    ALREADY_RUNNING = 75  # EX_TEMPFAIL: another hbd holds the pid lock
