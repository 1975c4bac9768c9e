"""The service messages' wire codec (hbd/core/service_wire.py): round trip, every malformed field refused with a
typed error, the size bound of a large catalog, and real core traffic carried through the codec."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from hbd.config.model import AuthKey, AuthKeys
from hbd.core import messages, service_events as e
from hbd.core import service_wire as sw
from hbd.core.service_model import Catalog, NodeSpec, ServiceSpec
from hbd.core.service_states import ServiceState
from hbd.core.service_table import (
    AdminOp, AdminRequest, Announce, DisabledBy, Entry, Forward, RecoveryOp, RecoveryRequest, Refusal, Reply,
    Report, ServiceMessage,
)
from service_fakes import Net, catalog

NODES = ("n1", "-", "node two", "100%,x:y", "ünï")
SERVICES = ("database", "-", "a b", "c:d,e%", "wéb")
CAT = Catalog(tuple(NodeSpec(n, i + 1) for i, n in enumerate(NODES)), tuple(ServiceSpec(s) for s in SERVICES))
P = sw.WireProblem

numbers = st.integers(0, sw.MAX_NUMBER)
node = st.sampled_from(NODES)
nodes = st.frozensets(node)
entries = st.builds(Entry, enabled=st.booleans(), frozen=st.booleans(), placement=st.none() | node, go=st.booleans(),
                    since=numbers, generation=numbers, avoid=nodes, owner=st.none() | node,
                    last_owner=st.none() | node, state=st.sampled_from(ServiceState),
                    disabled_by=st.none() | st.sampled_from(DisabledBy))
announces = st.builds(Announce, sender=node, seq=numbers, members=nodes,
                      table=st.fixed_dictionaries({s: entries for s in SERVICES}))
reports = st.builds(Report, sender=node, members=nodes, seen_seq=numbers, last=st.none() | announces,
                    local=st.dictionaries(st.sampled_from(SERVICES), st.sampled_from(ServiceState)),
                    suspects=st.dictionaries(node, numbers))
any_name = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn")), min_size=1,
                   max_size=40).filter(str.isprintable)
forwards = st.builds(Forward, sender=node, request_id=numbers, request=st.one_of(
    st.builds(AdminRequest, op=st.sampled_from(AdminOp), service=any_name, target=st.none() | any_name),
    st.builds(RecoveryRequest, op=st.sampled_from(RecoveryOp), service=any_name)))
replies = st.builds(Reply, request_id=numbers, refusal=st.none() | st.sampled_from(Refusal))
any_message = st.one_of(announces, reports, forwards, replies)


def fields_of(message: ServiceMessage) -> dict[str, str]:
    out = sw.encode(message)
    assert not isinstance(out, sw.WireError), out
    return dict(out)


@settings(max_examples=300, deadline=None)
@given(any_message)
def test_every_message_comes_back_equal(message: ServiceMessage) -> None:
    fields = fields_of(message)
    assert fields["t"] in sw.TYPES and all(n == "t" or n.startswith("svc_") for n in fields)
    assert sw.decode(fields, CAT) == message


@settings(max_examples=100, deadline=None)
@given(any_message)
def test_through_a_signed_heartbeat_datagram(message: ServiceMessage) -> None:
    keys = AuthKeys("authkeys", 1, (AuthKey(1, "sha1", b"secret"),))
    body = sw.encode(message)
    assert not isinstance(body, sw.WireError)
    sender = messages.Sender("n1", bytes(16), 1, 3)
    datagram = messages.encode(messages.with_control_fields(body, sender, seq=5, ts=1, load="0.0"), keys)
    got = messages.decode(datagram, keys)
    assert isinstance(got, messages.Message)
    fields = {k: v for k, v in reversed(got.fields) if isinstance(v, str)}
    assert sw.decode(fields, CAT) == message


def test_the_core_runs_with_every_message_through_the_codec() -> None:
    """A three-node cluster whose every service message is encoded and decoded: start, relocate, disable."""
    cat = catalog(ServiceSpec("db"), ServiceSpec("web"), nodes=3)
    carried: list[type] = []

    class WireNet(Net):
        def _drain(self) -> None:
            while self.queue:
                sender, send = self.queue.popleft()
                message = sw.decode(fields_of(send.message), self.catalog, src=sender)
                assert message == send.message, message
                carried.append(type(message))
                out = self.cores[send.to].handle(e.MessageReceived(message), self.now)
                self.actions[send.to] += out
                self.queue.extend((send.to, a) for a in out if isinstance(a, e.Send))

    net = WireNet(cat)
    net.form()
    started = {a.service: n for n, acts in net.actions.items() for a in acts if isinstance(a, e.StartService)}
    assert set(started) == {"db", "web"}
    for service, owner in started.items():
        net.done(owner, service, e.Op.START)
    target = next(n for n in ("n1", "n2", "n3") if n != started["db"])
    assert net.admin("n3", AdminOp.RELOCATE, "db", target) is None
    assert net.admin("n3", AdminOp.RELOCATE, "nosuch") is Refusal.NO_SUCH_SERVICE
    assert {Announce, Report, Forward, Reply} <= set(carried)


# --- refusals --------------------------------------------------------------------------------------

GOOD_REPORT = Report("n1", frozenset({"n1", "-"}), 7, Announce("n1", 7, frozenset({"n1"}), {
    s: Entry(placement="n1", owner="n1", state=ServiceState.STARTED) for s in SERVICES}),
    {"database": ServiceState.STARTED}, {"-": 300})
GOOD_FORWARD = Forward("node two", 3, AdminRequest(AdminOp.RELOCATE, "database", "n1"))


def entry_field(**tokens: str) -> dict[str, str]:
    """GOOD_REPORT's fields with tokens of its first nested entry replaced (by position name)."""
    names = ["name", "enabled", "frozen", "placement", "go", "since", "generation", "avoid", "owner", "last",
             "state", "disabled_by"]
    fields = fields_of(GOOD_REPORT)
    parts = fields["svc_l_e0"].split(" ")
    for key, value in tokens.items():
        parts[names.index(key)] = value
    fields["svc_l_e0"] = " ".join(parts)
    return fields


