"""Migration shims: Heartbeat's hb_standby / hb_takeover / cl_status and rgmanager's clustat / clusvcadm as
thin aliases over hbd's own commands, for muscle memory during a migration (doc/migration.md).

They are installed in /usr/lib/hbd/compat, not on PATH: they would shadow a real Heartbeat or rgmanager
install. `export PATH=/usr/lib/hbd/compat:$PATH` to use them. Each shim either runs an hbd command
(hbd-standby / hbd-takeover, and reports what they report) or reads `hbd status` and prints it in the old
tool's words. What hbd cannot do (disable, restart in place, freeze, migrate...) is refused with the hbd
command to use instead: a shim never claims an action it did not carry out. With a cluster.conf daemon,
clustat shows its quorum and services and clusvcadm -e/-d/-r/-R/-Z/-U [-m NODE] is `hbd svc` (it waits for
the outcome; exit codes are hbd svc's: 4 accepted but not done).

Exit codes: the hbd command's own (0 done, 1 refused or failed, 3 no daemon running), 2 for arguments the
shim does not understand. Unlike Heartbeat's hb_standby / hb_takeover (which exit 0 whatever happens), the
shims wait for the handover and exit 0 only if it happened.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Union

from hbd import __version__
from hbd.cli import handover_cmd, svc_cmd
from hbd.cli.client import ask
from hbd.core.service_outcome import AdminResult, FailedBecause
from hbd.core.service_table import AdminOp
from hbd.runtime import control_messages as cm
from hbd.core.holdings import REQUEST_WORDS
from hbd.runtime.control import DEFAULT_SOCKET

USAGE = 2
FAILED = 1
STATUS_TIMEOUT_S = 10.0
SERVICE_PREFIX = "service:"


@dataclass(frozen=True)
class Handover:
    """Run `hbd-<kind> <which>` (kind: standby | takeover); `group`/`target`: what clusvcadm then checks."""

    kind: str
    which: str
    group: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Reply:
    """Print `text` and exit with `code`; nothing is run. `out`: the text is the answer (stdout) even when
    the code is not 0 (cl_status hbstatus, clustat -s); else it goes to stdout only with code 0."""

    text: str
    code: int
    out: bool = False


@dataclass(frozen=True)
class ServiceCall:
    """Run `hbd svc` for a cluster.conf service and print the outcome in clusvcadm's words."""

    request: cm.ServiceAdminRequest


Plan = Union[Handover, Reply, ServiceCall]
Status = dict[str, Any]
StatusSource = Callable[[], "Status | int"]  # the daemon's status, or the exit code when it did not answer


def fetch_status(prog: str) -> Status | int:
    answer = ask(prog, DEFAULT_SOCKET, cm.StatusRequest(), STATUS_TIMEOUT_S)
    if isinstance(answer, int):
        return answer
    if not answer.get("ok"):
        print(f"{prog}: {answer.get('error') or answer.get('text')}", file=sys.stderr)
        return FAILED
    return answer["status"]  # type: ignore[no-any-return]


# --- Heartbeat ------------------------------------------------------------------------------------


def handover_plan(kind: str, argv: list[str]) -> Plan:
    """hb_standby / hb_takeover [all|local|foreign|failback]: the same words as hbd-standby / hbd-takeover."""
    if len(argv) > 1 or (argv and argv[0] not in REQUEST_WORDS):
        return Reply(f"usage: hb_{kind} [{'|'.join(REQUEST_WORDS)}]", USAGE)
    return Handover(kind, argv[0] if argv else "all")


CL_STATUS_USAGE = ("usage: cl_status hbstatus | listnodes | nodestatus NODE | listhblinks NODE | "
                   "hblinkstatus NODE LINK | rscstatus")


CL_STATUS_FORMS = {"hbstatus": 0, "listnodes": 0, "rscstatus": 0, "nodestatus": 1, "listhblinks": 1,
                   "hblinkstatus": 2}


