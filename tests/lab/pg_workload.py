"""PostgreSQL client workload of the lab: commits numbered rows over the VIP, one transaction per row, and
journals what it knows about each (run in the client namespace: `python pg_workload.py --host VIP ...`).

Journal lines (JSON, flushed one by one, times from time.monotonic(), which every namespace shares):
  {"ev": "ack", "n": N, "t": T}    COMMIT answered: the row must survive any failure
  {"ev": "doubt", "n": N, "t": T}  COMMIT sent, no answer: the row may or may not be there
  {"ev": "fail", "n": N, "t": T}   failed before COMMIT was sent: the row must not be there
  {"ev": "error", "t": T, "what": "..."}   each failure (connect or statement), then a bounded wait
A number is never used twice, so every row the table holds is one attempt.

`Journal.read(path)` and `check_rows(journal, rows)` are the checker: after an event every acknowledged row
is on the new active node, none twice, and none that was never committed.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TABLE = "acked"
SCHEMA = f"CREATE TABLE {TABLE} (n bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())"  # no key: duplicates show
RETRY_WAIT_S = 0.1       # between attempts after an error
CONNECT_TIMEOUT_S = 2
TCP_USER_TIMEOUT_MS = 3000  # a commit to a node that lost power fails within this, not after TCP's minutes


def run(host: str, port: int, journal: Path, max_seconds: float, dbname: str = "postgres") -> int:
    import psycopg  # only the client namespace's process needs it

    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    deadline = time.monotonic() + max_seconds
    n = 0
    conn = None
    with open(journal, "a", buffering=1) as out:
        def note(ev: str, **kw: object) -> None:
            out.write(json.dumps({"ev": ev, "t": time.monotonic(), **kw}) + "\n")

        while not stop and time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = psycopg.connect(host=host, port=port, dbname=dbname, user="postgres",
                                           connect_timeout=CONNECT_TIMEOUT_S, tcp_user_timeout=TCP_USER_TIMEOUT_MS,
                                           application_name="pg_workload")
            except psycopg.Error as exc:
                note("error", what=f"connect: {str(exc).strip()[:200]}")
                time.sleep(RETRY_WAIT_S)
                continue
            n += 1
            sent = False
            try:
                conn.execute(f"INSERT INTO {TABLE} (n) VALUES (%s)", (n,))
                sent = True
                conn.commit()
                note("ack", n=n)
            except psycopg.Error as exc:
                note("doubt" if sent else "fail", n=n)
                note("error", what=f"{'commit' if sent else 'insert'}: {str(exc).strip()[:200]}")
                try:
                    conn.close()
                except psycopg.Error:
                    pass
                conn = None
                time.sleep(RETRY_WAIT_S)
    if conn is not None:
        conn.close()
    return 0


@dataclass
class Journal:
    acked: list[int] = field(default_factory=list)
    doubt: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    ack_times: list[float] = field(default_factory=list)
    error_times: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> "Journal":
        j = cls()
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # the line being written when we looked
            ev = rec["ev"]
            if ev == "ack":
                j.acked.append(rec["n"])
                j.ack_times.append(rec["t"])
            elif ev == "doubt":
                j.doubt.add(rec["n"])
            elif ev == "fail":
                j.failed.add(rec["n"])
            elif ev == "error":
                j.error_times.append(rec["t"])
                j.errors.append(rec["what"])
        return j

    def acks_after(self, t: float) -> int:
        return sum(1 for at in self.ack_times if at > t)

    def longest_gap(self, since: float) -> float:
        """The longest time without an acknowledged commit from the last one before `since` on: what the
        client lived through, a commit left hanging on a node that lost power included."""
        acks = sorted(self.ack_times)
        start = max([i for i, t in enumerate(acks) if t <= since], default=0)
        window = acks[start:]
        return max((b - a for a, b in zip(window, window[1:])), default=0.0)

    def outages(self) -> list[tuple[float, float | None]]:
        """(first failure, next acknowledged commit) for each run of failures; end None: still failing."""
        spans: list[tuple[float, float | None]] = []
        acks = sorted(self.ack_times)
        i = 0
        for err in sorted(self.error_times):
            if spans and (spans[-1][1] is None or err <= spans[-1][1]):
                continue  # part of the outage already counted
            while i < len(acks) and acks[i] <= err:
                i += 1
            spans.append((err, acks[i] if i < len(acks) else None))
        return spans


@dataclass(frozen=True)
class Verdict:
    acked: int
    lost: list[int]
    duplicates: list[int]
    never_committed: list[int]
    doubt_present: int
    doubt_absent: int

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicates and not self.never_committed

    def describe(self) -> str:
        return (f"{self.acked} acknowledged, lost {self.lost[:20]} ({len(self.lost)}), duplicates "
                f"{self.duplicates[:20]}, present but never committed {self.never_committed[:20]}, in doubt: "
                f"{self.doubt_present} present, {self.doubt_absent} absent")


def check_rows(journal: Journal, rows: list[int]) -> Verdict:
    """Every acknowledged row present, none twice, none that failed before its COMMIT was sent."""
    counts = Counter(rows)
    present = set(counts)
    return Verdict(
        acked=len(journal.acked),
        lost=sorted(n for n in journal.acked if n not in present),
        duplicates=sorted(n for n, c in counts.items() if c > 1),
        never_committed=sorted(present - set(journal.acked) - journal.doubt),
        doubt_present=len(journal.doubt & present),
        doubt_absent=len(journal.doubt - present),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="commit numbered rows over the VIP and journal each outcome")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=5432)
    ap.add_argument("--journal", type=Path, required=True)
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args(argv)
    return run(args.host, args.port, args.journal, args.max_seconds)


if __name__ == "__main__":
    sys.exit(main())