def changed(message: ServiceMessage, **values: str | None) -> dict[str, str]:
    fields = fields_of(message)
    for key, value in values.items():
        if value is None:
            del fields[key]
        else:
            fields[key] = value
    return fields


CASES = {
    "not a service type": (changed(GOOD_REPORT, t="status"), P.NOT_SERVICE),
    "no type": (changed(GOOD_REPORT, t=None), P.NOT_SERVICE),
    "other version": (changed(GOOD_REPORT, svc_v="2"), P.VERSION),
    "no version": (changed(GOOD_REPORT, svc_v=None), P.VERSION),
    "missing sender": (changed(GOOD_REPORT, svc_from=None), P.MISSING),
    "unknown sender": (changed(GOOD_REPORT, svc_from="n9"), P.UNKNOWN_NAME),
    "empty sender": (changed(GOOD_REPORT, svc_from=""), P.BAD_VALUE),
    "non-canonical name": (changed(GOOD_REPORT, svc_from="%6E1"), P.BAD_VALUE),
    "bad percent escape": (changed(GOOD_REPORT, svc_from="%ff"), P.BAD_VALUE),
    "raw unsafe character": (changed(GOOD_REPORT, svc_from="node two"), P.BAD_VALUE),
    "control character": (changed(GOOD_REPORT, svc_from="%07"), P.BAD_VALUE),
    "name too long": (changed(GOOD_REPORT, svc_from="x" * 257), P.BAD_VALUE),
    "negative number": (changed(GOOD_REPORT, svc_seen="-1"), P.BAD_VALUE),
    "hex number": (changed(GOOD_REPORT, svc_seen="0x1f"), P.BAD_VALUE),
    "16 digits": (changed(GOOD_REPORT, svc_seen="1" * 16), P.BAD_VALUE),
    "empty number": (changed(GOOD_REPORT, svc_seen=""), P.BAD_VALUE),
    "leading zero": (changed(GOOD_REPORT, svc_seen="07"), P.BAD_VALUE),
    "members unsorted": (changed(GOOD_REPORT, svc_members="n1,%2D"), P.BAD_VALUE),
    "members twice": (changed(GOOD_REPORT, svc_members="%2D,%2D"), P.BAD_VALUE),
    "members unknown": (changed(GOOD_REPORT, svc_members="n1,zz"), P.UNKNOWN_NAME),
    "local without colon": (changed(GOOD_REPORT, svc_local="database"), P.BAD_VALUE),
    "local unknown state": (changed(GOOD_REPORT, svc_local="database:running"), P.BAD_VALUE),
    "local unknown service": (changed(GOOD_REPORT, svc_local="nosuch:started"), P.UNKNOWN_NAME),
    "local twice": (changed(GOOD_REPORT, svc_local="database:started database:stopped"), P.BAD_VALUE),
    "suspect ms bad": (changed(GOOD_REPORT, svc_suspects="%2D:1.5"), P.BAD_VALUE),
    "last flag bad": (changed(GOOD_REPORT, svc_last="yes"), P.BAD_VALUE),
    "last announced missing": (changed(GOOD_REPORT, svc_l_seq=None), P.MISSING),
    "table count short": (changed(GOOD_REPORT, svc_l_n="4"), P.UNKNOWN_NAME),
    "table count huge": (changed(GOOD_REPORT, svc_l_n="999999999"), P.UNKNOWN_NAME),
    "entry missing": (changed(GOOD_REPORT, svc_l_e4=None), P.MISSING),
    "entry service twice": (changed(GOOD_REPORT, svc_l_e1=fields_of(GOOD_REPORT)["svc_l_e0"]), P.BAD_VALUE),
    "entries out of order": (changed(GOOD_REPORT, svc_l_e0=fields_of(GOOD_REPORT)["svc_l_e1"],
                                     svc_l_e1=fields_of(GOOD_REPORT)["svc_l_e0"]), P.BAD_VALUE),
    "entry too few tokens": (changed(GOOD_REPORT, svc_l_e0="database 1 0"), P.BAD_VALUE),
    "entry double space": (changed(GOOD_REPORT, svc_l_e0=fields_of(GOOD_REPORT)["svc_l_e0"].replace(" ", "  ", 1)),
                           P.BAD_VALUE),
    "entry unknown service": (entry_field(name="nosuch"), P.UNKNOWN_NAME),
    "entry flag": (entry_field(enabled="2"), P.BAD_VALUE),
    "entry unknown placement": (entry_field(placement="n9"), P.UNKNOWN_NAME),
    "entry avoid unsorted": (entry_field(avoid="n1,%2D"), P.BAD_VALUE),
    "entry avoid empty item": (entry_field(avoid="n1,"), P.BAD_VALUE),
    "entry state": (entry_field(state="STARTED"), P.BAD_VALUE),
    "entry disabled by": (entry_field(disabled_by="cosmic_ray"), P.BAD_VALUE),
    "unexpected svc field": (changed(GOOD_REPORT, svc_extra="1"), P.UNEXPECTED),
    "entry beyond the count": (changed(GOOD_REPORT, svc_l_e5="x"), P.UNEXPECTED),
    "announce fields without announce": (changed(GOOD_REPORT, svc_last="0"), P.UNEXPECTED),
    "forward kind": (changed(GOOD_FORWARD, svc_kind="other"), P.BAD_VALUE),
    "forward recovery with target": (changed(GOOD_FORWARD, svc_kind="recovery", svc_op="relocate"), P.BAD_VALUE),
    "forward op": (changed(GOOD_FORWARD, svc_op="migrate"), P.BAD_VALUE),
    "forward recovery op": (changed(GOOD_FORWARD, svc_kind="recovery", svc_op="freeze", svc_target="-"),
                            P.BAD_VALUE),
    "forward bad service name": (changed(GOOD_FORWARD, svc_service="a b"), P.BAD_VALUE),
    "forward missing id": (changed(GOOD_FORWARD, svc_id=None), P.MISSING),
    "reply refusal": (changed(Reply(1, None), svc_refusal="Service does not exist"), P.BAD_VALUE),
    "too large": (changed(GOOD_REPORT, svc_extra="x" * sw.MAX_BODY), P.TOO_LARGE),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_message_is_refused_with_its_problem(name: str) -> None:
    fields, problem = CASES[name]
    got = sw.decode(fields, CAT)
    assert isinstance(got, sw.WireError), got
    assert got.problem is problem, got


def test_the_unmodified_cases_decode() -> None:
    """The refusals above come from the change, not from a broken base message."""
    assert sw.decode(fields_of(GOOD_REPORT), CAT) == GOOD_REPORT
    assert sw.decode(fields_of(GOOD_FORWARD), CAT) == GOOD_FORWARD
    assert sw.decode(changed(GOOD_FORWARD, svc_service="nosuch", svc_target="nosuch"), CAT) == Forward(
        "node two", 3, AdminRequest(AdminOp.RELOCATE, "nosuch", "nosuch"))  # the coordinator refuses these


def test_a_sender_other_than_the_transports_src_is_refused() -> None:
    fields = fields_of(GOOD_FORWARD)
    assert sw.decode(fields, CAT, src="node two") == GOOD_FORWARD
    got = sw.decode(fields, CAT, src="n1")
    assert isinstance(got, sw.WireError) and got.problem is P.SENDER
    assert sw.decode(fields_of(Reply(4, Refusal.FROZEN)), CAT, src="n1") == Reply(4, Refusal.FROZEN)


def test_an_announce_must_carry_every_service_of_the_catalog() -> None:
    smaller = Announce("n1", 1, frozenset({"n1"}), {s: Entry() for s in SERVICES[:-1]})
    got = sw.decode(fields_of(smaller), CAT)
    assert isinstance(got, sw.WireError) and got.problem is P.UNKNOWN_NAME


@settings(max_examples=300, deadline=None)
@given(any_message, st.data())
def test_any_damage_to_a_field_is_refused_or_decodes_to_a_whole_message(message: ServiceMessage,
                                                                         data: st.DataObject) -> None:
    fields = fields_of(message)
    name = data.draw(st.sampled_from(sorted(fields)))
    fields[name] = data.draw(st.text(max_size=60) | st.sampled_from(["", "-", "0", "1", " ", ",", ":", "%"]))
    got = sw.decode(fields, CAT)
    assert isinstance(got, (sw.WireError, Announce, Report, Forward, Reply))
    if not isinstance(got, sw.WireError):  # the damage happened to spell another valid value: its only spelling
        assert fields_of(got) == fields


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["t", "svc_v", "svc_from", "svc_id", "svc_l_n", "svc_e0", "svc_n", "x"]),
                       st.text(max_size=30)))