def cl_status_reply(argv: list[str], status: StatusSource) -> Reply:
    """cl_status in Heartbeat's words, from `hbd status`."""
    if not argv or CL_STATUS_FORMS.get(argv[0]) != len(argv) - 1:
        shown = f"'{' '.join(argv)}' is not understood here; see `hbd status --json`\n" if argv else ""
        return Reply(f"{shown}{CL_STATUS_USAGE}", USAGE)
    cmd, rest = argv[0], argv[1:]
    st = status()
    if cmd == "hbstatus":
        if isinstance(st, int):
            return Reply("Heartbeat is stopped on this machine.", st, out=True)
        return Reply("Heartbeat is running on this machine.", 0)
    if isinstance(st, int):
        return Reply("", st)
    nodes = {n["name"]: n for n in st["nodes"]}
    if cmd == "listnodes":
        return Reply("\n".join(nodes), 0)
    if cmd == "rscstatus":
        return Reply(rsc_word(st), 0)
    node = nodes.get(rest[0])
    if node is None:
        return Reply(f"cl_status: unknown node {rest[0]} (nodes: {' '.join(nodes)})", FAILED)
    if cmd == "nodestatus":
        return Reply(node["status"], 0)
    links = {k["name"]: k for k in node["links"]}
    if cmd == "listhblinks":
        return Reply("\n".join(f"\t{name}" for name in links), 0)
    link = links.get(rest[1])
    if link is None:
        return Reply(f"cl_status: no link {rest[1]} for {rest[0]} (links: {' '.join(links)})", FAILED)
    return Reply("up" if link["up"] else "dead", 0)


def rsc_word(st: Status) -> str:
    """Heartbeat's rscstatus: transition while unstable, else none / local / foreign / all held here."""
    if not st["stable"]:
        return "transition"
    held = [g for g in st["groups"] if g["owner"] == st["node"]]
    local = any(g["preferred"] == st["node"] for g in held)
    foreign = any(g["preferred"] != st["node"] for g in held)
    return "all" if local and foreign else "local" if local else "foreign" if foreign else "none"


# --- rgmanager ------------------------------------------------------------------------------------


def service_key(st: Status, name: str) -> str | None:
    """The group a clustat/clusvcadm service name means: its key, with or without `service:`."""
    bare = name[len(SERVICE_PREFIX):] if name.startswith(SERVICE_PREFIX) else name
    return next((g["key"] for g in st["groups"] if g["key"] == bare), None)


def service_state(group: dict[str, Any]) -> str:
    if group["owner"] is None:
        return "failed" if group["state"] == "failed" else "stopped"
    return {"starting": "starting", "stopping": "stopping", "failed": "failed"}.get(group["state"], "started")


def clustat_text(st: Status) -> str:
    quorate = st["quorum"]["quorate"] if "quorum" in st else st["comm_up"]
    lines = [f"Cluster Status for hbd @ {st['node']}",
             f"Member Status: {'Quorate' if quorate else 'Inquorate'}", "",
             f" {'Member Name':<39} {'ID':>4} Status", f" {'------ ----':<39} {'----':>4} ------"]
    for i, n in enumerate(st["nodes"], start=1):
        words = ["Online" if n["status"] != "dead" else "Offline"] + (["Local"] if n["local"] else [])
        if n["status"] in ("active", "up") or n["local"]:
            words.append("rgmanager")
        lines.append(f" {n['name']:<39} {i:>4} {', '.join(words)}")
    lines += ["", f" {'Service Name':<30} {'Owner (Last)':<30} State", f" {'------- ----':<30} {'----- ------':<30} -----"]
    for g in st["groups"]:
        lines.append(f" {SERVICE_PREFIX + g['key']:<30} {g['owner'] or '(none)':<30} {service_state(g)}")
    for svc in st.get("services", []):  # a cluster.conf daemon: Owner (Last) and State [Z] as the core shows them
        lines.append(f" {SERVICE_PREFIX + svc['name']:<30} {svc['shown_owner']:<30} {svc['shown_state']}")
    return "\n".join(lines)


