"""`hbd` dispatcher: `hbd SUBCOMMAND ...` runs `hbd.cli.<module>.main(argv)`; plain `hbd` runs the daemon.

Each subcommand module owns its own argparse parser (prog "hbd SUBCOMMAND") and returns an exit code.
Modules are imported lazily so that `hbd status` does not pay for lxml or scapy.
Exit codes across all commands: 0 success, 1 failure or unusable config, 2 usage error, 3 not running.
"""
from __future__ import annotations

import importlib
import sys

from hbd import __version__
from hbd.errors import ConfigError, HbdError

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "test": ("hbd.cli.test_cmd", "show or run start/stop plans, like rg_test (noop|test start|stop|status TYPE NAME)"),
    "config": ("hbd.cli.config_cmd", "check configuration files: hbd config check [-c PATH]"),
    "lab": ("hbd.cli.lab_cmd", "network-namespace lab: up, status, exec, fault, boot, down"),
    "membership": ("hbd.cli.membership_cmd", "debug: run the heartbeat layer alone and print membership"),
    "status": ("hbd.cli.status_cmd", "show nodes, links and resource groups of the running daemon"),
    "reload": ("hbd.cli.status_cmd", "ask the running daemon to re-read its configuration"),
    "advise": ("hbd.cli.advise_cmd", "recommend keepalive / warntime / deadtime from the measured heartbeat intervals"),
    "stop": ("hbd.cli.stop_cmd", "stop the running daemon gracefully (releases its groups), wait, report"),
    "convert": ("hbd.cli.convert_cmd", "convert haresources or cluster.conf to a Pacemaker CIB or pcs script"),
    "fence-peer": ("hbd.cli.fence_peer_cmd", "DRBD fence-peer handler: have the peer outdate its disk (drbd-peer-outdater)"),
    "fence-ack": ("hbd.cli.fence_cmd", "confirm by hand that a peer waiting to be fenced is down (fence_ack_manual)"),
    "resource": ("hbd.cli.resource_cmd", "resource cleanup [GROUP]: clear the monitor's fail counts and last failure"),
    "svc": ("hbd.cli.svc_cmd", "enable|disable|relocate|restart|freeze|unfreeze a cluster.conf service [-m NODE], "
                               "like clusvcadm; waits for the outcome"),
    "splitbrain": ("hbd.cli.splitbrain_cmd", "DRBD split brain: status, plan --keep NODE, resolve --keep NODE --yes "
                                             "(on both nodes)"),
    "run": ("hbd.cli.daemon_cmd", "run the daemon (the default when no subcommand is given)"),
    "demo": ("hbd.cli.demo_cmd", "two-node cluster in namespaces on this machine, with a failover"),
}

USAGE = """usage: hbd [-f] [--node NAME] [-c PATH]        run the daemon
       hbd SUBCOMMAND [ARGS...]                 see `hbd SUBCOMMAND --help`

subcommands:
{table}

hbd {version}
"""


def _usage() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    table = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
    return USAGE.format(table=table, version=__version__)


def dispatch(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv and argv[0] in ("-V", "--version"):
        print(f"hbd {__version__}")
        return 0
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], argv[1:]
        if name not in SUBCOMMANDS:
            print(f"hbd: unknown subcommand '{name}'\n", file=sys.stderr)
            print(_usage(), file=sys.stderr)
            return 2
        module_name, _ = SUBCOMMANDS[name]
        if name == "reload":
            rest = ["--reload", *rest]
    else:
        module_name, rest = SUBCOMMANDS["run"][0], argv
    module = importlib.import_module(module_name)
    return int(module.main(rest))


def _run(argv: list[str]) -> int:
    try:
        return dispatch(argv)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except HbdError as exc:
        print(f"hbd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def main() -> None:
    sys.exit(_run(sys.argv[1:]))


def standby_main() -> None:
    sys.exit(_handover("standby"))


def takeover_main() -> None:
    sys.exit(_handover("takeover"))


def _handover(kind: str) -> int:
    try:
        module = importlib.import_module("hbd.cli.handover_cmd")
    except ModuleNotFoundError:
        print(f"hbd-{kind}: the daemon's handover commands are not built yet", file=sys.stderr)
        return 1
    return int(module.main(kind, sys.argv[1:]))


if __name__ == "__main__":
    main()
