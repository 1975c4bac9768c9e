"""hbd splitbrain through two daemons' services (hbd/runtime/splitbrain_service.py) joined on one loop: facts
from both nodes, refusal that runs nothing, the plan's commands each on its node in order, the peer's own
re-check; the control request and the CLI's exit codes."""
from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import pytest

from hbd.cli import splitbrain_cmd
from hbd.runtime import control_messages as cm
from hbd.runtime.splitbrain_service import SplitBrainService, Use, mounted

MOUNTS = "/dev/drbd0 /srv/data ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n"


class Pair:
    """Two services and a fake DRBD: n1 Primary with g1 and /srv/data, n2 Primary too (the split)."""

    def __init__(self, n2_mounted: bool = False, peer_answers: bool = True):
        self.drbd = {n: {"role": "Primary", "disk": "UpToDate", "connection": "StandAlone"} for n in ("n1", "n2")}
        self.mounts = {"n1": MOUNTS, "n2": MOUNTS if n2_mounted else ""}
        self.ran: list[tuple[str, str]] = []
        self.peer_answers = peer_answers
        self.services: dict[str, SplitBrainService] = {}
        use = {"r0": Use(("IPaddr2::192.0.2.10",), (("/dev/drbd0", "/srv/data"),))}
        for me, peer in (("n1", "n2"), ("n2", "n1")):
            self.services[me] = SplitBrainService(
                self._sender(peer), lambda: False, me, peer, use,
                (lambda: frozenset({"IPaddr2::192.0.2.10"})) if me == "n1" else frozenset,
                query=self._query(me), run=self._run(me), mounts=lambda me=me: self.mounts[me])  # type: ignore[misc]

    def _sender(self, to: str):  # type: ignore[no-untyped-def]
        def send(body: tuple[tuple[str, str], ...]) -> None:
            if to == "n2" and not self.peer_answers:
                return
            loop = asyncio.get_running_loop()
            loop.call_soon_threadsafe(self.services[to].received, dict(body))
        return send

    def _query(self, node: str):  # type: ignore[no-untyped-def]
        def query(resource: str) -> dict[str, Any]:
            return {"resource": resource, **self.drbd[node]}
        return query

    def _run(self, node: str):  # type: ignore[no-untyped-def]
        def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
            self.ran.append((node, " ".join(argv)))
            me, other = self.drbd[node], self.drbd["n2" if node == "n1" else "n1"]
            if argv[1] == "secondary":
                me["role"] = "Secondary"
            elif argv[1] == "disconnect":
                me["connection"] = "StandAlone"
            elif "connect" in argv:
                me["connection"] = "WFConnection"
                if other["connection"] == "WFConnection":
                    me["connection"] = other["connection"] = "Connected"
            return subprocess.CompletedProcess(argv, 0, "", "")
        return run

    def ask(self, op: str, keep: str | None, on: str = "n1") -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            for s in self.services.values():
                s.start(asyncio.get_running_loop())
            return await self.services[on].request(op, "all", keep)
        return asyncio.run(go())


def test_resolve_runs_the_plan_on_both_nodes_and_reports_before_and_after() -> None:
    pair = Pair()
    reply = pair.ask("resolve", "n1")
    assert reply["ok"] and reply["outcome"] == "done", reply["text"]
    assert pair.ran == [("n2", "drbdadm secondary r0"), ("n2", "drbdadm disconnect r0"),
                        ("n2", "drbdadm -- --discard-my-data connect r0"), ("n1", "drbdadm connect r0")]
    assert {(e["node"], e["connection"]) for e in reply["before"]} == {("n1", "StandAlone"), ("n2", "StandAlone")}
    assert {(e["node"], e["connection"], e["role"]) for e in reply["after"]} == {
        ("n1", "Connected", "Primary"), ("n2", "Connected", "Secondary")}
    assert all(e["split_brain"] for e in reply["before"]) and not any(e["split_brain"] for e in reply["after"])


def test_resolve_refuses_while_the_victim_has_the_filesystem_mounted_and_runs_nothing() -> None:
    pair = Pair(n2_mounted=True)
    reply = pair.ask("resolve", "n1")
    assert not reply["ok"] and reply["outcome"] == "refused" and pair.ran == []
    assert "[FAILED] n2: r0's filesystem is not mounted here (mounted on /srv/data)" in reply["text"]
    assert reply["text"].endswith("refused: a check failed; nothing was changed")


def test_the_plan_from_the_other_node_is_the_same_plan() -> None:
    pair = Pair()
    reply = pair.ask("plan", "n1", on="n2")
    assert reply["ok"] and pair.ran == []
    text = reply["text"].splitlines()
    assert text[text.index("  on n2 (victim):") + 3] == "    drbdadm -- --discard-my-data connect r0"
    assert text[text.index("  on n1 (survivor):") + 1] == "    drbdadm connect r0"


