"""DRBD split brain as hbd sees it: what drbdadm's output says, and a watch that logs and alerts on it.

DRBD tells a split brain only in the kernel log (8.4: `block drbd0: Split-Brain detected but unresolved,
dropping connection!`; 9 names the connection instead of the minor). What drbdadm shows afterwards is the
connection state it leaves behind: StandAlone (8.4 `drbdadm cstate`, /proc/drbd `cs:StandAlone`; 9 the
same word from `cstate` and `PEER connection:StandAlone` in `drbdadm status`). StandAlone is also what an
admin's `drbdadm disconnect` leaves, and drbdadm cannot tell the two apart, so hbd treats every StandAlone
connection as an unresolved split brain: shown in `hbd status`, logged CRIT with an alert once per
episode, and the promotion guard refuses such a disk (hbd/agents/drbddisk.py `refusal`) unless forced with
`touch /run/hbd/drbd-force-RES`. Connected again (after `hbd splitbrain resolve`, or by hand) ends it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from hbd.agents.drbddisk import parse_status
from hbd.runtime.alerts import Alert
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.drbd")
STANDALONE = "StandAlone"
# After the peer returns DRBD reconnects within its connect-int (10 s by default) and finds the split brain
# then: look every BURST_INTERVAL_S for BURST_S; otherwise once every SLOW_INTERVAL_S.
BURST_INTERVAL_S, BURST_S, SLOW_INTERVAL_S = 2.0, 40.0, 60.0


def is_split_brain(connection: str | None) -> bool:
    """A connection state drbdadm printed: StandAlone means the copies may have diverged."""
    return connection == STANDALONE


def standalone_peers(status_text: str) -> tuple[str, ...]:
    """DRBD 9 `drbdadm status RES`: the peers whose connection is StandAlone."""
    status = parse_status(status_text)
    return tuple(p.name for p in status.peers if is_split_brain(p.connection))


def warning(resource: str) -> str:
    """The text of `hbd status`, the log and the alert."""
    return (f"DRBD resource {resource}: connection StandAlone: split brain unresolved (or disconnected by "
            f"hand); it is not promoted here unless forced; see hbd splitbrain plan {resource}")


class SplitBrainWatch:
    """Looks at each resource's connection state off the loop; logs and alerts when one turns StandAlone."""

    def __init__(self, resources: tuple[str, ...], query: Callable[[str], dict[str, Any]],
                 alert: Callable[[Alert], None], me: str):
        self.resources, self.query, self.alert, self.me = resources, query, alert, me
        self.standalone: set[str] = set()
        self.burst_until = 0.0
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.resources:
            self.task = loop.create_task(self._run())

    def peer_back(self) -> None:
        """The peer came back (after a partition, or a restart): DRBD will reconnect, or find a split brain."""
        if self.task is not None:
            self.burst_until = asyncio.get_running_loop().time() + BURST_S
            self.wake.set()

    def seen(self, entries: list[dict[str, Any]]) -> None:
        """What a query found (the watch's own, or `hbd status`'s): log and alert on changes."""
        for entry in entries:
            resource, connection = entry.get("resource", ""), entry.get("connection")
            if connection is None:
                continue
            if is_split_brain(connection) and resource not in self.standalone:
                self.standalone.add(resource)
                log_hb(LOG, "CRIT", warning(resource))
                self.alert(Alert("split_brain", "drbd_standalone", self.me, desc=warning(resource), rc=1))
            elif not is_split_brain(connection) and resource in self.standalone:
                self.standalone.discard(resource)
                log_hb(LOG, "info", f"DRBD resource {resource}: connection {connection}: no longer StandAlone")
                self.alert(Alert("split_brain", "drbd_connected", self.me,
                                 desc=f"DRBD resource {resource}: connection {connection}"))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            entries = await asyncio.gather(*(loop.run_in_executor(None, self.query, r) for r in self.resources))
            self.seen(list(entries))
            interval = BURST_INTERVAL_S if loop.time() < self.burst_until else SLOW_INTERVAL_S
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), interval)
            except asyncio.TimeoutError:
                pass

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
