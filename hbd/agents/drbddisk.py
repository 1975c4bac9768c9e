"""drbddisk: promote and demote one DRBD resource through `drbdadm`, with the promotion guard.

Three layers (STYLE.md): parsers of `drbdadm role|dstate|cstate|status` output (DRBD 8.4 and 9 forms),
a command builder, and the agent, which runs through the one runner. start promotes (refusing a disk
that is not UpToDate, and a peer that stays Primary), retrying as Heartbeat's drbddisk does (6 tries
1 s apart); stop demotes (3 tries); status is the local role.

The promotion guard never promotes an Outdated or Inconsistent disk, nor one whose connection is
StandAlone (dropped after a split brain, or by hand), unless the admin forces it once:
`touch /run/hbd/drbd-force-RES` (consumed by the next promotion, which then runs `drbdadm primary --force`).
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hbd.agents import runner
from hbd.agents.base import Agent, AgentResult, Deadline, failed, running, stopped, timed_out
from hbd.errors import AgentError

log = logging.getLogger("hbd.agents")

DRBDADM = "drbdadm"
ROLES = ("Primary", "Secondary", "Unknown", "Unconfigured")
PROMOTE_TRIES, DEMOTE_TRIES, RETRY_INTERVAL_S = 6, 3, 1.0
COMMAND_TIMEOUT_S = 10.0
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+-]*$")
FORCE_DIR = Path("/run/hbd")
WHY_NOT_UP_TO_DATE = {
    "Outdated": "the peer outdated it when the replication link was lost, so the peer's copy may be newer",
    "Inconsistent": "a resync to it has not finished",
}


@dataclass(frozen=True)
class Pair:
    """A `local/peer` value as drbdadm prints it; peer is None when only the local side is shown (DRBD 9)."""

    local: str
    peer: str | None = None


@dataclass(frozen=True)
class PeerStatus:
    name: str
    role: str | None
    connection: str | None  # None when connected (DRBD 9 then shows replication instead)
    replication: str | None
    disk: str | None


@dataclass(frozen=True)
class DrbdStatus:
    resource: str
    role: str
    disk: str | None
    peers: tuple[PeerStatus, ...]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def parse_pair(text: str) -> Pair:
    """`Primary/Secondary` (8.4, and `dstate` in 9) or `Primary` (9's `role`)."""
    line = _first_line(text)
    if not line:
        raise ValueError("empty drbdadm output")
    local, sep, peer = line.partition("/")
    return Pair(local, peer if sep else None)


def parse_role(text: str) -> Pair:
    pair = parse_pair(text)
    if pair.local not in ROLES:
        raise ValueError(f"unexpected role '{pair.local}'")
    return pair


def parse_cstate(text: str) -> str:
    line = _first_line(text)
    if not line or " " in line:
        raise ValueError(f"unexpected connection state '{line}'")
    return line


def parse_status(text: str) -> DrbdStatus:
    """DRBD 9 `drbdadm status RES`: `RES role:R`, `  disk:D`, `  PEER role:R` / `PEER connection:C`,
    `    replication:X peer-disk:D`."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty drbdadm status output")
    head = lines[0].split()
    fields = dict(item.split(":", 1) for item in head[1:] if ":" in item)
    if "role" not in fields:
        raise ValueError(f"no role in status header '{lines[0]}'")
    disk: str | None = None
    peers: list[dict[str, str]] = []
    for line in lines[1:]:
        indent = len(line) - len(line.lstrip(" "))
        items = line.split()
        kv = dict(item.split(":", 1) for item in items if ":" in item)
        if indent == 2 and "disk" in kv and "volume" not in kv and not peers:
            disk = kv["disk"]
        elif indent == 2 and "volume" in kv:
            disk = disk or kv.get("disk")
        elif indent == 2:
            peers.append({"name": items[0], **{k: v for k, v in kv.items()}})
        elif indent >= 4 and peers:
            peers[-1].update(kv)
    return DrbdStatus(head[0], fields["role"], disk, tuple(
        PeerStatus(p["name"], p.get("role"), p.get("connection"), p.get("replication"), p.get("peer-disk"))
        for p in peers))


def _why(res: runner.RunResult) -> str:
    """DRBD's first stderr line says why (`0: State change failed: (-1) Multiple primaries ...`); the
    last only repeats the drbdsetup command line."""
    lines = [line.strip() for line in res.stderr.splitlines() if line.strip()]
    return lines[0] if lines else res.describe()


def command(verb: str, resource: str) -> list[str]:
    """The drbdadm argv for one verb."""
    if verb == "primary --force":
        return [DRBDADM, "primary", "--force", check_name(resource)]
    if verb not in ("role", "dstate", "cstate", "status", "primary", "secondary"):
        raise AgentError(f"unsupported drbdadm verb '{verb}'")
    return [DRBDADM, verb, check_name(resource)]


def refusal(resource: str, disk: str | None, cstate: str | None, force_dir: Path = FORCE_DIR) -> str | None:
    """Why the guard refuses to promote (None: it does not); the admin's way round is named."""
    force = f"to promote it all the same: touch {force_dir}/drbd-force-{resource}"
    if disk != "UpToDate":
        why = WHY_NOT_UP_TO_DATE.get(disk or "", "only UpToDate data may be promoted")
        return f"refusing to promote {resource}: local disk is {disk}, not UpToDate ({why}); {force}"
    if cstate == "StandAlone":
        return (f"refusing to promote {resource}: its connection is StandAlone (dropped after a split brain, or "
                f"disconnected by hand): the two copies may have diverged; {force}")
    return None


def check_name(resource: str) -> str:
    if not _NAME.match(resource) or resource == "all":
        raise AgentError(f"drbddisk: '{resource}' is not a DRBD resource name (a single resource must be named)")
    return resource


class Drbddisk(Agent):
    kind = "drbddisk"

    def __init__(self, resource: str, *, promote_tries: int = PROMOTE_TRIES, demote_tries: int = DEMOTE_TRIES,
                 retry_interval_s: float = RETRY_INTERVAL_S, sleep: Callable[[float], None] = time.sleep,
                 force_dir: Path = FORCE_DIR):
        self.resource = check_name(resource)
        self.force_file = force_dir / f"drbd-force-{self.resource}"
        self.promote_tries, self.demote_tries = promote_tries, demote_tries
        self.retry_interval_s, self.sleep = retry_interval_s, sleep

    @property
    def label(self) -> str:
        return f"drbddisk::{self.resource}"

    def _run(self, verb: str, deadline: Deadline) -> runner.RunResult:
        return runner.run(command(verb, self.resource), max(0.5, min(COMMAND_TIMEOUT_S, deadline.remaining())))

    def _query(self, verb: str, parse: Callable[[str], Pair], deadline: Deadline) -> Pair | str:
        res = self._run(verb, deadline)
        if not res.ok:
            return f"{res.describe()}: {res.stderr.strip()}".rstrip(": ")
        try:
            return parse(res.stdout)
        except ValueError as exc:
            return f"drbdadm {verb} {self.resource}: {exc}"

    def status(self, deadline: Deadline) -> AgentResult:
        role = self._query("role", parse_role, deadline)
        if isinstance(role, str):
            return failed("status", f"cannot determine status: {role}")
        text = f"drbdadm role {self.resource}: {role.local}" + (f"/{role.peer}" if role.peer else "")
        if role.local == "Primary":
            return running("status", text)
        if role.local in ("Secondary", "Unconfigured"):
            return stopped("status", text)
        return failed("status", f"cannot determine status, may be running ({role.local})", text)

    def _change(self, verb: str, tries: int, deadline: Deadline, actions: list[str]) -> runner.RunResult:
        """Run `drbdadm VERB` up to `tries` times, `retry_interval_s` apart, within the deadline."""
        res = self._run(verb, deadline)
        for attempt in range(1, tries + 1):
            actions.append(f"drbdadm {verb} {self.resource} (try {attempt}/{tries}): "
                           + ("ok" if res.ok else (res.stderr.strip() or res.describe())))
            if res.ok or attempt == tries or deadline.remaining() < self.retry_interval_s:
                break
            log.warning("drbdadm %s %s refused (try %d/%d), retrying in %gs: %s", verb, self.resource, attempt,
                        tries, self.retry_interval_s, _why(res))
            self.sleep(self.retry_interval_s)
            res = self._run(verb, deadline)
        return res

    def start(self, deadline: Deadline) -> AgentResult:
        role = self._query("role", parse_role, deadline)
        if isinstance(role, str):
            return failed("start", role)
        if role.local == "Primary":
            return running("start", f"{self.resource} is already Primary: nothing to do")
        disk = self._query("dstate", parse_pair, deadline)
        if isinstance(disk, str):
            return failed("start", disk)
        conn = self._run("cstate", deadline)
        cstate = _first_line(conn.stdout) if conn.ok else None
        refused = refusal(self.resource, disk.local, cstate, self.force_file.parent)
        forced = refused is not None and self.force_file.exists()
        if refused is not None and not forced:
            return failed("start", refused)
        actions: list[str] = [f"{self.resource}: role {role.local}, disk {disk.local}, connection {cstate}"]
        if forced:
            self.force_file.unlink(missing_ok=True)  # one promotion only
            log.warning("drbddisk %s: promotion forced by %s: %s", self.resource, self.force_file, refused)
            actions.append(f"forced by {self.force_file}: {refused}")
        res = self._change("primary --force" if forced else "primary", self.promote_tries, deadline, actions)
        if res.ok:
            return running("start", *actions)
        after = self._query("role", parse_role, deadline)
        why = _why(res)
        if isinstance(after, Pair) and after.peer == "Primary":
            why = f"peer is Primary ({why})"
        if res.timed_out or deadline.expired:
            return timed_out("start", f"could not promote {self.resource}: {why}", *actions)
        return failed("start", f"could not promote {self.resource}: {why}", *actions)

    def stop(self, deadline: Deadline) -> AgentResult:
        role = self._query("role", parse_role, deadline)
        if isinstance(role, str):
            return failed("stop", role)
        if role.local != "Primary":
            return stopped("stop", f"{self.resource} is {role.local}: nothing to do")
        actions: list[str] = []
        res = self._change("secondary", self.demote_tries, deadline, actions)
        if res.ok:
            return stopped("stop", *actions)
        why = _why(res)
        return (timed_out if res.timed_out else failed)("stop", f"could not demote {self.resource}: {why}", *actions)
