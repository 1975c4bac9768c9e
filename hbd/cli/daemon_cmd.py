"""`hbd` / `hbd run`: the daemon. `-f` stays in the foreground (systemd, the lab); otherwise it daemonizes.

The process names itself `hbd` (ps, pkill and monitoring find it under that name), refuses to start while
another hbd holds the pid lock, logs where ha.cf says (logfile, debugfile, logfacility; stderr too with -f),
and exits 0 after a graceful shutdown. A restart (reload of ha.cf/haresources, own heartbeat lost)
re-executes the same command line in the same process.
"""
from __future__ import annotations

import argparse
import asyncio
import faulthandler
import os
import signal
import sys
import time
from pathlib import Path

from hbd.config import load
from hbd.runtime import logsetup
from hbd.runtime.control import DEFAULT_SOCKET
from hbd.runtime.daemon import Daemon, Options, check_runnable
from hbd.runtime.process import DEFAULT_PIDFILE, AlreadyRunning, PidLock, set_process_name
from hbd.runtime.state import DEFAULT_STATE_DIR


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd", description="the hbd high-availability daemon")
    p.add_argument("-f", "--foreground", action="store_true", help="do not daemonize; log to stderr too")
    p.add_argument("-c", "--config", default="/etc/ha.d", help="directory with ha.cf, authkeys, haresources")
    p.add_argument("--node", help="local node name (default: nodeinfo, then uname -n)")
    p.add_argument("--socket", default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--pidfile", default=str(DEFAULT_PIDFILE), help="pid lock file")
    p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="hb_generation and hb_uuid live here")
    p.add_argument("--on-stop-failure", choices=("none", "reboot"), default="none",
                   help="what to do when a group cannot be stopped after every retry (default: log only)")
    return p


def daemonize() -> None:
    """The classic double fork: detached from the terminal and the session, stdio on /dev/null."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    config_dir = Path(args.config)
    cfg = load(config_dir, args.node)  # ConfigError / HbdError: reported by hbd.cli.main, exit 1
    check_runnable(cfg)
    for problem in cfg.problems:
        print(problem, file=sys.stderr)
    assert cfg.heartbeat is not None
    hacf = cfg.heartbeat.hacf
    lock = PidLock(Path(args.pidfile))
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"hbd: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"hbd: cannot take the pid lock {args.pidfile}: {exc.strerror} (run as root)", file=sys.stderr)
        return 1
    if not args.foreground:
        daemonize()
        lock.rewrite()
    set_process_name("hbd")
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # every thread's stack on stderr, for bug reports
    for problem in logsetup.configure(hacf.local_node, logsetup.LogTargets(
            hacf.logfile, hacf.debugfile, hacf.logfacility, stderr=args.foreground)):
        print(f"hbd: {problem}", file=sys.stderr)
    opts = Options(config_dir, args.node, Path(args.socket), Path(args.state_dir), args.on_stop_failure)
    try:
        outcome = asyncio.run(Daemon(cfg, opts).run())
    finally:
        lock.release()
    if outcome.restart:
        time.sleep(outcome.restart_delay_s)
        os.execv(sys.executable, [sys.executable, "-m", "hbd.cli.main", *argv_for_restart(argv)])
    return outcome.code


def argv_for_restart(argv: list[str]) -> list[str]:
    """The same command line, in the foreground (the process is already detached when it was not)."""
    return argv if ("-f" in argv or "--foreground" in argv) else ["-f", *argv]
