"""`hbd splitbrain`, the daemons' side: each node's DRBD facts, and the resolve plan run on both nodes.

The node the admin asks (control request `splitbrain`) gathers its own facts and asks the peer's daemon for
its own over the heartbeat media (`t=hbd_sb`, `op=facts`; the answer `t=hbd_sb_rpl` carries them as
compact JSON), plans with hbd/core/splitbrain_plan.py, and for `resolve` runs the plan's steps in order,
each on its node (`op=run`, one verb; the peer builds the drbdadm command itself, for a resource of its own
groups only). A node asked to run a victim's command checks the victim's conditions again right before it
(nothing of the resource running or mounted there), so a group started meanwhile stops the plan. The
first failing step stops it; the reply says what ran, and the DRBD states before and after.
"""
from __future__ import annotations

import asyncio
import json
import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from hbd.agents.drbddisk import check_name
from hbd.config.model import HeartbeatConfig
from hbd.core import splitbrain_plan as sp
from hbd.core.ownership_view import OwnershipView
from hbd.errors import AgentError
from hbd.runtime import drbd_status
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.drbd")
REQUEST, REPLY = "hbd_sb", "hbd_sb_rpl"
MESSAGE_TYPES = frozenset({REQUEST, REPLY})
PEER_TIMEOUT_S = 5.0  # for one answer of the peer's daemon
CONNECT_WAIT_S = 30.0  # at most this long for DRBD to be Connected again after the last step
POLL_S = 0.5
DRBDADM_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Use:
    """What of one DRBD resource the groups use: the groups, and their Filesystem (device, mount point)s."""

    groups: tuple[str, ...]
    filesystems: tuple[tuple[str, str], ...]


def uses_of(hb: HeartbeatConfig) -> dict[str, Use]:
    out: dict[str, Use] = {}
    for group in hb.groups:
        names = [r.args[0] for r in group.resources if r.agent == "drbddisk" and len(r.args) == 1]
        fss = tuple((r.args[0], r.args[1]) for r in group.resources if r.agent == "Filesystem" and len(r.args) >= 2)
        for name in names:
            old = out.get(name, Use((), ()))
            out[name] = Use(old.groups + (group.key,), old.filesystems + fss)
    return out


def mounted(filesystems: tuple[tuple[str, str], ...], mounts_text: str) -> tuple[str, ...]:
    """The mount points of these filesystems that /proc/self/mounts shows (by device or by mount point)."""
    found: list[str] = []
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        source, target = fields[0], fields[1].replace("\\040", " ")
        for device, point in filesystems:
            if (source == device or target == point.rstrip("/") or target == point) and target not in found:
                found.append(target)
    return tuple(found)


def active_groups(view: OwnershipView) -> frozenset[str]:
    """The groups held here, and the one whose start or stop runs now."""
    return view.held | ({view.busy} if view.busy is not None else frozenset())


def _read_mounts() -> str:
    return Path("/proc/self/mounts").read_text()


