"""The invariants of doc/architecture.md, checked by tests/sim/node_world.py on every step of a history.

Each check reads the world's ground truth (what runs where, who is up, what is connected, which packets
arrived when) and the cores' membership verdicts, never the composed core's own flags, and records what
breaks in `violations`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hbd.config.model import Timing
from hbd.core.pre_probe import probe_timing

if TYPE_CHECKING:
    from node_world import NodeWorld

TIMING = Timing(keepalive_ms=500, deadtime_ms=1000, warntime_ms=750, initdead_ms=2000)


class Invariants:
    def check_start(self: "NodeWorld", name: str, key: str) -> None:
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        core = node.core
        assert core is not None
        pv = core.ownership.peer_view
        if key in node.actual:
            self.fail(f"{name} starts {key} which already runs there")
        peer_holds = peer.core is not None and key in peer.core.ownership_view().held
        # judged by membership's verdict (and the ground truth), not by the composed core's own flags
        dead_to_us = core.membership.nodes[peer.name].status == "dead"
        if self.connected() and not dead_to_us and not pv.gave_up and peer_holds:
            self.fail(f"{name} starts {key} while the live, connected peer {peer.name} holds it")
        if self.opts.fencing and dead_to_us and not pv.gave_up and not pv.fenced and peer.core is not None:
            self.fail(f"{name} takes {key} over from {peer.name}, dead to it but unfenced")

    def check_running_once(self: "NodeWorld", name: str, key: str) -> None:
        peer = self.nodes[self.other(name)]
        if key in peer.actual and (self.opts.fencing or not self.split_possible):
            self.fail(f"{key} runs on both nodes (no split brain was possible in this run)")

    def check_detection(self: "NodeWorld", name: str) -> None:
        """A silent peer is declared dead at its advertised deadtime; no live peer below the loss limit."""
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        assert node.core is not None
        last = self.last_rx.get((name, peer.name))
        if last is None or last < node.up_since:
            return
        dt = self.peer_dt.get((name, peer.name), (0, 0, TIMING.deadtime_ms))[2]
        if self.opts.loss or self.opts.reorder:
            # Membership takes the peer's dt from an in-order status only: after a lost or overtaken packet
            # it may judge a just-restarted peer by its own deadtime instead of the advertised start-up one.
            held = node.core.membership.nodes[peer.name].dt_s
            dt = round(held * 1000) if held is not None else TIMING.deadtime_ms
        if not node.core.membership.comm_up:
            dt = max(dt, TIMING.initdead_ms)
        expected = last + dt
        # exact to the ms; with reordering, a packet overtaken by a newer one may not count as the last sign
        # of life (membership's rule), so up to the media's delay spread early: within Heartbeat's 250 ms check
        early = 1 + (self.faults[0].delay[1] if self.opts.reorder else 0)
        if not expected - early <= self.now <= expected + 2:
            self.fail(f"{name} declares {peer.name} dead at {self.now}, its deadtime {dt} ms after its last packet "
                      f"at {last} would be {expected}")
        live = (peer.core is not None and self.connected() and self.now - max(peer.up_since, self.connectivity_changed) > dt
                and not peer.nic_cut)
        if live and self.opts.loss == 0:
            self.fail(f"{name} declares the live, connected {peer.name} dead")

    def check_probe_timing(self: "NodeWorld", name: str, window_ms: int, lead_ms: int) -> None:
        """The pre-probe round starts once the peer has been silent for deadtime - window - lead."""
        peer = self.other(name)
        last = self.last_rx.get((name, peer))
        core = self.nodes[name].core
        assert core is not None
        seen = core.membership.nodes[peer].dt_s  # the deadtime this node judges the peer by
        dt = round(seen * 1000) if seen is not None else TIMING.deadtime_ms
        expected = probe_timing(dt)
        if (window_ms, lead_ms) != (expected.window_ms, expected.lead_ms):
            self.fail(f"{name}: pre-probe window {window_ms}/{lead_ms} ms for a deadtime of {dt} ms")
        if last is not None and self.now < last + dt - window_ms - lead_ms - 1:
            self.fail(f"{name}: pre-probe at {self.now}, before the peer's silence {last} reached its start")

    def check_converged(self) -> bool:
        """After the quiet period, with both daemons up and connected, exactly one node holds each group."""
        if not all(node.core is not None for node in self.nodes.values()) or not self.connected():
            return False
        if self.now - self.quiet_since < self.opts.quiet_ms:
            return False
        for key in self.topology.keys:
            holders = [name for name, node in self.nodes.items()
                       if node.core is not None and key in node.core.ownership_view().held]
            running = [name for name, node in self.nodes.items() if key in node.actual]
            if len(holders) != 1 or running != holders:
                self.fail(f"after the quiet period {key} is held by {holders or 'nobody'}, runs on {running or 'nobody'}")
        return True
