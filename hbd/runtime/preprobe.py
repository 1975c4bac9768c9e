"""The duplicate-address check done before the peer is declared dead, so that the takeover need not wait.

IPaddr2 listens 200 ms for an ARP answer before it adds a VIP: that is what keeps a survivor from
starting the VIP of a node whose daemon was killed (kill -9) while its kernel still answers. Done after
the death verdict it adds 200 ms to every takeover. Here the same question is asked earlier: when the
peer has been silent for deadtime - window - lead, each VIP of the groups it holds is probed for `window`
seconds, ending `lead` before the verdict. At the verdict, a group whose VIPs all stayed silent during a
fresh, whole window is started without probing again; any answer, or no fresh verdict, keeps the probe.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from hbd.agents import arp
from hbd.config.model import ResourceNode
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.preprobe")
IP_AGENTS = ("IPaddr2", "IPaddr")
WINDOW_S = 0.2  # as long as IPaddr2's own probe
LEAD_S = 0.08  # the window ends this long before the expected verdict (thread start, scheduling)
FRESH_S = 0.5  # a verdict older than this at the takeover is not used


@dataclass(frozen=True)
class Target:
    iface: str
    mac: str
    ip: str


@dataclass(frozen=True)
class Verdict:
    began: float
    ended: float
    answered_by: str | None


def locate(node: ResourceNode) -> Target | None:
    """Interface, our MAC and the address of an IPaddr2 resource (None when it cannot be placed here)."""
    from pyroute2 import IPRoute

    from hbd.agents.ipaddr2 import IPaddr2
    from hbd.agents.registry import Registry

    agent = Registry(background_burst=False).resolve(node)
    if not isinstance(agent, IPaddr2) or agent.spec.family != 4:
        return None
    with IPRoute() as ipr:
        place = agent.resolve(ipr)
        if isinstance(place, str):
            return None
        mac = str(ipr.get_links(place.index)[0].get_attr("IFLA_ADDRESS"))
    return Target(place.iface, mac, str(agent.spec.address))


def vip_nodes(root: ResourceNode) -> tuple[ResourceNode, ...]:
    found: list[ResourceNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in IP_AGENTS and node.attr("args") is not None:
            found.append(node)
        stack.extend(node.children)
    return tuple(found)


class PreProbe:
    def __init__(self, roots: Mapping[str, ResourceNode], *, window_s: float = WINDOW_S, lead_s: float = LEAD_S,
                 probe: Callable[[str, str, str, float], str | None] = arp.probe,
                 locate: Callable[[ResourceNode], Target | None] = locate,
                 clock: Callable[[], float] = time.monotonic):
        self.vips = {key: vip_nodes(root) for key, root in roots.items()}
        self.window_s, self.lead_s = window_s, lead_s
        self.probe, self.locate, self.clock = probe, locate, clock
        self.verdicts: dict[str, Verdict] = {}  # by resource (the node's primary, e.g. IPaddr2::192.0.2.50)
        self.targets: dict[str, Target] = {}  # located once: the probe must start on time
        self._lock = threading.Lock()
        self._busy = False

    def prepare(self) -> None:
        """Locate every VIP (interface, MAC) ahead of need; a VIP not located yet is located when probed."""
        for nodes in self.vips.values():
            for node in nodes:
                self._target(node)

    def _target(self, node: ResourceNode) -> Target | None:
        with self._lock:
            known = self.targets.get(node.primary)
        if known is not None:
            return known
        try:
            found = self.locate(node)
        except (OSError, ValueError) as exc:
            log_hb(LOG, "debug", f"cannot locate {node.primary} for the pre-probe: {exc}")
            return None
        if found is not None:
            with self._lock:
                self.targets[node.primary] = found
        return found

    def due(self, silent_s: float, deadtime_s: float) -> bool:
        return silent_s >= deadtime_s - self.window_s - self.lead_s

    def maybe_start(self, silent_s: float, deadtime_s: float, peer_holds: frozenset[str]) -> bool:
        """Called often while the peer is alive; starts one round of probes when the verdict is near."""
        nodes = [n for key in sorted(peer_holds) for n in self.vips.get(key, ())]
        if not nodes or not self.due(silent_s, deadtime_s):
            return False
        with self._lock:
            if self._busy:
                return False
            self._busy = True
        log_hb(LOG, "debug", f"peer silent for {silent_s:.3f} s of {deadtime_s:.3f} s: probing "
                             f"{' '.join(n.primary for n in nodes)} for {self.window_s:g} s")
        threading.Thread(target=self._round, args=(nodes,), name="hbd-preprobe", daemon=True).start()
        return True

    def _round(self, nodes: list[ResourceNode]) -> None:
        try:
            threads = [threading.Thread(target=self._one, args=(n,), daemon=True) for n in nodes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(self.window_s * 5 + 1)
        finally:
            with self._lock:
                self._busy = False

    def _one(self, node: ResourceNode) -> None:
        target = self._target(node)
        if target is None:
            return
        try:
            began = self.clock()
            owner = self.probe(target.iface, target.mac, target.ip, self.window_s)
            verdict = Verdict(began, self.clock(), owner)
        except OSError as exc:  # the interface went away, say: locate it again next time
            log_hb(LOG, "debug", f"pre-probe of {node.primary} failed: {exc}")
            with self._lock:
                self.targets.pop(node.primary, None)
            return
        with self._lock:
            self.verdicts[node.primary] = verdict
        if owner:
            log_hb(LOG, "info", f"{target.ip} still answers from {owner}: a takeover will probe again")

    def clear(self, key: str) -> bool:
        """Whether every VIP of the group stayed silent during a fresh, whole window."""
        nodes = self.vips.get(key, ())
        if not nodes:
            return False
        now = self.clock()
        with self._lock:
            verdicts = [self.verdicts.get(n.primary) for n in nodes]
        log_hb(LOG, "debug", f"pre-probe verdicts for {key} at {now:.3f}: {verdicts}")
        return all(v is not None and v.answered_by is None and v.ended - v.began >= self.window_s * 0.95
                   and now - v.ended <= FRESH_S for v in verdicts)
