"""When `hbd svc` has its outcome (hbd/core/service_outcome.py), on real service cores: every table the
requesting node follows is shown to AdminWait, as the runtime does after each step."""
from __future__ import annotations

from dataclasses import replace

from hbd.core import service_events as e
from hbd.core.recovery import Recovery
from hbd.core.service_model import Domain, DomainMember, ServiceSpec
from hbd.core.service_outcome import AdminOutcome, AdminResult, AdminWait, FailedBecause
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminOp, AdminRequest, Entry, Refusal
from service_fakes import Net, catalog

R = AdminResult


class WatchedNet(Net):
    """A Net that shows AdminWait every table of the requesting node, after every event it handles there."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wait: AdminWait | None = None
        self.watcher = ""
        self.outcomes: list[AdminOutcome] = []
        self.current: tuple[str, list[e.Action]] = ("", [])
        self.at_outcome: dict[str, list[tuple[ServiceState, ServiceState]]] = {}  # transitions done by then
        self.request_id = 0
        original = {n: c.handle for n, c in self.cores.items()}

        def watched(node: str):  # type: ignore[no-untyped-def]
            def handle(event: e.Event, now: int) -> list[e.Action]:
                out = original[node](event, now)
                self.current = (node, out)  # not in self.actions yet
                if node == self.watcher and self.wait is not None:
                    for a in out:
                        if isinstance(a, e.AdminReply) and a.request_id == self.request_id:
                            self._note(self.wait.replied(a.refusal))
                if node == self.watcher and self.wait is not None:
                    self._note(self.wait.observe(self.cores[node].table()))
                return out
            return handle

        for name, core in self.cores.items():
            core.handle = watched(name)  # type: ignore[method-assign]

    def _note(self, outcome: AdminOutcome | None) -> None:
        if outcome is not None and self.wait is not None:
            self.outcomes.append(outcome)
            node, out = self.current
            self.at_outcome = {n: [(a.old, a.new) for a in acts + (out if n == node else [])
                                   if isinstance(a, e.ServiceTransition)] for n, acts in self.actions.items()}
            self.wait = None

    def settle(self, fail_start: set[tuple[str, str]] = set(), fail_stop: set[tuple[str, str]] = set()) -> None:
        """Carry out every start and stop the cores ask for, failing the ones named (a stop only the first
        time: the next disable tries it again), until none is left."""
        fail_stop = set(fail_stop)
        for _ in range(50):
            work = [(n, s, e.Op.START) for n in self.cores for s in self.pending(n, e.StartService)]
            work += [(n, s, e.Op.STOP) for n in self.cores for s in self.pending(n, e.StopService)]
            if not work:
                return
            for node, service, op in work:
                failing = fail_start if op is e.Op.START else fail_stop
                self.done(node, service, op, ok=(node, service) not in failing)
                if op is e.Op.STOP:
                    fail_stop.discard((node, service))
        raise AssertionError("operations never settled")

    def request(self, node: str, op: AdminOp, service: str, target: str | None = None,
                **fail: set[tuple[str, str]]) -> AdminOutcome | None:
        table = self.cores[node].table()
        self.watcher, self.outcomes = node, []
        request = AdminRequest(op, service, target)
        self.wait = AdminWait(request, table.get(service) if table else None)
        self.ids += 1
        self.request_id = self.ids
        self.feed(node, e.AdminRequested(self.ids, request))
        self.settle(**fail)
        assert len(self.outcomes) <= 1
        return self.outcomes[0] if self.outcomes else None


def running(services: tuple[ServiceSpec, ...] = (ServiceSpec("db"),), nodes: int = 3) -> WatchedNet:
    net = WatchedNet(catalog(*services, nodes=nodes))
    net.form()
    net.settle()
    return net


def owner(net: WatchedNet, service: str = "db") -> str | None:
    table = net.cores["n1"].table()
    assert table is not None
    return table[service].owner


def test_relocate_to_a_node_is_done_once_it_runs_there() -> None:
    net = running()
    start = owner(net)
    target = "n3" if start != "n3" else "n2"
    got = net.request("n2", AdminOp.RELOCATE, "db", target)
    assert got is not None and got.result is R.DONE and not got.elsewhere
    assert got.entry is not None and got.entry.owner == target and owner(net) == target != start


def test_relocate_without_a_target_is_done_on_another_node() -> None:
    net = running()
    start = owner(net)
    got = net.request("n3", AdminOp.RELOCATE, "db")
    assert got is not None and got.result is R.DONE
    assert got.entry is not None and got.entry.owner not in (None, start)


def test_a_refusal_is_final_and_nothing_changes() -> None:
    net = running()
    before = net.cores["n1"].table()
    got = net.request("n2", AdminOp.RELOCATE, "nosuch")
    assert got is not None and got.result is R.REFUSED and got.refusal is Refusal.NO_SUCH_SERVICE
    got = net.request("n2", AdminOp.RELOCATE, "db", "n9")
    assert got is not None and got.refusal is Refusal.NO_SUCH_NODE
    assert net.cores["n1"].table() == before


def test_disable_then_enable_on_a_node() -> None:
    net = running()
    got = net.request("n1", AdminOp.DISABLE, "db")
    assert got is not None and got.result is R.DONE and got.entry is not None
    assert got.entry.owner is None and got.entry.state is ServiceState.DISABLED
    got = net.request("n3", AdminOp.ENABLE, "db", "n2")
    assert got is not None and got.result is R.DONE and got.entry is not None and got.entry.owner == "n2"


def test_a_disable_whose_stop_failed_is_failed_and_the_next_disable_tries_again() -> None:
    net = running()
    where = owner(net)
    assert where is not None
    got = net.request("n1", AdminOp.DISABLE, "db", fail_stop={(where, "db")})
    assert got is not None and got.result is R.FAILED and got.because is FailedBecause.STOP_FAILED
    assert (ServiceState.STOPPING, ServiceState.FAILED) in net.transitions(where, "db")
    got = net.request("n1", AdminOp.DISABLE, "db")  # the cause fixed: one more attempt, and it stops
    assert got is not None and got.result is R.DONE


def test_a_disable_that_leaves_the_service_failed_is_failed() -> None:
    started = Entry(placement="n1", go=True, owner="n1", state=ServiceState.STARTED)
    wait = AdminWait(AdminRequest(AdminOp.DISABLE, "db"), started)
    assert wait.replied(None) is None
    assert wait.observe({"db": replace(started, enabled=False, state=ServiceState.STOPPING)}) is None
    got = wait.observe({"db": replace(started, enabled=False, state=ServiceState.FAILED)})
    assert got is not None and got.result is R.FAILED and got.because is FailedBecause.STOP_FAILED
    failed = replace(started, state=ServiceState.FAILED)  # disabling a failed service retries its stop
    wait = AdminWait(AdminRequest(AdminOp.DISABLE, "db"), failed)
    assert wait.replied(None) is None
    assert wait.observe({"db": failed}) is None  # the table before the retry
    assert wait.observe({"db": replace(failed, enabled=False, state=ServiceState.STOPPING)}) is None
    got = wait.observe({"db": replace(failed, enabled=False)})
    assert got is not None and got.because is FailedBecause.STOP_FAILED


def test_restart_is_done_only_after_a_stop_and_a_start() -> None:
    net = running()
    where = owner(net)
    assert where is not None
    got = net.request("n1", AdminOp.RESTART, "db")
    assert got is not None and got.result is R.DONE and got.entry is not None
    assert got.entry.owner == where and got.entry.generation == 1
    done = net.at_outcome[where]
    stopped = done.index((ServiceState.STOPPING, ServiceState.STOPPED))
    assert (ServiceState.STARTING, ServiceState.STARTED) in done[stopped:]


def test_freeze_and_unfreeze() -> None:
    net = running()
    got = net.request("n2", AdminOp.FREEZE, "db")
    assert got is not None and got.result is R.DONE and got.entry is not None and got.entry.frozen
    got = net.request("n2", AdminOp.RELOCATE, "db")
    assert got is not None and got.refusal is Refusal.FROZEN
    got = net.request("n2", AdminOp.UNFREEZE, "db")
    assert got is not None and got.result is R.DONE and got.entry is not None and not got.entry.frozen


def test_a_relocation_whose_start_fails_on_the_target_ends_elsewhere() -> None:
    spec = ServiceSpec("db", recovery=Recovery.RELOCATE, domain=Domain("d", True, False, True, (
        DomainMember("n1", 1), DomainMember("n2", 2), DomainMember("n3", 3))))
    net = running((spec,))
    assert owner(net) == "n1"
    got = net.request("n2", AdminOp.RELOCATE, "db", "n3", fail_start={("n3", "db")})
    assert got is not None and got.result is R.DONE and got.elsewhere
    assert got.entry is not None and got.entry.owner in ("n1", "n2")


def test_an_enable_disabled_again_by_recovery_is_failed() -> None:
    net = running((ServiceSpec("db", recovery=Recovery.DISABLE),))
    assert net.request("n1", AdminOp.DISABLE, "db") is not None
    got = net.request("n1", AdminOp.ENABLE, "db", "n2", fail_start={("n2", "db")})
    assert got is not None and got.result is R.FAILED and got.because is FailedBecause.RECOVERY_DISABLED


def test_the_table_before_the_change_is_never_an_outcome() -> None:
    """The reply can overtake the announcement: the old table alone must not end the wait."""
    net = running()
    table = net.cores["n1"].table()
    assert table is not None
    where = table["db"].owner
    other = "n3" if where != "n3" else "n2"
    for request in (AdminRequest(AdminOp.RELOCATE, "db"), AdminRequest(AdminOp.RELOCATE, "db", other),
                    AdminRequest(AdminOp.RESTART, "db"), AdminRequest(AdminOp.FREEZE, "db"),
                    AdminRequest(AdminOp.DISABLE, "db"), AdminRequest(AdminOp.ENABLE, "db", other)):
        wait = AdminWait(request, table["db"])
        assert wait.replied(None) is None
        assert wait.observe(table) is None, request
        assert wait.timed_out(table).result is R.TIMED_OUT
    wait = AdminWait(AdminRequest(AdminOp.RESTART, "db"), table["db"])
    assert wait.replied(None) is None  # the new generation announced, the owner not stopped yet
    assert wait.observe({"db": replace(table["db"], generation=table["db"].generation + 1)}) is None
    wait = AdminWait(AdminRequest(AdminOp.ENABLE, "db"), table["db"])  # already running: that is the outcome
    assert wait.replied(None) is None
    got = wait.observe(table)
    assert got is not None and got.result is R.DONE
