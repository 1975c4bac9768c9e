"""`drbdadm` emulator of the lab: DRBD 8.4 commands, outputs and exit codes over the shared lab state.

Installed into each lab's bin directory (first on PATH in every node). The node is the hostname, the
resources come from /etc/drbd.d/*.res of the node, the network from the lab's lab.json.
"""
from __future__ import annotations

import json
import os
import re
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hbd.lab import drbd_device, drbd_images
from hbd.lab import drbd_format as fmt
from hbd.lab import drbd_state as st
from hbd.lab.layout import base_dir

EXIT_FAILURE, EXIT_STATE, EXIT_NO_UPTODATE, EXIT_USAGE = 10, 11, 17, 20
CONFIG_DIR = Path("/etc/drbd.d")
FORCE_OPTIONS = {"--overwrite-data-of-peer", "--force", "-o"}
COMMANDS = ("role", "state", "cstate", "dstate", "status", "primary", "secondary", "connect", "disconnect",
            "up", "down", "adjust", "create-md", "outdate", "fence-peer")
RESOURCE_RE = re.compile(r"resource\s+(\S+)\s*\{")
DEVICE_RE = re.compile(r"device\s+(\S+)\s+minor\s+(\d+)\s*;")


@dataclass
class Outcome:
    rc: int = 0
    out: str = ""
    err: str = ""


@dataclass(frozen=True)
class Facts:
    """What the emulator reads from the node and the lab before acting."""

    node: str
    link_ok: bool
    written_kb: int | None
    in_use: str | None  # "mounted" / "open" / None


def parse_args(argv: list[str]) -> tuple[set[str], str | None, list[str]]:
    """`drbdadm [-- --opt ...] CMD [--opt] RES...` -> (options, command, resources)."""
    options = {a for a in argv if a.startswith("-") and a != "--"}
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return options, None, []
    return options, words[0], words[1:]


def configured_resources() -> dict[str, int]:
    """Resource name -> minor, from the node's /etc/drbd.d/*.res."""
    found: dict[str, int] = {}
    for path in sorted(CONFIG_DIR.glob("*.res")):
        text = path.read_text()
        for match in RESOURCE_RE.finditer(text):
            dev = DEVICE_RE.search(text, match.end())
            found[match.group(1)] = int(dev.group(2)) if dev else 0
    return found


def view_of(res: st.ResourceState, node: str, minor: int, link_ok: bool) -> fmt.ResourceView:
    me, peer_name = res.nodes[node], res.peer(node)
    peer = res.nodes[peer_name]
    cs = st.cstate(res, node, link_ok)
    connected = cs == st.CONNECTED
    return fmt.ResourceView(
        res.name, minor, me.role, me.disk,
        fmt.PeerView(peer_name, cs, peer.role if connected else "Unknown",
                     peer.disk if connected else (me.peer_disk or "DUnknown"),
                     me.changes_kb),
    )


def _failure(minor: int, code: int, text: str, cmd: str) -> Outcome:
    return Outcome(EXIT_FAILURE, err=f"{minor}: Failure: ({code}) {text}\n"
                   f"Command 'drbdsetup {cmd} {minor}' terminated with exit code {EXIT_FAILURE}\n")


def _state_failed(minor: int, code: int, text: str, cmd: str, rc: int = EXIT_STATE) -> Outcome:
    return Outcome(rc, err=f"{minor}: State change failed: ({code}) {text}\n"
                   f"Command 'drbdsetup {cmd} {minor}' terminated with exit code {rc}\n")


