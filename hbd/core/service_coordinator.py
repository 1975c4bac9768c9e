"""The coordinator: the one member of a quorate partition that computes placement and announces it (pure).

Election needs no messages: the coordinator of a membership is its member with the lowest nodeid
(Catalog.coordinator), and only a quorate node acts as one. After every membership or quorum change the
coordinator forgets what it knew and waits for a report from every member sent for that same membership;
it then adopts the newest table any member has followed (or the initial table of a cluster that never
ran), numbers its announcements above every sequence number a member has seen, and from then on
announces the table again whenever a report, a request or the clock changes it.

Safety (never two owners of a service in a quorate partition) rests on `go`: it is set for a placement only
when every member has acknowledged an announcement at least as new as that placement and reports the
service stopped everywhere else, and no departed node may still run anything (a departed node stays
suspect until it is fenced, rejoins and reports, or `grace_ms` has passed since it left: a node that
loses quorum stops every service within that bound, see service_node.py).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from hbd.core.service_admin import apply, apply_recovery
from hbd.core.service_model import Catalog, DependMode, ServiceSpec
from hbd.core.service_placement import Loads, add, choose
from hbd.core.service_states import ServiceState
from hbd.core.service_table import (
    AdminRequest, Announce, Entry, Forward, Refusal, Reply, Report, Table, initial_table,
)

RUNNING = frozenset({ServiceState.STARTED, ServiceState.FROZEN})


class Coordinator:
    def __init__(self, me: str, catalog: Catalog):
        self.me, self.catalog = me, catalog
        self.members: frozenset[str] = frozenset()
        self.reports: dict[str, Report] = {}
        self.table: dict[str, Entry] | None = None  # None until adopted for this membership
        self.seq = 0
        self.joined: frozenset[str] = frozenset()
        self.waiting: list[Forward] = []  # recovery requests that came before the table was adopted

    def reset(self, members: frozenset[str]) -> None:
        """A new membership (or quorum regained): start over from the members' reports."""
        self.members, self.reports, self.table, self.joined = members, {}, None, frozenset()
        self.waiting = []

    @property
    def ready(self) -> bool:
        return self.table is not None

    # --- inputs ----------------------------------------------------------------------------------

    def report(self, report: Report, suspects: bool) -> list[Announce]:
        if report.members != self.members or report.sender not in self.members:
            return []  # sent for another membership: a fresh one follows
        old = self.reports.get(report.sender)
        if old is not None and old.seen_seq > report.seen_seq:
            return []
        self.reports[report.sender] = report
        if self.table is None:
            if set(self.reports) != set(self.members):
                return []
            self._adopt()
            return self._announce(suspects, force=True)
        return self._announce(suspects)

    def forward(self, message: Forward, suspects: bool) -> tuple[list[Announce], Reply | None]:
        """An admin request (answered with a Reply) or a recovery request (no reply)."""
        if self.table is None:
            if isinstance(message.request, AdminRequest):
                return [], Reply(message.request_id, Refusal.NO_COORDINATOR)
            self.waiting.append(message)  # the sender holds the service back until this is applied
            return [], None
        if isinstance(message.request, AdminRequest):
            result = apply(message.request, self.catalog, self.table, self.members, self.seq + 1)
            if isinstance(result, Refusal):
                return [], Reply(message.request_id, result)
            self.table = result
            return self._announce(suspects, force=True), Reply(message.request_id, None)
        self.table = apply_recovery(message.request, message.sender, self.table)
        return self._announce(suspects, force=True), None

    def recheck(self, suspects: bool) -> list[Announce]:
        """Something outside the reports changed (a suspect cleared): announce if the table changes."""
        return self._announce(suspects) if self.table is not None else []

    # --- the table -------------------------------------------------------------------------------

    def _adopt(self) -> None:
        newest = max((r.last for r in self.reports.values() if r.last is not None),
                     key=lambda a: (a.seq, -self.catalog.nodeid(a.sender)), default=None)
        base: Table = newest.table if newest is not None else initial_table(self.catalog)
        self.seq = max([self.seq] + [r.seen_seq for r in self.reports.values()])
        self.joined = self.members - (newest.members if newest is not None else frozenset())
        fresh = initial_table(self.catalog)
        # every placement counts as new: nobody may start anything before acknowledging this coordinator
        table: Table = {name: replace(base.get(name, fresh[name]), since=self.seq + 1, go=False)
                        for name in self.catalog.names}
        for message in self.waiting:
            if not isinstance(message.request, AdminRequest) and message.sender in self.members:
                table = apply_recovery(message.request, message.sender, table)
        self.table, self.waiting = dict(table), []

    def _announce(self, suspects: bool, force: bool = False) -> list[Announce]:
        assert self.table is not None
        new = self._computed(self.table, suspects)
        self.joined = frozenset()  # failback is a decision of the first table after a join
        if new == self.table and not force:
            return []
        self.seq += 1
        self.table = new
        return [Announce(self.me, self.seq, self.members, dict(new))]

    def holders(self, name: str) -> frozenset[str]:
        """The members whose report shows `service` held (empty until every member has reported)."""
        if self.table is None:
            return frozenset()
        return frozenset(m for m, _ in self._holding().get(name, []))

    def _holding(self) -> dict[str, list[tuple[str, ServiceState]]]:
        """Per service, the members that hold it and their state, by nodeid."""
        out: dict[str, list[tuple[str, ServiceState]]] = {name: [] for name in self.catalog.names}
        for member in sorted(self.members, key=self.catalog.nodeid):
            for name, state in self.reports[member].local.items():
                if state.held and name in out:
                    out[name].append((member, state))
        return out

    def _computed(self, table: Table, suspects: bool) -> dict[str, Entry]:
        loads = Loads({}, frozenset())
        out: dict[str, Entry] = {}
        holding = self._holding()
        acked = min(r.seen_seq for r in self.reports.values())
        for spec in self.catalog.services:
            holders = holding[spec.name]
            entry = table[spec.name]
            # owner, last owner and shown state from the reports
            owner, state = holders[0] if holders else (None, ServiceState.STOPPED)
            if owner is None:
                state = ServiceState.STOPPED if entry.enabled else ServiceState.DISABLED
            last = entry.owner if entry.owner is not None and entry.owner != owner else entry.last_owner
            placement = self._placement(spec, entry, owner, loads, holding)
            loads = add(loads, spec, placement)
            since = entry.since if placement == entry.placement else self.seq + 1
            # go: every member acknowledged the placement and none but it holds the service
            go = placement is not None and not suspects and acked >= since and all(
                m == placement for m, _ in holders)
            avoid = entry.avoid
            if owner is not None and owner not in avoid and state is ServiceState.STARTED:
                avoid = frozenset()  # it runs elsewhere now: the relocation is done
            out[spec.name] = Entry(entry.enabled, entry.frozen, placement, go, since, entry.generation, avoid,
                                   owner, last, state, None if entry.enabled else entry.disabled_by)
        return out

    def _placement(self, spec: ServiceSpec, entry: Entry, owner: str | None, loads: Loads,
                   holding: Mapping[str, list[tuple[str, ServiceState]]]) -> str | None:
        if not entry.enabled:
            return None
        failed = [m for m, s in holding[spec.name] if s is ServiceState.FAILED]
        if failed:
            return failed[0]  # a failed service stays where it failed until an admin disables it
        current = entry.placement if entry.placement in self.members else owner
        if entry.frozen:
            return current
        if spec.depend is not None and not any(s in RUNNING for _, s in holding.get(spec.depend, [])):
            hard = spec.depend_mode is DependMode.HARD
            return None if hard or owner is None else current
        return choose(spec, self.catalog, self.members, current, self.joined, entry.avoid, loads)

    def view(self) -> Mapping[str, Entry] | None:
        return self.table