def clustat_reply(argv: list[str], status: StatusSource) -> Reply:
    """clustat, clustat -s SERVICE (0 if starting/started/stopping), clustat -m NODE (0 if online)."""
    if argv and argv[0] not in ("-s", "-m") or argv and len(argv) != 2:
        return Reply("usage: clustat [-s SERVICE | -m NODE] (other options are not mapped; see `hbd status`)", USAGE)
    st = status()
    if isinstance(st, int):
        return Reply("Could not connect to cluster service", st)
    if not argv:
        return Reply(clustat_text(st), 0)
    if argv[0] == "-m":
        node = next((n for n in st["nodes"] if n["name"] == argv[1]), None)
        if node is None:
            return Reply(f"Member {argv[1]} not in membership list", FAILED)
        up = node["status"] != "dead"
        return Reply(f" {node['name']:<39} {'Online' if up else 'Offline'}", 0 if up else FAILED, out=True)
    if "services" in st:
        name = argv[1].removeprefix(SERVICE_PREFIX)
        svc = next((s for s in st["services"] if s["name"] == name), None)
        if svc is None:
            return Reply(f"Service {argv[1]} not found", FAILED)
        return Reply(f" {SERVICE_PREFIX + name:<30} {svc['shown_owner']:<30} {svc['shown_state']}",
                     0 if svc["state"] in ("starting", "started", "stopping") else FAILED, out=True)
    key = service_key(st, argv[1])
    if key is None:
        return Reply(f"Service {argv[1]} not found", FAILED)
    group = next(g for g in st["groups"] if g["key"] == key)
    state = service_state(group)
    return Reply(f" {SERVICE_PREFIX + key:<30} {group['owner'] or '(none)':<30} {state}",
                 0 if state in ("starting", "started", "stopping") else FAILED, out=True)


NOT_MAPPED = {
    "-d": "hbd has no disabled state: a group runs on one node or the other; to stop it on both, stop hbd on "
          "both nodes (`hbd stop`)",
    "-R": "hbd does not restart a group in place; move it with `hbd-standby` and back with `hbd-takeover`",
    "-s": "hbd does not stop a group in place; move it with `hbd-standby`, or stop hbd (`hbd stop`)",
    "-Z": "hbd does not freeze groups", "-U": "hbd does not freeze groups",
    "-M": "hbd does not migrate virtual machines", "-c": "hbd has no convalesce: see `hbd status`",
    "-l": "hbd has no resource group lock", "-u": "hbd has no resource group lock",
    "-S": "hbd has no resource group lock",
}
CLUSVCADM_USAGE = ("usage: clusvcadm -e SERVICE [-m NODE] | -r SERVICE [-m NODE] | -v; with cluster.conf also "
                   "-d | -R | -Z | -U SERVICE")


def moved_by(st: Status, kind: str, which: str) -> list[str]:
    """The groups `hbd-<kind> <which>` would move, from this node's status (words relative to this node)."""
    me, peer = st["node"], st["peer"]["node"]
    source = me if kind == "standby" else peer
    word = "foreign" if which == "failback" else which
    return [g["key"] for g in st["groups"] if g["owner"] == source
            and (word == "all" or (g["preferred"] == me) == (word == "local"))]


def move_one(st: Status, key: str, kind: str, target: str) -> Plan:
    """The narrowest hbd-standby/-takeover word that moves exactly `key`, or a refusal naming the rest."""
    for which in ("local", "foreign", "all"):
        if moved_by(st, kind, which) == [key]:
            return Handover(kind, which, key, target)
    others = [k for k in moved_by(st, kind, "all") if k != key]
    return Reply(f"clusvcadm: hbd moves groups by set (all / local / foreign), and no set holds only "
                 f"{SERVICE_PREFIX}{key}: it would also move {' '.join(others)}; use `hbd-{kind} all` "
                 f"if that is what you want", FAILED)