def test_random_fields_never_raise(fields: dict[str, str]) -> None:
    fields.setdefault("t", sw.REPORT)
    assert isinstance(sw.decode(fields, CAT), (sw.WireError, Announce, Report, Forward, Reply))


# --- size -----------------------------------------------------------------------------------------

def big_catalog(services: int, nodes: int = 3, name_len: int = 10) -> Catalog:
    return Catalog(tuple(NodeSpec(f"node{i:0{name_len - 4}d}", i) for i in range(1, nodes + 1)),
                   tuple(ServiceSpec(f"s{i:0{name_len - 1}d}") for i in range(services)))


def test_the_largest_message_is_an_upper_bound_of_every_message() -> None:
    cat = big_catalog(40)
    bound = sw.largest_message_size(cat)
    names = [n.name for n in cat.nodes]
    full = Entry(True, True, names[0], True, sw.MAX_NUMBER, sw.MAX_NUMBER, frozenset(names), names[1], names[2],
                 ServiceState.RECOVERING, DisabledBy.AUTOSTART)
    announce = Announce(names[2], sw.MAX_NUMBER, frozenset(names), {s: full for s in cat.names})
    report = Report(names[0], frozenset(names), sw.MAX_NUMBER, announce,
                    {s: ServiceState.RECOVERING for s in cat.names}, {n: sw.MAX_NUMBER for n in names})
    for message in (announce, report, replace(report, last=None)):
        fields = sw.encode(message)
        assert not isinstance(fields, sw.WireError)
        assert sw.body_size(fields) <= bound
    assert sw.body_size(sw.encode(report)) == bound  # type: ignore[arg-type]


