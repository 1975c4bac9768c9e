"""`hbd` / `hbd run`: the daemon. `-f` stays in the foreground (systemd, the lab); otherwise it daemonizes.

The process names itself `hbd` (ps, pkill and monitoring find it under that name), refuses to start while
another hbd holds the pid lock, logs where ha.cf says (logfile, debugfile, logfacility; stderr too with -f),
and exits 0 after a graceful shutdown. A restart (reload of ha.cf/haresources, own heartbeat lost)
re-executes the same command line in the same process.

Exit codes (hbd/cli/exit_codes.py): 0 graceful shutdown, 6 unusable configuration, 75 already running,
69 a heartbeat medium cannot be opened, 70 internal error, 1 anything else, 2 usage. Without -f the parent
waits until the daemon has opened its media and its control socket, and exits with the daemon's start code,
so an init script's `start` reports a failure instead of hiding it.
"""
from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import signal
import select
import sys
import time
import traceback
from pathlib import Path

from hbd.cli.exit_codes import DaemonExit
from hbd.config import load
from hbd.errors import ConfigError, HbdError
from hbd.runtime import logsetup
from hbd.runtime.control import DEFAULT_SOCKET
from hbd.runtime.daemon import Daemon, Options, check_runnable
from hbd.runtime.process import DEFAULT_PIDFILE, AlreadyRunning, PidLock, set_process_name
from hbd.runtime.state import DEFAULT_STATE_DIR
from hbd.runtime.transport import TransportError

START_WAIT_S = 120.0  # how long the parent of a daemonizing start waits for the daemon's start result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd", description="the hbd high-availability daemon")
    p.add_argument("-f", "--foreground", action="store_true", help="do not daemonize; log to stderr too")
    p.add_argument("-c", "--config", default="/etc/ha.d",
                   help="directory with ha.cf, authkeys, haresources; or a cluster.conf (the file, or a directory "
                        "holding it, e.g. /etc/cluster)")
    p.add_argument("--node", help="local node name (default: nodeinfo, then uname -n)")
    p.add_argument("--socket", default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--pidfile", default=str(DEFAULT_PIDFILE), help="pid lock file")
    p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="hb_generation and hb_uuid live here")
    p.add_argument("--on-stop-failure", choices=("none", "reboot"), default="none",
                   help="what to do when a group cannot be stopped after every retry (default: log only)")
    p.add_argument("--metrics", metavar="[ADDR:]PORT",
                   help="serve Prometheus metrics on http://ADDR:PORT/metrics (default off; ADDR 127.0.0.1)")
    return p


def daemonize() -> int:
    """The classic double fork: detached from the terminal and the session, stdin/stdout on /dev/null.

    The original process waits for one byte on a pipe, the daemon's start result (0 when it runs), and exits
    with it. Returns the pipe's write end to the daemon; stderr stays open until `started()` is called.
    """
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        os._exit(wait_for_start(read_end))
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    os.close(null)
    return write_end


def wait_for_start(read_end: int) -> int:
    ready, _, _ = select.select([read_end], [], [], START_WAIT_S)
    if not ready:
        print(f"hbd: the daemon has not reported its start within {START_WAIT_S:g} s; see its log", file=sys.stderr)
        return int(DaemonExit.FAILURE)
    data = os.read(read_end, 1)
    return data[0] if data else int(DaemonExit.INTERNAL)  # the daemon died without a word


def report_start(write_end: int | None, code: int) -> None:
    """Tell the waiting parent (daemonized start) the start result, then drop stderr to /dev/null."""
    if write_end is None:
        return
    try:
        os.write(write_end, bytes([code]))
        os.close(write_end)
    except OSError:
        pass
    if code == 0:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 2)
        os.close(null)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    config_dir = Path(args.config)
    try:
        cfg = load(config_dir, args.node)
        check_runnable(cfg)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return DaemonExit.CONFIG
    except HbdError as exc:
        print(f"hbd: {exc}", file=sys.stderr)
        return DaemonExit.CONFIG
    for problem in cfg.problems:
        print(problem, file=sys.stderr)
    cluster = None
    if cfg.heartbeat is None:  # a cluster.conf: membership from <clusternodes>, checked on this node
        from hbd.runtime.cluster_daemon import ClusterDaemon, cluster_membership
        try:
            cluster = cluster_membership(cfg, args.node)
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return DaemonExit.CONFIG
    hacf = cfg.heartbeat.hacf if cfg.heartbeat is not None else cluster.hacf  # type: ignore[union-attr]
    lock = PidLock(Path(args.pidfile))
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"hbd: {exc}", file=sys.stderr)
        return DaemonExit.ALREADY_RUNNING
    except OSError as exc:
        print(f"hbd: cannot take the pid lock {args.pidfile}: {exc.strerror} (run as root)", file=sys.stderr)
        return DaemonExit.FAILURE
    start_pipe: int | None = None
    if not args.foreground:
        start_pipe = daemonize()
        lock.rewrite()
    set_process_name("hbd")
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # every thread's stack on stderr, for bug reports
    for trouble in logsetup.configure(hacf.local_node, logsetup.LogTargets(
            hacf.logfile, hacf.debugfile, hacf.logfacility, stderr=args.foreground)):
        print(f"hbd: {trouble}", file=sys.stderr)
    opts = Options(config_dir, args.node, Path(args.socket), Path(args.state_dir), args.on_stop_failure,
                   on_started=lambda: report_start(start_pipe, 0), metrics=args.metrics)
    code = DaemonExit.OK
    try:
        outcome = asyncio.run(Daemon(cfg, opts).run() if cluster is None else ClusterDaemon(cfg, opts, cluster).run())
    except TransportError as exc:
        code, message = DaemonExit.MEDIUM, f"hbd: {exc}"
    except HbdError as exc:
        code, message = DaemonExit.FAILURE, f"hbd: {exc}"
    except Exception:  # a bug: say so with the traceback, and exit with a code of its own
        code, message = DaemonExit.INTERNAL, "hbd: internal error (bug):\n" + traceback.format_exc()
    finally:
        lock.release()
    if code != DaemonExit.OK:
        logging.getLogger("hbd.daemon").critical(message.removeprefix("hbd: "), extra={"hb_level": "CRIT"})
        if not args.foreground:
            print(message, file=sys.stderr)  # -f: the log's stderr handler has printed it already
        report_start(start_pipe, code)
        return code
    if outcome.restart:
        time.sleep(outcome.restart_delay_s)
        os.execv(sys.executable, [sys.executable, "-m", "hbd.cli.main", *argv_for_restart(argv)])
    return outcome.code


def argv_for_restart(argv: list[str]) -> list[str]:
    """The same command line, in the foreground (the process is already detached when it was not)."""
    return argv if ("-f" in argv or "--foreground" in argv) else ["-f", *argv]