SERVICE_FLAGS = {"-e": AdminOp.ENABLE, "-d": AdminOp.DISABLE, "-r": AdminOp.RELOCATE, "-R": AdminOp.RESTART,
                 "-Z": AdminOp.FREEZE, "-U": AdminOp.UNFREEZE}


def service_plan(argv: list[str]) -> Plan:
    """clusvcadm on a cluster.conf daemon: the same operation of `hbd svc`."""
    op = SERVICE_FLAGS[argv[0]]
    if len(argv) == 4 and (argv[2] != "-m" or op not in (AdminOp.ENABLE, AdminOp.RELOCATE)) or len(argv) == 3:
        return Reply(CLUSVCADM_USAGE, USAGE)
    obj = {"cmd": "svc", "op": op.value, "service": argv[1].removeprefix(SERVICE_PREFIX)}
    if len(argv) == 4:
        obj["node"] = argv[3]
    try:
        request = cm.decode(obj)
    except cm.BadRequest as exc:
        return Reply(f"clusvcadm: {exc}", USAGE)
    assert isinstance(request, cm.ServiceAdminRequest)
    return ServiceCall(request)


def clusvcadm_plan(argv: list[str], status: StatusSource) -> Plan:
    if argv == ["-v"]:
        return Reply(f"clusvcadm for hbd {__version__}", 0)
    if argv and argv[0] in SERVICE_FLAGS and 2 <= len(argv) <= 4:
        st = status()  # read once: a cluster.conf daemon has services, a haresources one groups
        if isinstance(st, dict) and "services" in st:
            return service_plan(argv)
        status = lambda: st  # noqa: E731
    if argv and argv[0] in NOT_MAPPED:
        return Reply(f"clusvcadm {argv[0]}: not supported: {NOT_MAPPED[argv[0]]}", FAILED)
    if len(argv) not in (2, 4) or argv[0] not in ("-e", "-r") or len(argv) == 4 and argv[2] != "-m":
        return Reply(CLUSVCADM_USAGE, USAGE)
    op, name = argv[0], argv[1]
    st = status()
    if isinstance(st, int):
        return Reply("Could not connect to resource group manager", st)
    me, peer = st["node"], st["peer"]["node"]
    target = argv[3] if len(argv) == 4 else None
    if target is not None and target not in (me, peer):
        return Reply(f"'{target}' not in membership list", FAILED)
    key = service_key(st, name)
    if key is None:
        return Reply(f"clusvcadm: {name}: Service does not exist (groups: "
                     f"{' '.join(g['key'] for g in st['groups'])})", FAILED)
    owner = next(g["owner"] for g in st["groups"] if g["key"] == key)
    if owner is None:
        return Reply(f"clusvcadm: {SERVICE_PREFIX}{key} runs nowhere; hbd starts groups by its own placement "
                     "(preferred node, auto_failback), it cannot be enabled by hand: see `hbd status` and the log",
                     FAILED)
    if op == "-e":
        want = target or me
        if owner == want:
            return Reply(f"{SERVICE_PREFIX}{key} is already running on {owner}", 0)
        return Reply(f"clusvcadm -e: {SERVICE_PREFIX}{key} runs on {owner}; enabling does not move it: use "
                     f"clusvcadm -r {name}{f' -m {want}' if target else ''}", FAILED)
    want = target or (peer if owner == me else me)
    if owner == want:
        return Reply(f"clusvcadm -r: {SERVICE_PREFIX}{key} is already running on {owner}", FAILED)
    return move_one(st, key, "standby" if owner == me else "takeover", want)


# --- running a plan -------------------------------------------------------------------------------


