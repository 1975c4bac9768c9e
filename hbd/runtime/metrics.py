"""What the daemon counts for operators: heartbeat intervals, late heartbeats, failovers, group operations,
fence requests; served as Prometheus text on /metrics when `--metrics [ADDR:]PORT` is given (off by default,
127.0.0.1 when no address is given), and read by `hbd advise` over the control socket either way.

Counting is plain dicts and a bisect on the heartbeat path (no prometheus-client needed to run the daemon);
prometheus-client (Debian: python3-prometheus-client) only renders /metrics. The HTTP server runs on the
daemon's own event loop, so a scrape reads the daemon's state between two of its steps, never in the middle.

Metrics (all prefixed hbd_):
- node_up{node}, link_up{node,link}, quorate (1: every configured node is in this node's partition),
  group_held{group}: from the membership view and the ownership core at scrape time;
- heartbeat_interval_seconds{node,link}: histogram of the gaps between heartbeats received from a peer on
  each link, and over any link (link="any", counted once per heartbeat by its sequence number);
- heartbeat_late_total{node,link}: gaps longer than warntime (Heartbeat's "Late heartbeat");
- failovers_total{cause}: groups started because the peer died or left (peer_dead, peer_gave_up);
  handovers_total{direction}: groups moved by hbd-standby / hbd-takeover (start: taken, stop: given);
- group_operation_seconds{op,group}: histogram of start/stop durations; group_operation_failures_total;
- fence_requests_total{node}.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from hbd.core import ownership_types as o

LOG = logging.getLogger("hbd.metrics")
# Interval buckets as multiples of keepalive: fine around the expected interval, coarse in the tail.
INTERVAL_FACTORS = (0.25, 0.5, 0.75, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0,
                    24.0, 32.0)
OP_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
FAILOVER_CAUSES = (o.Cause.PEER_DEAD, o.Cause.PEER_GAVE_UP)
HTTP_READ_TIMEOUT_S = 5.0
SCHEMA_VERSION = 1  # of the "intervals" control answer (doc/daemon.md)


@dataclass
class Histogram:
    """Cumulative-free bucket counts over fixed upper bounds (the last bucket is +Inf), a sum and a max."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0
    largest: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1
        self.largest = max(self.largest, value)

    def cumulative(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts):
            running += count
            out.append((bound, running))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"bounds_s": list(self.bounds), "counts": list(self.counts), "sum_s": round(self.total, 6),
                "count": self.n, "max_s": round(self.largest, 6)}


class Metrics:
    def __init__(self, local: str, keepalive_ms: int, warntime_ms: int, deadtime_ms: int):
        self.local = local
        self.keepalive_ms, self.warntime_ms, self.deadtime_ms = keepalive_ms, warntime_ms, deadtime_ms
        self.interval_bounds = tuple(round(f * keepalive_ms / 1000, 6) for f in INTERVAL_FACTORS)
        self.intervals: dict[tuple[str, str], Histogram] = {}
        self.late: Counter[tuple[str, str]] = Counter()
        self._last_rx: dict[tuple[str, str], float] = {}
        self._last_seq: dict[str, int] = {}
        self.failovers: Counter[str] = Counter()
        self.handovers: Counter[str] = Counter()
        self.group_ops: dict[tuple[str, str], Histogram] = {}
        self.group_failures: Counter[tuple[str, str]] = Counter()
        self.fence_requests: Counter[str] = Counter()
        self._running: dict[str, tuple[str, float]] = {}  # group -> (op, monotonic start)
        self.started_wall = time.time()

    # --- inputs ---------------------------------------------------------------------------------

    def heartbeat(self, node: str, link: str, seq: int | None, now_s: float) -> None:
        """A heartbeat (t=status) from `node` arrived on `link` at loop time `now_s`."""
        if node == self.local:
            return
        self._gap((node, link), now_s)
        if seq is not None:
            if seq <= self._last_seq.get(node, -1):
                return  # the same heartbeat on another link
            self._last_seq[node] = seq
        self._gap((node, "any"), now_s)

    def _gap(self, key: tuple[str, str], now_s: float) -> None:
        last = self._last_rx.get(key)
        self._last_rx[key] = now_s
        if last is None:
            return
        gap = now_s - last
        hist = self.intervals.get(key)
        if hist is None:
            hist = self.intervals[key] = Histogram(self.interval_bounds)
        hist.observe(gap)
        if gap * 1000 > self.warntime_ms:
            self.late[key] += 1

    def driver_item(self, item: object) -> None:
        """A watcher of the ownership driver: the events it feeds and the actions it carries out."""
        if isinstance(item, o.StartGroup):
            self._running[item.key] = ("start", time.monotonic())
            if item.cause in FAILOVER_CAUSES:
                self.failovers[item.cause.value] += 1
            elif item.cause is o.Cause.HANDOVER:
                self.handovers["taken"] += 1
        elif isinstance(item, o.StopGroup):
            self._running[item.key] = ("stop", time.monotonic())
            if item.cause is o.Cause.HANDOVER:
                self.handovers["given"] += 1
        elif isinstance(item, (o.GroupStarted, o.GroupStopped)):
            op, began = self._running.pop(item.key, ("start" if isinstance(item, o.GroupStarted) else "stop",
                                                     time.monotonic()))
            hist = self.group_ops.get((op, item.key))
            if hist is None:
                hist = self.group_ops[(op, item.key)] = Histogram(OP_BUCKETS_S)
            hist.observe(time.monotonic() - began)
            if not item.ok:
                self.group_failures[(op, item.key)] += 1
        elif isinstance(item, o.Fence):
            self.fence_requests[item.node] += 1

    # --- outputs --------------------------------------------------------------------------------

    def intervals_snapshot(self) -> dict[str, Any]:
        """The control answer `hbd advise` reads (schema version SCHEMA_VERSION)."""
        return {
            "schema": SCHEMA_VERSION, "node": self.local, "since_wall": self.started_wall,
            "keepalive_ms": self.keepalive_ms, "warntime_ms": self.warntime_ms, "deadtime_ms": self.deadtime_ms,
            "intervals": [{"node": n, "link": k, "late": self.late[(n, k)], **h.as_dict()}
                          for (n, k), h in sorted(self.intervals.items())],
        }