def test_keeping_the_node_that_runs_the_group_is_refused_on_its_own_checks() -> None:
    reply = Pair().ask("plan", "n2")
    assert not reply["ok"] and "[FAILED] n1: no group using r0 runs here (running: IPaddr2::192.0.2.10)" \
        in reply["text"]


def test_a_peer_that_does_not_answer_fails_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hbd.runtime.splitbrain_service.PEER_TIMEOUT_S", 0.2)
    pair = Pair(peer_answers=False)
    reply = pair.ask("resolve", "n1")
    assert reply["outcome"] == "refused" and pair.ran == []
    assert "[FAILED] n2: drbdadm answers for r0 (no answer from n2's daemon)" in reply["text"]


def test_the_victim_checks_again_before_its_commands() -> None:
    pair = Pair()

    async def go() -> dict[str, Any]:
        for s in pair.services.values():
            s.start(asyncio.get_running_loop())
        pair.mounts["n2"] = MOUNTS  # mounted after the plan was made
        return pair.services["n2"]._serve({"op": "run", "rsc": "r0", "verb": "discard-connect"})

    answer = asyncio.run(go())
    assert not answer["ok"] and answer["text"].startswith("refused on n2: r0's filesystem is not mounted here")
    assert pair.ran == []
    assert pair.services["n2"]._serve({"op": "run", "rsc": "all", "verb": "connect"})["ok"] is False
    assert "unknown step" in pair.services["n2"]._serve({"op": "run", "rsc": "r0", "verb": "down"})["text"]


def test_unknown_resource_and_status() -> None:
    pair = Pair()
    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        for s in pair.services.values():
            s.start(asyncio.get_running_loop())
        return (await pair.services["n1"].request("status", "r9", None),
                await pair.services["n1"].request("status", "all", None))
    bad, status = asyncio.run(go())
    assert not bad["ok"] and bad["text"] == "r9: not a drbddisk resource of the groups (known: r0)"
    assert status["ok"] and "SPLIT BRAIN (StandAlone)" in status["text"]


def test_mounts_by_device_or_mount_point() -> None:
    assert mounted((("/dev/drbd0", "/srv/data"),), MOUNTS) == ("/srv/data",)
    assert mounted((("/dev/drbd1", "/srv/data/"),), MOUNTS) == ("/srv/data",)
    assert mounted((("/dev/drbd1", "/srv/other"),), MOUNTS) == ()


def test_the_request_round_trips_and_bad_ones_are_refused() -> None:
    for request in (cm.SplitBrainRequest("status"), cm.SplitBrainRequest("resolve", "r0", "n1")):
        assert cm.decode(cm.encode(request)) == request
    with pytest.raises(cm.BadRequest, match="keep must be"):
        cm.decode({"cmd": "splitbrain", "op": "plan"})
    with pytest.raises(cm.BadRequest, match="unknown operation"):
        cm.decode({"cmd": "splitbrain", "op": "discard"})


@pytest.mark.parametrize("argv,reply,code", [
    (["status"], {"ok": True, "outcome": "status", "text": "x"}, 0),
    (["plan", "--keep", "n1"], {"ok": False, "outcome": "planned", "text": "x"}, 1),
    (["resolve", "--keep", "n1", "--yes"], {"ok": True, "outcome": "done", "text": "x"}, 0),
    (["resolve", "--keep", "n1", "--yes"], {"ok": False, "outcome": "refused", "text": "x"}, 1),
    (["resolve", "--keep", "n1", "--yes"], {"ok": False, "outcome": "failed", "text": "x"}, 4),
    (["resolve", "--keep", "n1"], {"ok": True, "outcome": "planned", "text": "x"}, 1),
])
def test_cli_exit_codes(monkeypatch: pytest.MonkeyPatch, argv: list[str], reply: dict[str, Any], code: int) -> None:
    sent: list[cm.SplitBrainRequest] = []
    monkeypatch.setattr(splitbrain_cmd, "ask", lambda prog, sock, req, t: sent.append(req) or reply)
    assert splitbrain_cmd.main(argv) == code
    if argv[0] == "resolve" and "--yes" not in argv:
        assert sent[0].op == "plan"  # without --yes only the plan is asked for


def test_cli_usage_errors_exit_2() -> None:
    for argv in (["plan"], ["resolve"], ["status", "--keep", "n1"], ["bogus"]):
        with pytest.raises(SystemExit) as exc:
            splitbrain_cmd.main(argv)
        assert exc.value.code == 2, argv


def test_cli_takes_the_resource_before_or_after_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[cm.SplitBrainRequest] = []
    monkeypatch.setattr(splitbrain_cmd, "ask", lambda prog, sock, req, t: sent.append(req) or {"ok": True})
    assert splitbrain_cmd.main(["plan", "--keep", "n1", "r0"]) == 0
    assert splitbrain_cmd.main(["plan", "r0", "--keep", "n1"]) == 0
    assert sent == [cm.SplitBrainRequest("plan", "r0", "n1")] * 2