def test_a_catalog_beyond_one_datagram_is_refused_and_its_message_not_encoded() -> None:
    """About 280 services of 10-character names fit on 3 nodes; 400 do not: check_catalog says so, and the
    encoder refuses the too large message instead of handing the transport something it cannot send."""
    fits, too_many = big_catalog(280), big_catalog(400)
    assert sw.check_catalog(fits) == []
    assert sw.largest_message_size(fits) <= sw.MAX_BODY < sw.largest_message_size(too_many)
    problems = sw.check_catalog(too_many)
    assert len(problems) == 1 and "400 services on 3 nodes" in problems[0] and "more than one datagram" in problems[0]
    names = [n.name for n in too_many.nodes]
    entry = Entry(True, True, names[0], True, sw.MAX_NUMBER, sw.MAX_NUMBER, frozenset(names), names[0], names[0],
                  ServiceState.RECOVERING, DisabledBy.RECOVERY)
    big = Announce(names[0], 1, frozenset(names), {s: entry for s in too_many.names})
    got = sw.encode(Report(names[0], frozenset(names), 1, big, {s: ServiceState.STARTED for s in too_many.names}, {}))
    assert isinstance(got, sw.WireError) and got.problem is P.TOO_LARGE


def test_a_typical_catalog_is_far_below_the_bound() -> None:
    assert sw.largest_message_size(big_catalog(20, nodes=5)) < 8 * 1024


def test_a_name_the_decoder_would_refuse_is_a_catalog_problem() -> None:
    bad = Catalog((NodeSpec("n1", 1), NodeSpec("x" * 300, 2)), (ServiceSpec("tab\there"),))
    problems = sw.check_catalog(bad)
    assert len(problems) == 2 and "node name" in problems[0] and "service name" in problems[1]