class SplitBrainService:
    def __init__(self, send: Callable[[tuple[tuple[str, str], ...]], None], peer_dead: Callable[[], bool],
                 me: str, peer: str, uses: Mapping[str, Use], active: Callable[[], frozenset[str]], *,
                 query: Callable[[str], dict[str, Any]] = drbd_status.query,
                 run: Callable[..., subprocess.CompletedProcess[Any]] = subprocess.run,
                 mounts: Callable[[], str] = _read_mounts):
        self.send, self.peer_dead, self.me, self.peer = send, peer_dead, me, peer
        self.uses, self.active = dict(uses), active
        self.query, self.run, self.mounts = query, run, mounts
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hbd-splitbrain")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 1

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    # --- this node's side ---------------------------------------------------------------------------

    def facts_here(self, resource: str) -> sp.Facts:
        """drbdadm's answer and what uses the resource here (in the worker: drbdadm and /proc)."""
        entry = self.query(resource)
        use = self.uses.get(resource, Use((), ()))
        try:
            mounts = mounted(use.filesystems, self.mounts())
        except OSError as exc:
            return sp.Facts(self.me, resource, error=f"cannot read the mounts: {exc}")
        running = self.active()
        return sp.Facts(self.me, resource, entry.get("role"), entry.get("disk"), entry.get("connection"), mounts,
                        tuple(g for g in use.groups if g in running), entry.get("error"))

    def run_here(self, verb: sp.Verb, resource: str) -> dict[str, Any]:
        """One step on this node: the victim's checks again first for the destructive verbs."""
        if verb.destructive:
            failed = [c for c in sp.victim_checks(self.facts_here(resource)) if not c.ok]
            if failed:
                why = "; ".join(f"{c.must}: {c.found}" for c in failed)
                return {"ok": False, "text": f"refused on {self.me}: {why}"}
        argv = list(verb.argv(resource))
        log_hb(LOG, "WARN", f"split brain of {resource}: running {' '.join(argv)}")
        try:
            done = self.run(argv, capture_output=True, text=True, timeout=DRBDADM_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"ok": False, "text": f"{' '.join(argv)}: {exc}"}
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
            return {"ok": False, "text": f"{' '.join(argv)}: {first}"}
        return {"ok": True, "text": f"{' '.join(argv)}: ok"}

    # --- the peer -----------------------------------------------------------------------------------

    async def _ask(self, fields: tuple[tuple[str, str], ...], timeout_s: float) -> dict[str, Any] | None:
        if self.peer_dead():
            return None
        assert self.loop is not None
        request_id = str(self.next_id)
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.pending[request_id] = future
        self.send((("t", REQUEST), ("hbd_id", request_id), *fields))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except asyncio.TimeoutError:
            return None
        finally:
            self.pending.pop(request_id, None)
        return future.result()

    async def facts(self, resources: list[str]) -> dict[str, dict[str, sp.Facts]]:
        """resource -> node -> facts, of both nodes (the peer's as an error when it does not answer)."""
        assert self.loop is not None
        here = await asyncio.gather(*(self.loop.run_in_executor(self.worker, self.facts_here, r) for r in resources))
        answer = await self._ask((("op", "facts"), ("rsc", ",".join(resources))), PEER_TIMEOUT_S)
        there: dict[str, sp.Facts] = {}
        for item in (answer or {}).get("facts", []):
            try:
                there[item["resource"]] = sp.Facts(**{**item, "mounted": tuple(item["mounted"]),
                                                      "groups": tuple(item["groups"]), "node": self.peer})
            except (KeyError, TypeError):
                continue
        why = "the peer is dead" if self.peer_dead() else f"no answer from {self.peer}'s daemon"
        return {r: {self.me: f, self.peer: there.get(r, sp.Facts(self.peer, r, error=why))}
                for r, f in zip(resources, here)}

    async def run_step(self, step: sp.Step) -> dict[str, Any]:
        assert self.loop is not None
        if step.node == self.me:
            return await self.loop.run_in_executor(self.worker, self.run_here, step.verb, step.resource)
        answer = await self._ask((("op", "run"), ("rsc", step.resource), ("verb", step.verb.value)),
                                 DRBDADM_TIMEOUT_S + PEER_TIMEOUT_S)
        return answer if answer is not None else {"ok": False, "text": f"{step.command}: no answer from {step.node}"}

    def received(self, fields: Mapping[str, str]) -> bool:
        """A heartbeat message of this service: handled (True), or not one (False)."""
        kind = fields.get("t")
        if kind == REPLY:
            future = self.pending.get(fields.get("hbd_id", ""))
            if future is not None and not future.done():
                try:
                    value = json.loads(fields.get("result", "{}"))
                except ValueError:
                    value = {}
                future.set_result(value if isinstance(value, dict) else {})
            return True
        if kind != REQUEST:
            return False
        assert self.loop is not None
        request_id = fields.get("hbd_id", "")
        future = self.loop.run_in_executor(self.worker, self._serve, dict(fields))

        def answer(done: "asyncio.Future[dict[str, Any]]") -> None:
            try:
                value = done.result()
            except Exception:  # a bug: answer with the failure
                LOG.exception("splitbrain request failed (bug)", extra={"hb_level": "ERROR"})
                value = {"ok": False, "text": "internal error"}
            self.send((("t", REPLY), ("hbd_id", request_id), ("result", json.dumps(value, separators=(",", ":")))))

        future.add_done_callback(answer)
        return True

    def _serve(self, fields: dict[str, str]) -> dict[str, Any]:
        """The peer's request, in the worker: only resources of this node's groups, only the plan's verbs."""
        names = fields.get("rsc", "").split(",")
        try:
            for name in names:
                check_name(name)
        except AgentError as exc:
            return {"ok": False, "text": str(exc)}
        unknown = [n for n in names if n not in self.uses]
        if unknown:
            return {"ok": False, "text": f"not a drbddisk resource of {self.me}'s groups: {', '.join(unknown)}"}
        if fields.get("op") == "facts":
            return {"ok": True, "facts": [asdict(self.facts_here(n)) for n in names]}
        if fields.get("op") == "run" and len(names) == 1:
            try:
                verb = sp.Verb(fields.get("verb", ""))
            except ValueError:
                return {"ok": False, "text": f"unknown step {fields.get('verb')!r}"}
            return self.run_here(verb, names[0])
        return {"ok": False, "text": f"unknown request {fields.get('op')!r}"}

    # --- the admin's request ------------------------------------------------------------------------

    async def request(self, op: str, resource: str, keep: str | None) -> dict[str, Any]:
        """`hbd splitbrain status|plan|resolve`: the reply (`outcome`: status, planned, nothing, done,
        refused, failed; `text`: the lines to print; `before` and, after a resolve, `after`)."""
        names = sorted(self.uses) if resource == "all" else [resource]
        if not names or any(n not in self.uses for n in names):
            known = ", ".join(sorted(self.uses)) or "none"
            return {"ok": False, "outcome": "refused",
                    "text": f"{resource}: not a drbddisk resource of the groups (known: {known})"}
        before = await self.facts(names)
        shown = _table(before)
        if op == "status" or keep is None:
            return {"ok": True, "outcome": "status", "text": "\n".join(_state_lines(before)), "before": shown}
        try:
            plans = [sp.plan(r, keep, before[r]) for r in names]
        except sp.PlanError as exc:
            return {"ok": False, "outcome": "refused", "text": str(exc), "before": shown}
        lines = [line for p in plans for line in sp.render(p)]
        ok = all(p.ok for p in plans)
        if op == "plan":
            return {"ok": ok, "outcome": "planned", "text": "\n".join(lines), "before": shown}
        if not ok:
            lines.append("refused: a check failed; nothing was changed")
            log_hb(LOG, "WARN", f"splitbrain resolve --keep {keep} {resource}: refused, a check failed")
            return {"ok": False, "outcome": "refused", "text": "\n".join(lines), "before": shown}
        todo = [p for p in plans if not p.connected]
        if not todo:
            return {"ok": True, "outcome": "nothing", "text": "\n".join(lines), "before": shown}
        log_hb(LOG, "WARN", f"splitbrain resolve: keeping {keep}'s data of {', '.join(p.resource for p in todo)}")
        ran: list[str] = []
        for step in (s for p in todo for s in p.steps):
            result = await self.run_step(step)
            ran.append(f"  {step.node}: {result.get('text', '')}")
            if not result.get("ok"):
                after = await self.facts(names)
                return {"ok": False, "outcome": "failed", "before": shown, "after": _table(after),
                        "text": "\n".join(lines + ["ran:", *ran, f"stopped: the step on {step.node} failed",
                                                    *_state_lines(after)])}
        after = await self._until_connected(names)
        connected = all(f.connection == sp.CONNECTED for r in names for f in after[r].values())
        tail = "DRBD is Connected again" if connected else f"not Connected within {CONNECT_WAIT_S:g} s"
        log_hb(LOG, "info" if connected else "WARN", f"splitbrain resolve --keep {keep}: {tail}")
        return {"ok": connected, "outcome": "done" if connected else "failed", "before": shown,
                "after": _table(after), "text": "\n".join(lines + ["ran:", *ran, tail, *_state_lines(after)])}

    async def _until_connected(self, names: list[str]) -> dict[str, dict[str, sp.Facts]]:
        assert self.loop is not None
        deadline = self.loop.time() + CONNECT_WAIT_S
        while True:
            now = await self.facts(names)
            done = all(f.connection == sp.CONNECTED and f.disk == "UpToDate" for r in names for f in now[r].values())
            if done or self.loop.time() >= deadline:
                return now
            await asyncio.sleep(POLL_S)

    def close(self) -> None:
        self.worker.shutdown(wait=False, cancel_futures=True)


def _table(facts: dict[str, dict[str, sp.Facts]]) -> list[dict[str, Any]]:
    return [{**asdict(f), "split_brain": f.connection == sp.STANDALONE} for r in facts for f in facts[r].values()]


def _state_lines(facts: dict[str, dict[str, sp.Facts]]) -> list[str]:
    lines = []
    for resource, nodes in facts.items():
        for node, f in nodes.items():
            if f.error is not None:
                lines.append(f"  {resource:<10} {node:<10} {f.error}")
                continue
            flag = "   SPLIT BRAIN (StandAlone)" if f.connection == sp.STANDALONE else ""
            use = (f"   mounted {', '.join(f.mounted)}" if f.mounted else "") + \
                  (f"   running {', '.join(f.groups)}" if f.groups else "")
            lines.append(f"  {resource:<10} {node:<10} role {f.role}, disk {f.disk}, connection {f.connection}"
                         f"{flag}{use}")
    return lines