def clusvcadm_words(request: cm.ServiceAdminRequest) -> str:
    """clusvcadm's line before the result (rgmanager's clusvcadm.c)."""
    name, target = SERVICE_PREFIX + request.service, request.target
    return {
        AdminOp.ENABLE: f"{f'Member {target}' if target else 'Local machine'} trying to enable {name}",
        AdminOp.DISABLE: f"Local machine disabling {name}",
        AdminOp.RELOCATE: f"Trying to relocate {name}{f' to {target}' if target else ''}",
        AdminOp.RESTART: f"Local machine trying to restart {name}",
        AdminOp.FREEZE: f"Local machine freezing {name}", AdminOp.UNFREEZE: f"Local machine unfreezing {name}",
    }[request.op]


def run_service_call(call: ServiceCall) -> int:
    request = call.request
    reply, code = svc_cmd.run(request, DEFAULT_SOCKET, "clusvcadm")
    if reply is None:
        return code
    if reply.result is AdminResult.DONE:
        print(f"{clusvcadm_words(request)}...Success")
        if request.op in (AdminOp.ENABLE, AdminOp.RELOCATE, AdminOp.RESTART) and reply.owner:
            warn = "Warning: " if request.target and reply.owner != request.target else ""
            print(f"{warn}{SERVICE_PREFIX}{request.service} is now running on {reply.owner}")
        return code
    if reply.result is AdminResult.REFUSED and reply.refusal is not None:
        result = reply.refusal.value
    elif reply.result is AdminResult.FAILED:
        result = ("Failed; service running on original owner" if reply.because is FailedBecause.ORIGINAL_OWNER
                  else "Aborted; service failed")
    else:
        result = "Failure"
    print(f"{clusvcadm_words(request)}...{result}", file=sys.stderr)
    print(f"clusvcadm: {reply.text}", file=sys.stderr)
    return code


def finish(prog: str, plan: Plan, status: Callable[[str], Status | int] = fetch_status) -> int:
    """Carry a plan out: print a reply, or run the handover; a clusvcadm move is then checked in the status."""
    if isinstance(plan, ServiceCall):
        return run_service_call(plan)
    if isinstance(plan, Reply):
        if plan.text:
            print(plan.text, file=sys.stdout if plan.code == 0 or plan.out else sys.stderr)
        return plan.code
    if plan.group is not None:
        print(f"Trying to relocate {SERVICE_PREFIX}{plan.group} to {plan.target} (hbd-{plan.kind} {plan.which})...")
    code = handover_cmd.main(plan.kind, [plan.which])
    if code != 0 or plan.group is None:
        return code
    st = status(prog)
    owner = None if isinstance(st, int) else next((g["owner"] for g in st["groups"] if g["key"] == plan.group), None)
    if owner != plan.target:
        print(f"{prog}: hbd-{plan.kind} reported success but {SERVICE_PREFIX}{plan.group} runs on "
              f"{owner or 'no node'}, not {plan.target}", file=sys.stderr)
        return FAILED
    print(f"{SERVICE_PREFIX}{plan.group} is now running on {owner}")
    return 0


def hb_standby(argv: list[str]) -> int:
    return finish("hb_standby", handover_plan("standby", argv))


def hb_takeover(argv: list[str]) -> int:
    return finish("hb_takeover", handover_plan("takeover", argv))


def cl_status(argv: list[str]) -> int:
    return finish("cl_status", cl_status_reply(argv, lambda: fetch_status("cl_status")))


def clustat(argv: list[str]) -> int:
    return finish("clustat", clustat_reply(argv, lambda: fetch_status("clustat")))


def clusvcadm(argv: list[str]) -> int:
    return finish("clusvcadm", clusvcadm_plan(argv, lambda: fetch_status("clusvcadm")))


SHIMS: dict[str, Callable[[list[str]], int]] = {
    "hb_standby": hb_standby, "hb_takeover": hb_takeover, "cl_status": cl_status, "clustat": clustat,
    "clusvcadm": clusvcadm,
}


def main(name: str) -> None:
    sys.exit(SHIMS[name](sys.argv[1:]))