class PrometheusCollector:
    """Renders Metrics and the live state as Prometheus metric families (prometheus-client's Collector API)."""

    def __init__(self, metrics: Metrics, state: Callable[[], dict[str, Any]]):
        self.metrics = metrics
        self.state = state  # {"nodes": [...], "groups": [...], "nodes_configured": n} from the daemon

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        m, st = self.metrics, self.state()
        up = GaugeMetricFamily("hbd_node_up", "1 when the node is alive (this node's view)", labels=["node"])
        link = GaugeMetricFamily("hbd_link_up", "1 when heartbeats arrive from the node on the link",
                                 labels=["node", "link"])
        for n in st["nodes"]:
            up.add_metric([n["name"]], 0.0 if n["status"] == "dead" else 1.0)
            for k in n["links"]:
                link.add_metric([n["name"], k["name"]], 1.0 if k["up"] else 0.0)
        alive = sum(1 for n in st["nodes"] if n["status"] != "dead")
        quorate = GaugeMetricFamily("hbd_quorate", "1 when every configured node is in this node's partition "
                                    "(two-node clusters have no majority: hbd relies on fencing, not quorum)",
                                    value=1.0 if alive == len(st["nodes"]) else 0.0)
        held = GaugeMetricFamily("hbd_group_held", "1 when this node holds the group", labels=["group"])
        for g in st["groups"]:
            held.add_metric([g["key"]], 1.0 if g["owner"] == m.local else 0.0)
        yield from (up, link, quorate, held)
        hist = HistogramMetricFamily("hbd_heartbeat_interval_seconds", "gaps between heartbeats received",
                                     labels=["node", "link"])
        for (node, lk), h in sorted(m.intervals.items()):
            hist.add_metric([node, lk], h.cumulative(), h.total)
        yield hist
        late = CounterMetricFamily("hbd_heartbeat_late", "heartbeats later than warntime", labels=["node", "link"])
        for (node, lk), count in sorted(m.late.items()):
            late.add_metric([node, lk], count)
        yield late
        fo = CounterMetricFamily("hbd_failovers", "groups taken over from a dead or departed peer", labels=["cause"])
        for cause in FAILOVER_CAUSES:
            fo.add_metric([cause.value], m.failovers[cause.value])
        yield fo
        ho = CounterMetricFamily("hbd_handovers", "groups moved by hbd-standby / hbd-takeover", labels=["direction"])
        for direction in ("taken", "given"):
            ho.add_metric([direction], m.handovers[direction])
        yield ho
        ops = HistogramMetricFamily("hbd_group_operation_seconds", "group start/stop durations", labels=["op", "group"])
        for (op, key), h in sorted(m.group_ops.items()):
            ops.add_metric([op, key], h.cumulative(), h.total)
        yield ops
        fails = CounterMetricFamily("hbd_group_operation_failures", "failed group starts and stops",
                                    labels=["op", "group"])
        for (op, key), count in sorted(m.group_failures.items()):
            fails.add_metric([op, key], count)
        yield fails
        fence = CounterMetricFamily("hbd_fence_requests", "fencing requested by the ownership core", labels=["node"])
        for node, count in sorted(m.fence_requests.items()):
            fence.add_metric([node], count)
        yield fence


def parse_listen(text: str) -> tuple[str, int]:
    """`PORT` (127.0.0.1) or `ADDR:PORT`; ValueError with a plain reason."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--metrics {text}: expected PORT or ADDRESS:PORT")
    return host, int(port)


class MetricsServer:
    """GET /metrics on the daemon's loop: one short request per connection, the text format, then close."""

    def __init__(self, collector: PrometheusCollector):
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._client, host, port)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        try:
            request = await asyncio.wait_for(reader.readline(), HTTP_READ_TIMEOUT_S)
            while (await asyncio.wait_for(reader.readline(), HTTP_READ_TIMEOUT_S)).strip():
                pass  # headers
            words = request.decode("latin-1").split()
            if len(words) >= 2 and words[0] == "GET" and words[1].split("?")[0] == "/metrics":
                body, status, ctype = generate_latest(self.registry), "200 OK", CONTENT_TYPE_LATEST
            else:
                body, status, ctype = b"only GET /metrics is served\n", "404 Not Found", "text/plain"
            writer.write(f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        except Exception:  # a bug in rendering must not take the daemon down
            LOG.exception("metrics request failed (bug)", extra={"hb_level": "ERROR"})
        finally:
            writer.close()


def counts_by_node(snapshot: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in snapshot["intervals"]:
        out[entry["node"]].append(entry)
    return dict(out)