def apply(res: st.ResourceState, minor: int, command: str, options: set[str], facts: Facts) -> tuple[Outcome, list[str]]:
    """One command on one resource as seen from facts.node; returns the outcome and state-change log."""
    node = facts.node
    me = res.nodes[node]
    if command == "state":  # 8.x's older name of `role`
        command = "role"
    if command == "create-md":
        # The lab's disk already has its metadata and filesystem; real drbdadm would ask before overwriting.
        return Outcome(out="New drbd meta data block successfully created.\n"), []
    view = view_of(res, node, minor, facts.link_ok)
    if command == "up":
        if me.configured:
            return _failure(minor, 161, "Minor or volume exists already (delete it first)", "new-minor"), []
        me.configured, me.role, me.standalone = True, "Secondary", False
        return Outcome(), ["up: disk( Diskless -> UpToDate )"]
    if command == "adjust":
        log = []
        if not me.configured:
            me.configured, me.role, me.standalone = True, "Secondary", False
            log.append("adjust: attached")
        if me.standalone:
            me.standalone = False
            log.append("adjust: connecting")
        return Outcome(), log
    if command == "down" and not me.configured:
        return Outcome(), []
    if command == "status" and not me.configured:
        return Outcome(EXIT_FAILURE, err=f"{res.name}: No such resource\n"), []
    if not me.configured:
        return _failure(minor, 127, "Device minor not allocated\nadditional info from kernel:\nunknown minor",
                        command), []
    if command == "outdate":  # what a peer's fence-peer handler asks for (dopd, hbd fence-peer)
        if me.disk in ("Outdated", "Inconsistent"):
            return Outcome(), []
        if view.peer.connection == st.CONNECTED:
            return _state_failed(minor, -5, "Refusing to be Outdated while Connected", "outdate"), []
        if me.role == "Primary":
            return _state_failed(minor, -2, "Need access to UpToDate data", "outdate", EXIT_NO_UPTODATE), []
        me.disk = "Outdated"
        return Outcome(), ["disk( UpToDate -> Outdated )"]
    if command == "role":
        return Outcome(out=fmt.render_role(view) + "\n"), []
    if command == "cstate":
        return Outcome(out=fmt.render_cstate(view) + "\n"), []
    if command == "dstate":
        return Outcome(out=fmt.render_dstate(view) + "\n"), []
    if command == "status":
        return Outcome(out=fmt.render_status(view, statistics="--statistics" in options or "-s" in options)), []
    if command == "primary":
        if view.peer.connection == st.CONNECTED and view.peer.role == "Primary":
            return _state_failed(minor, -1, "Multiple primaries not allowed by config", "primary"), []
        forced = bool(options & FORCE_OPTIONS)
        if me.disk != "UpToDate" and not forced:
            return _state_failed(minor, -2, "Need access to UpToDate data", "primary", EXIT_NO_UPTODATE), []
        log = [f"role( {me.role} -> Primary )"] if me.role != "Primary" else []
        if forced:
            me.disk = "UpToDate"
            log.append("forced Primary: this side's data is declared UpToDate (--overwrite-data-of-peer)")
        me.role = "Primary"
        return Outcome(), log
    if command in ("secondary", "down"):
        if facts.in_use is not None:
            return _state_failed(minor, -12, "Device is held open by someone\nadditional info from kernel:\n"
                                 "failed to demote", command), []
        log = [f"role( {me.role} -> Secondary )"] if me.role != "Secondary" else []
        me.role = "Secondary"
        if command == "down":
            me.configured, me.standalone = False, False
            log.append("down: disk( UpToDate -> Diskless )")
        return Outcome(), log
    if command == "connect":
        if not me.standalone:
            return _failure(minor, 102, "Local address(port) already in use.", "connect"), []
        me.standalone = False
        me.discard_my_data = "--discard-my-data" in options
        return Outcome(), ["connect" + (" --discard-my-data" if me.discard_my_data else "")]
    if command == "disconnect":
        was = me.standalone
        me.standalone, me.discard_my_data = True, False
        return Outcome(), [] if was else ["disconnect"]
    raise AssertionError(command)


def gather_facts(node: str, minor_device: str = "/dev/drbd0") -> Facts:
    lab_state = _lab_state()
    repl = int(lab_state.get("media", 1)) - 1
    cuts = lab_state.get("cuts", {})
    peers = lab_state.get("nodes", [])[:2]
    link_ok = not any(f"{n}:{repl}" in cuts for n in peers)
    return Facts(node, link_ok, _written_kb(drbd_images.lab_images(lab_state)), _in_use(minor_device))


def _lab_state() -> dict[str, Any]:
    name = os.environ.get("HBD_LAB")
    if not name:
        raise SystemExit("drbdadm (lab emulator): HBD_LAB is not set; run it through the lab")
    state: dict[str, Any] = json.loads((base_dir() / name / "lab.json").read_text())
    return state


def _written_kb(loops: list[str]) -> int | None:
    """KB written to the lab's data images (all of them: each side's writes count while apart)."""
    if not loops:
        return None
    total = 0
    for loop in loops:
        try:
            fields = Path(f"/sys/block/{Path(loop).name}/stat").read_text().split()
        except OSError:
            return None
        total += int(fields[6]) // 2  # sectors written
    return total


