"""The duplicate-address check done before the peer is declared dead, so that the takeover need not wait.

IPaddr2 listens for an ARP answer before it adds a VIP: that is what keeps a survivor from starting the
VIP of a node whose daemon was killed (kill -9) while its kernel still answers. Done after the death
verdict it adds its whole listening time to every takeover. Here the same question is asked earlier, in a
window scaled to the peer's deadtime (hbd/core/pre_probe.py): when the peer has been silent for deadtime - window -
lead, each VIP of the groups it holds is probed (several probe frames, so one lost frame is not a silent
window) for `window` seconds, ending `lead` before the verdict. A kernel that holds the address answers a
probe within a millisecond, so a window of a fifth of the deadtime (5 ms at least, IPaddr2's 200 ms at
most) still hears it. At the verdict, a group whose VIPs all stayed silent during a fresh, whole window is
started without probing again; any answer, or no fresh verdict, keeps the probe. That decision is the node
core's (hbd/core/pre_probe.py): each round's outcome goes back to it as one `PreProbeVerdict` per group.

Which resources claim addresses, and where, is each agent's own answer (`Agent.claims_addresses`,
`Agent.claimed_addresses`: IPaddr2 locates its interface and MAC); nothing here knows an agent by name.
When a round starts is a deadline of the node core (hbd/core/node.py: `ProbeNow`, computed from the peer's
last packet, never a poll); this module only carries the round out, in a prober thread started with the
daemon, and reports what it heard (`on_verdicts`, from the prober thread).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from hbd.agents import arp
from hbd.agents.base import Agent
from hbd.agents.registry import Registry
from hbd.config.model import ResourceNode
from hbd.core.node_events import PreProbeVerdict
from hbd.errors import AgentError
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.preprobe")
# The window ends a lead before the verdict (hbd.core.pre_probe.probe_timing): the round's own start (a wake-up,
# a thread), the GIL and the scheduler may delay it by 10 ms on a busy machine; a verdict that comes first
# is not used (probe again).
PROBES_PER_WINDOW = 3


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
    window_s: float


def default_resolve(node: ResourceNode) -> Agent:
    return Registry(background_burst=False).resolve(node)


def locate_with(resolve: Callable[[ResourceNode], Agent]) -> Callable[[ResourceNode], Target | None]:
    """Where the resource's address goes (interface, our MAC): the agent's own answer (claimed_addresses)."""
    def locate(node: ResourceNode) -> Target | None:
        claims = resolve(node).claimed_addresses()
        return Target(claims[0].iface, claims[0].mac, claims[0].ip) if claims else None
    return locate


def vip_nodes(root: ResourceNode, resolve: Callable[[ResourceNode], Agent] = default_resolve
              ) -> tuple[ResourceNode, ...]:
    """The resources of a tree whose agent claims addresses on start (no I/O: the agent is only built)."""
    found: list[ResourceNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        try:
            if resolve(node).claims_addresses:
                found.append(node)
        except AgentError:
            pass  # config check reports it; the start fails on it
        stack.extend(node.children)
    return tuple(found)


def probe_repeated(iface: str, mac: str, ip: str, seconds: float) -> str | None:
    return arp.probe(iface, mac, ip, seconds, repeats=PROBES_PER_WINDOW)


class PreProbe:
    def __init__(self, roots: Mapping[str, ResourceNode], *,
                 probe: Callable[[str, str, str, float], str | None] = probe_repeated,
                 locate: Callable[[ResourceNode], Target | None] | None = None,
                 resolve: Callable[[ResourceNode], Agent] = default_resolve,
                 clock: Callable[[], float] = time.monotonic):
        self.vips = {key: vip_nodes(root, resolve) for key, root in roots.items()}
        self.probe, self.clock = probe, clock
        self.locate = locate or locate_with(resolve)
        self.verdicts: dict[str, Verdict] = {}  # by resource (the node's primary, e.g. IPaddr2::192.0.2.50)
        self.targets: dict[str, Target] = {}  # located once: the probe must start on time
        self._lock = threading.Lock()
        self._busy = False
        self._rounds: list[tuple[frozenset[str], float]] = []  # (groups, window) for the prober thread
        # what each round heard, per group, handed to the node core (the daemon: on the event loop)
        self.on_verdicts: Callable[[list[PreProbeVerdict]], None] = lambda verdicts: None
        self._wake = threading.Event()
        self._prober: threading.Thread | None = None

    def prepare(self) -> None:
        """Locate every VIP (interface, MAC) ahead of need; a VIP not located yet is located when probed.
        Starts the prober thread, so that a round starts without a thread start."""
        for nodes in self.vips.values():
            for node in nodes:
                self._target(node)
        self._ensure_prober()

    def _ensure_prober(self) -> None:
        with self._lock:
            if self._prober is None and any(self.vips.values()):
                self._prober = threading.Thread(target=self._serve, name="hbd-preprobe", daemon=True)
                self._prober.start()

    def _serve(self) -> None:
        while True:
            self._wake.wait(3600)  # idle: asleep until a round is asked for
            self._wake.clear()
            with self._lock:
                rounds, self._rounds = self._rounds, []
            for nodes, window_s in rounds:
                self._round(nodes, window_s)

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

    def start_round(self, groups: frozenset[str], window_s: float, lead_s: float) -> bool:
        """Probe the VIPs of `groups` for `window_s` now, in the prober thread (one round at a time): what
        the node core's `ProbeNow` asks for."""
        nodes = [n for key in sorted(groups) for n in self.vips.get(key, ())]
        if not nodes:
            return False
        with self._lock:
            if self._busy:
                return False
            self._busy = True
        log_hb(LOG, "debug", f"peer silent, verdict due in {window_s + lead_s:.3f} s: probing "
                             f"{' '.join(n.primary for n in nodes)} for {window_s:g} s")
        self._ensure_prober()
        with self._lock:
            self._rounds.append((frozenset(k for k in groups if self.vips.get(k)), window_s))
        self._wake.set()
        return True

    def _round(self, groups: frozenset[str], window_s: float) -> None:
        nodes = [n for key in sorted(groups) for n in self.vips.get(key, ())]
        heard: dict[str, Verdict] = {}  # by resource, this round's only
        try:
            threads = [threading.Thread(target=self._one, args=(n, window_s, heard), daemon=True)
                       for n in nodes[1:]]
            for t in threads:
                t.start()
            if nodes:
                self._one(nodes[0], window_s, heard)  # the first VIP in this thread: one thread start fewer
            for t in threads:
                t.join(window_s * 5 + 1)
        finally:
            with self._lock:
                self._busy = False
        with self._lock:
            verdicts = [self._group_verdict(key, heard) for key in sorted(groups)]
        try:
            self.on_verdicts(verdicts)
        except Exception:  # a bug in the hand-over must not stop the prober
            LOG.exception("handing the pre-probe verdicts over failed (bug)", extra={"hb_level": "ERROR"})

    def _group_verdict(self, key: str, heard: Mapping[str, Verdict]) -> PreProbeVerdict:
        """What the round heard of the group: silent only if every one of its VIPs was probed and none answered
        (a VIP not located, or whose probe failed or did not end, is not silent)."""
        found = [heard.get(n.primary) for n in self.vips.get(key, ())]
        done = [v for v in found if v is not None]
        silent = bool(found) and len(done) == len(found) and all(v.answered_by is None for v in done)
        listened_s = min((v.ended - v.began for v in done), default=0.0)
        ended_s = min((v.ended for v in done), default=self.clock())
        log_hb(LOG, "debug", f"pre-probe verdict for {key}: {'silent' if silent else 'not silent'} {found}")
        return PreProbeVerdict(key, silent, int(listened_s * 1000), round(ended_s * 1000))

    def _one(self, node: ResourceNode, window_s: float, heard: dict[str, Verdict]) -> None:
        target = self._target(node)
        if target is None:
            return
        try:
            began = self.clock()
            owner = self.probe(target.iface, target.mac, target.ip, window_s)
            verdict = Verdict(began, self.clock(), owner, window_s)
        except OSError as exc:  # the interface went away, say: locate it again next time
            log_hb(LOG, "debug", f"pre-probe of {node.primary} failed: {exc}")
            with self._lock:
                self.targets.pop(node.primary, None)
            return
        with self._lock:
            self.verdicts[node.primary] = verdict
            heard[node.primary] = verdict
        if owner:
            log_hb(LOG, "info", f"{target.ip} still answers from {owner}: a takeover will probe again")
