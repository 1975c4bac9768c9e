"""DRBD resource-level fencing over the heartbeat media (what Heartbeat's dopd did for drbd-peer-outdater).

DRBD runs its `fence-peer` handler (`hbd fence-peer`) when a Primary loses the replication link, and
before a disconnected node becomes Primary. The handler asks the local daemon (control socket), which asks
the peer's daemon over the heartbeat media (`t=hbd_outdate`) to run `drbdadm outdate RES` there; the peer
answers `t=hbd_outdate_rpl` with what it found. The handler turns the answer into DRBD's exit codes:
4 the peer's disk is now Outdated, 3 it was Inconsistent, 6 the peer is Primary (refused), 5 the peer is
dead (it cannot write: DRBD may go on), 1 no answer while the peer is alive (nothing is known).
An outdated disk stays Outdated until the replication link is back and DRBD has resynced it: DRBD itself
lifts it, so there is nothing to unfence.
"""
from __future__ import annotations

import asyncio
import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

from hbd.agents.drbddisk import check_name, parse_pair, parse_role
from hbd.errors import AgentError
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.drbd")
REQUEST, REPLY = "hbd_outdate", "hbd_outdate_rpl"
EXIT = {"outdated": 4, "inconsistent": 3, "primary": 6, "dead": 5, "failed": 1}
SAFE = frozenset({EXIT["outdated"], EXIT["inconsistent"], EXIT["dead"]})  # the peer cannot write: DRBD may go on
DRBDADM_TIMEOUT_S = 10.0
POLL_S = 0.05


def control_reply(code: int, text: str) -> dict[str, object]:
    """The control socket's answer to `hbd fence-peer` (hbd/cli/fence_peer_cmd.py exits with `code`)."""
    return {"ok": code in SAFE, "code": code, "text": text}


def outdate_here(resource: str, run: Callable[..., subprocess.CompletedProcess[Any]] = subprocess.run) -> str:
    """The peer's side: `drbdadm outdate RES`; the word to answer with."""
    def drbdadm(verb: str) -> subprocess.CompletedProcess[Any]:
        return run(["drbdadm", verb, resource], capture_output=True, text=True, timeout=DRBDADM_TIMEOUT_S,
                   check=False)
    try:
        done = drbdadm("outdate")
        if done.returncode == 0:
            return "outdated"
        role, disk = drbdadm("role"), drbdadm("dstate")
        if role.returncode == 0 and parse_role(role.stdout).local == "Primary":
            return "primary"
        if disk.returncode == 0 and parse_pair(disk.stdout).local in ("Inconsistent", "Outdated"):
            return "inconsistent" if parse_pair(disk.stdout).local == "Inconsistent" else "outdated"
    except (OSError, subprocess.TimeoutExpired, ValueError):
        pass
    return "failed"


class OutdateService:
    def __init__(self, send: Callable[[tuple[tuple[str, str], ...]], None], peer_dead: Callable[[], bool],
                 outdate: Callable[[str], str] = outdate_here):
        self.send = send
        self.peer_dead = peer_dead
        self.outdate = outdate
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hbd-outdate")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: dict[str, asyncio.Future[str]] = {}
        self.next_id = 1

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    async def ask_peer(self, resource: str, timeout_s: float) -> tuple[int, str]:
        """For `hbd fence-peer`: (DRBD's handler exit code, what happened)."""
        try:
            check_name(resource)
        except AgentError as exc:
            return EXIT["failed"], str(exc)
        if self.peer_dead():
            log_hb(LOG, "info", f"fence-peer {resource}: the peer is dead: it cannot write (exit 5)")
            return EXIT["dead"], "the peer is dead: it cannot write"
        assert self.loop is not None
        request_id = str(self.next_id)
        self.next_id += 1
        future: asyncio.Future[str] = self.loop.create_future()
        self.pending[request_id] = future
        log_hb(LOG, "info", f"fence-peer {resource}: asking the peer to outdate its disk")
        self.send(((("t", REQUEST), ("rsc", resource), ("hbd_id", request_id))))
        deadline = self.loop.time() + timeout_s
        try:
            while not future.done() and self.loop.time() < deadline and not self.peer_dead():
                await asyncio.wait([future], timeout=POLL_S)
        finally:
            self.pending.pop(request_id, None)
        if future.done():
            word = future.result()
            text = f"the peer answered: {word}"
        elif self.peer_dead():
            word, text = "dead", "the peer died while asked: it cannot write"
        else:
            word, text = "failed", f"no answer from the peer within {timeout_s:g} s"
        code = EXIT.get(word, EXIT["failed"])
        log_hb(LOG, "info" if code in SAFE else "WARN", f"fence-peer {resource}: {text} (exit {code})")
        return code, text

    def received(self, fields: Mapping[str, str]) -> bool:
        """A heartbeat message of this service: handled (True), or not one (False)."""
        kind = fields.get("t")
        if kind == REPLY:
            future = self.pending.get(fields.get("hbd_id", ""))
            if future is not None and not future.done():
                future.set_result(fields.get("result", "failed"))
            return True
        if kind != REQUEST:
            return False
        resource, request_id = fields.get("rsc", ""), fields.get("hbd_id", "")
        try:
            check_name(resource)
        except AgentError:
            log_hb(LOG, "WARN", f"outdate request for a bad resource name {resource!r}: refused")
            self.send((("t", REPLY), ("hbd_id", request_id), ("result", "failed")))
            return True
        assert self.loop is not None
        log_hb(LOG, "WARN", f"The peer asks to outdate DRBD resource {resource} (its replication link is down)")
        future = self.loop.run_in_executor(self.worker, self.outdate, resource)

        def answer(done: "asyncio.Future[str]") -> None:
            try:
                word = done.result()
            except Exception:  # a bug: answer that nothing is known
                LOG.exception("outdate of %s failed (bug)", resource, extra={"hb_level": "ERROR"})
                word = "failed"
            log_hb(LOG, "info" if word == "outdated" else "WARN", f"drbdadm outdate {resource}: {word}")
            self.send((("t", REPLY), ("hbd_id", request_id), ("result", word)))

        future.add_done_callback(answer)
        return True

    def close(self) -> None:
        self.worker.shutdown(wait=False, cancel_futures=True)