def _in_use(device: str) -> str | None:
    """'mounted' or 'open' when the device is in use in this node's mount namespace."""
    try:
        rdev = os.stat(device).st_rdev
    except FileNotFoundError:
        return None
    if drbd_device.is_unavailable(device):
        return None  # Secondary: nothing can hold it
    dev_id = f"{os.major(rdev)}:{os.minor(rdev)}"
    with open("/proc/self/mountinfo") as fh:
        if any(line.split()[2] == dev_id for line in fh):
            return "mounted"
    own_ns = os.readlink("/proc/self/ns/mnt")
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        try:
            if os.readlink(proc / "ns" / "mnt") != own_ns:
                continue
            for fd in (proc / "fd").iterdir():
                st_fd = os.stat(fd)
                if stat.S_ISBLK(st_fd.st_mode) and st_fd.st_rdev == rdev:
                    return "open"
        except OSError:
            continue
    return None


def run_command(command: str, options: set[str], resources: list[str], directory: Path, facts: Facts,
                lab_state: dict[str, Any] | None = None) -> Outcome:
    lab_state = lab_state or {}
    known = configured_resources()
    names = sorted(known) if resources in ([], ["all"]) else resources
    total = Outcome()
    for name in names:
        if name not in known:
            total.err += f"'{name}' not defined in your config (for this host).\n"
            total.rc = total.rc or EXIT_FAILURE
            continue
        store = st.ResourceStore(directory, name)
        with store.locked() as res:
            if facts.node not in res.nodes:
                total.err += f"'{name}' not defined in your config (for this host).\n"
                total.rc = total.rc or EXIT_FAILURE
                continue
            store.log(facts.node, st.settle(res, facts.link_ok, facts.written_kb))
            outcome, log = apply(res, known[name], command, options, facts)
            if command == "primary" and outcome.rc == 0:
                log += drbd_images.fork_if_diverged(res, facts.node, facts.link_ok, lab_state)
            store.log(facts.node, [f"drbdadm {' '.join(sorted(options))} {command}".replace("  ", " ")] + log
                      if log else [])
            store.log(facts.node, st.settle(res, facts.link_ok, facts.written_kb))
            me = res.nodes[facts.node]
            drbd_device.follow_role(f"/dev/drbd{known[name]}", me.configured and me.role == "Primary",
                                    res.images.get(facts.node) or lab_state.get("loop"))
        total.out += outcome.out
        total.err += outcome.err
        total.rc = total.rc or outcome.rc
    return total


def _fence_peer_call_out(command: str, options: set[str], resources: list[str], directory: Path,
                         facts: Facts) -> Outcome | None:
    from hbd.lab import drbd_fence_peer

    known = configured_resources()
    names = sorted(known) if resources in ([], ["all"]) else [r for r in resources if r in known]
    for name in names:
        if command == "fence-peer":
            return Outcome(drbd_fence_peer.fence_peer(name, known[name], directory, facts, CONFIG_DIR))
        refused = drbd_fence_peer.before_primary(name, known[name], options, directory, facts, CONFIG_DIR)
        if refused is not None:
            return refused
    return None


def main(argv: list[str]) -> int:
    options, command, resources = parse_args(argv)
    if command is None or command not in COMMANDS:
        print(f"drbdadm: Unknown command '{command or ''}'\nUSAGE: drbdadm [-- OPTIONS] COMMAND {{all|RESOURCE...}}\n"
              f"commands of the lab emulator: {' '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    if command not in ("status",) and not resources:
        print(f"drbdadm {command}: missing resource name (or 'all')", file=sys.stderr)
        return EXIT_USAGE
    name = os.environ.get("HBD_LAB", "")
    facts = gather_facts(socket.gethostname())
    if command in ("fence-peer", "primary"):  # DRBD's resource-level fencing call-out (drbd_fence_peer.py)
        early = _fence_peer_call_out(command, options, resources, base_dir() / name / "drbd", facts)
        if early is not None:
            sys.stderr.write(early.err)
            return early.rc
    outcome = run_command(command, options, resources, base_dir() / name / "drbd", facts, _lab_state())
    sys.stdout.write(outcome.out)
    sys.stderr.write(outcome.err)
    return outcome.rc
