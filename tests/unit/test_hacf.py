"""ha.cf: units, lexical rules, media, the directive table's decisions, derived values and warnings."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config.hacf import local_node_name
from hbd.config.hacf_directives import DIRECTIVES
from hbd.config.model import PingGroup
from hbd.config.units import parse_bool, parse_c_int, parse_msec
from heartbeat_files import hacf_of, one_error, texts

BASE = "bcast eth0\nnode n1 n2\nlogfacility daemon\n"


@pytest.mark.parametrize("text,millis", [
    ("2", 2000), ("1.5", 1500), ("1500ms", 1500), ("1500MS", 1500), ("1500msec", 1500), ("250Ms", 250),
    ("499us", 0), ("501us", 1), ("1000000us", 1000), ("1000000usec", 1000), ("0.001", 1), ("0", 0), (".5", 500), ("1 ms", 1),
])
def test_time_units(text: str, millis: int) -> None:
    assert parse_msec(text) == (millis, None)


@pytest.mark.parametrize("text", ["2s", "ms", "abc", "", "-1", "1m", "10min", "1e3"])
def test_time_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_msec(text)


def test_time_lenient_readings_are_noted() -> None:
    assert parse_msec("1.2.3")[0] == 1200 and "1.2" in (parse_msec("1.2.3")[1] or "")
    assert parse_msec("10msx")[0] == 10 and parse_msec("10msx")[1] is not None


def test_no_s_unit_hint() -> None:
    with pytest.raises(ValueError, match="no `s` unit"):
        parse_msec("2s")


@pytest.mark.parametrize("word,value", [(w, True) for w in ("true", "ON", "Yes", "y", "1")]
                         + [(w, False) for w in ("false", "off", "NO", "n", "0")])
def test_booleans(word: str, value: bool) -> None:
    assert parse_bool(word) is value


@pytest.mark.parametrize("word", ["enabled", "2", "", "oui"])
def test_bad_booleans(word: str) -> None:
    with pytest.raises(ValueError):
        parse_bool(word)


def test_c_int_reads_like_atoi() -> None:
    assert parse_c_int("694") == (694, None)
    assert parse_c_int("694x")[0] == 694 and parse_c_int("694x")[1]
    assert parse_c_int("abc")[0] == 0 and parse_c_int("abc")[1]


def test_comma_and_space_separated_values_apply_one_by_one(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "bcast eth0,eth1 eth2\nnode n1,N2\tn3\nlogfacility daemon\n")
    assert hacf is not None, problems
    assert hacf.nodes == ("n1", "n2", "n3")
    assert [m.interface for m in hacf.media] == ["eth0", "eth1", "eth2"]


def test_repeated_scalar_keeps_last_and_warns(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "keepalive 1 2\ndeadtime 20\n")
    assert hacf is not None and hacf.timing.keepalive_ms == 2000
    assert any("given again" in t for t in texts(problems, "warning"))


def test_comment_anywhere_and_leading_whitespace(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "   # comment\n\tbcast eth0 # eth1\nnode n1 n2#n3\nlogfacility daemon\r\n")
    assert hacf is not None, problems
    assert hacf.nodes == ("n1", "n2") and len(hacf.media) == 1


def test_udp_is_an_alias_of_bcast(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "udp eth0\nnode n1 n2\nlogfacility daemon\n")
    assert hacf is not None and hacf.media[0].kind == "bcast"
    assert "directive 'udp' replaced by 'bcast'" in texts(problems, "warning")


def test_unknown_directive(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "keepalivee 2\n")
    assert hacf is None
    error = one_error(problems)
    assert error.line == 4 and "Illegal directive [keepalivee]" in error.text


def test_directive_names_are_case_sensitive(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "Node n3\n")
    assert hacf is None
    assert "write 'node'" in one_error(problems).text


def test_mcast_line(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "mcast eth1 239.0.0.43 694 1 0\nnode n1 n2\nlogfacility daemon\n")
    assert hacf is not None, problems
    medium = hacf.media[0]
    assert (medium.kind, medium.interface, medium.address, medium.port, medium.ttl, medium.loop) == \
        ("mcast", "eth1", "239.0.0.43", 694, 1, False)


@pytest.mark.parametrize("line,reason", [
    ("mcast eth1 239.0.0.43 694 1", "missing its loop"),
    ("mcast eth1 239.0.0.43", "missing its port"),
    ("mcast eth1 192.0.2.1 694 1 0", "not a multicast group"),
    ("mcast eth1 239.0.0.400 694 1 0", "not an IPv4 address"),
    ("mcast eth1 239.0.0.43 694 5 0", "ttl [5]: must be 0-4"),
    ("mcast eth1 239.0.0.43 694 1 2", "loop [2]: must be 0-1"),
    ("mcast eth1 239.0.0.43 0 1 0", "port [0]: must be 1-65535"),
    ("mcast eth1 239.0.0.43 70000 1 0", "port [70000]"),
    ("mcast eth1 239.0.0.43 http 1 0", "not a number"),
    ("mcast6 eth1 ff02::1:2 694 1", "missing its loop"),
    ("mcast6 eth1 fe80::1 694 1 0", "not a multicast group"),
    ("ucast eth1", "missing its peer"),
    ("ucast eth1 192.0.2.300", "not a valid IPv4 address"),
    ("ucast6 eth1 192.0.2.1", "not an IPv6 address"),
    ("bcast averyveryverylongname0", "not an interface name"),
])
def test_bad_media_lines(tmp_path: Path, line: str, reason: str) -> None:
    hacf, problems = hacf_of(tmp_path, "bcast eth0\nnode n1 n2\nlogfacility daemon\n" + line + "\n")
    assert hacf is None
    error = one_error(problems)
    assert error.line == 4 and reason in error.text, error


def test_ucast_peer_forms_and_ignored_words(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "ucast eth0 192.0.2.2 extra\nucast eth1 peer-b.example\n"
                                       "ucast6 eth2 fe80::2%eth2\nnode n1 n2\nlogfacility daemon\n")
    assert hacf is not None, problems
    assert [(m.kind, m.address) for m in hacf.media] == [
        ("ucast", "192.0.2.2"), ("ucast", "peer-b.example"), ("ucast6", "fe80::2%eth2")]
    assert any("ignored: extra" in t for t in texts(problems, "warning"))


def test_udpport_applies_to_bcast_and_ucast_wherever_it_is(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "bcast eth0\nudpport 700\nucast eth1 192.0.2.2\n"
                                       "mcast eth2 239.0.0.1 5405 1 0\nnode n1 n2\nlogfacility daemon\n")
    assert hacf is not None, problems
    assert [m.port for m in hacf.media] == [700, 700, 5405]
    warnings = [p for p in problems if p.severity == "warning"]
    assert len(warnings) == 1 and warnings[0].line == 1 and "Heartbeat would use 694" in warnings[0].text


@pytest.mark.parametrize("value,reason", [("0", "must be 1-65535"), ("65536", "must be 1-65535"),
                                          ("abc", "must be 1-65535")])
def test_bad_udpport(tmp_path: Path, value: str, reason: str) -> None:
    hacf, problems = hacf_of(tmp_path, f"udpport {value}\n" + BASE)
    assert hacf is None and reason in one_error(problems).text


@pytest.mark.parametrize("line", [
    "crm off", "crm no", "pacemaker false", "use_logd no", "use_logd yes", "realtime off", "hopfudge 2",
    "debug 1", "baud 19200", "rtprio 50", "hbgenmethod time", "msgfmt netstring", "uuidfrom nodename",
    "conn_logd_time 60", "coredumps true", "coreroot /var/lib/heartbeat/cores", "syslogmsgfmt false",
    "log_badpack false", "compression zlib", "compression_threshold 2", "traditional_compression no",
    "max_rexmit_delay 250", "memreserve 6500", "env FOO=bar", "cluster linux-ha", "autojoin none",
    "ping 192.0.2.254 198.51.100.254", "auto_failback legacy", "auto_failback Off", "logfile /var/log/ha-log",
    "debugfile /var/log/ha-debug", "warntime 5", "initdead 60", "deadping 40", "deadtime 30",
])
def test_heartbeat_directives_accepted_without_error(tmp_path: Path, line: str) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + line + "\n")
    assert hacf is not None, [str(p) for p in problems]
    assert not texts(problems, "error")


@pytest.mark.parametrize("line", [
    "serial /dev/ttyS0", "respawn hacluster /usr/lib/heartbeat/ipfail",
    "failfast hacluster /usr/lib/heartbeat/ipfail", "apiauth ipfail uid=hacluster",
    "ping6 2001:db8::1",
])
def test_unimplemented_directives_warn(tmp_path: Path, line: str) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + line + "\n")
    assert hacf is not None, [str(p) for p in problems]
    name = line.split()[0]
    assert DIRECTIVES[name].support == "warning"
    assert any(p.line == 4 and p.text.startswith(f"{name} is ignored") for p in problems)


@pytest.mark.parametrize("line,reason", [
    ("stonith baytech /etc/ha.d/conf/stonith.baytech", "STONITH"),
    ("stonith_host * baytech 10.0.0.3 mylogin mysecretpassword", "STONITH"),
    ("crm on", "Pacemaker"), ("crm respawn", "Pacemaker"), ("pacemaker yes", "Pacemaker"),
    ("crm maybe", "invalid value"), ("apiauth ipfail", "uid="), ("hopfudge 256", "0-255"),
    ("debug 300", "0-255"), ("realtime maybe", "not a boolean"), ("auto_failback sometimes", "not a boolean"),
    ("logfacility local9", "not valid"), ("hbgenmethod clock", "use one of"), ("keepalive 0", "more than 0"),
    ("warntime 0", "more than 0"), ("autojoin all", "use one of"), ("ping 192.0.2.999", "IPv4"),
])
def test_refused_values(tmp_path: Path, line: str, reason: str) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + line + "\n")
    assert hacf is None
    error = one_error(problems)
    assert error.line == 4 and reason in error.text, error


def test_crm_may_appear_once(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "crm off\npacemaker off\n")
    assert hacf is None and "given twice" in one_error(problems).text


def test_use_logd_off_without_any_log_is_refused(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "bcast eth0\nnode n1 n2\nuse_logd off\n")
    assert hacf is None and "use_logd is set to off" in one_error(problems).text
    hacf, problems = hacf_of(tmp_path, "bcast eth0\nnode n1 n2\n")
    assert hacf is not None and not hacf.use_logd


def test_nice_failback_is_read_as_heartbeat_does(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "nice_failback on\n")
    assert hacf is not None and hacf.auto_failback == "legacy"
    assert any("obsolete" in t for t in texts(problems, "warning"))
    hacf, _ = hacf_of(tmp_path, BASE + "auto_failback on\nnice_failback on\n")
    assert hacf is not None and hacf.auto_failback == "off"


def test_risky_timings_warn(tmp_path: Path) -> None:
    _, problems = hacf_of(tmp_path, BASE + "keepalive 50ms\ndeadtime 1\nwarntime 2\n")
    warnings = " | ".join(texts(problems, "warning"))
    assert "below 100 ms" in warnings and "not below deadtime" in warnings
    _, problems = hacf_of(tmp_path, BASE + "keepalive 2\ndeadtime 6\n")
    assert any("less than 4 x keepalive" in t for t in texts(problems, "warning"))
    _, problems = hacf_of(tmp_path, BASE + "keepalive 2\ndeadtime 8\nwarntime 1\n")
    assert texts(problems, "warning") == ["warntime 1000 ms is not above keepalive 2000 ms: every heartbeat "
                                          "will be reported late"]


def test_good_timings_give_no_warning(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "keepalive 1\ndeadtime 10\nwarntime 5\ninitdead 30\n")
    assert hacf is not None and problems == []


def test_deadping_too_small(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "keepalive 1\ndeadping 2\n")
    error = one_error(problems)
    assert hacf is None and error.line == 5 and "Ping dead time [2000] is too small" in error.text


def test_non_breaking_spaces_are_read_as_spaces(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, "#\u00a0comment\nbcast\u00a0eth0\nnode\u00a0n1 n2\nlogfacility daemon\n")
    assert hacf is not None and hacf.nodes == ("n1", "n2")
    warnings = [p for p in problems if "U+00A0" in p.text]
    assert len(warnings) == 1 and warnings[0].line == 2 and "1 more lines" in warnings[0].text


def test_invalid_utf8_is_an_error_with_line(tmp_path: Path) -> None:
    path = tmp_path / "ha.cf"
    path.write_bytes(b"bcast eth0\nnode n1 \xff\n")
    from hbd.config.hacf import parse_hacf
    from hbd.errors import Problems
    problems = Problems()
    assert parse_hacf(path, problems, "n1") is None
    assert one_error(problems.items).line == 2


def test_local_node_sources(tmp_path: Path) -> None:
    import os
    assert local_node_name(tmp_path, "N7") == "n7"
    assert local_node_name(tmp_path, None) == os.uname().nodename.lower()
    (tmp_path / "nodeinfo").write_text("Alice\nignored\n")
    assert local_node_name(tmp_path, None) == "alice"
    assert local_node_name(tmp_path, "bob") == "bob"


def test_directives_are_kept_as_written(tmp_path: Path) -> None:
    hacf, _ = hacf_of(tmp_path, BASE + "keepalive 1500ms\n")
    assert hacf is not None
    assert [(d.name, d.value, d.line) for d in hacf.directives][-1] == ("keepalive", "1500ms", 4)


TYPICAL_HACF = """\
# The directives of Heartbeat's annotated sample ha.cf, as users uncomment them.
debugfile /var/log/ha-debug
logfile\t/var/log/ha-log
logfacility\tlocal0
keepalive 2
deadtime 30
warntime 10
initdead 120
udpport\t694
baud\t19200
serial\t/dev/ttyS0\t# Linux
bcast\teth0\t\t# Linux
mcast eth0 225.0.0.1 694 1 0
ucast eth0 192.168.1.2
auto_failback on
watchdog /dev/watchdog
node\tken3
node\tkathy
ping 10.10.10.254
ping_group group1 10.10.10.254 10.10.10.253
respawn hacluster /usr/lib/heartbeat/ipfail
apiauth ipfail gid=haclient uid=hacluster
hopfudge 1
use_logd yes
conn_logd_time 60
compression\tbz2
compression_threshold 2
"""


def test_heartbeat_sample_file_is_accepted(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, TYPICAL_HACF.replace("\n", "\r\n"), node="KEN3")
    assert hacf is not None, [str(p) for p in problems]
    assert not texts(problems, "error")
    assert [(m.kind, m.interface, m.port) for m in hacf.media] == [
        ("bcast", "eth0", 694), ("mcast", "eth0", 694), ("ucast", "eth0", 694)]
    assert hacf.ping_nodes == ("10.10.10.254",) and hacf.use_logd and hacf.auto_failback == "on"
    assert hacf.ping_groups == (PingGroup("group1", ("10.10.10.254", "10.10.10.253")),)
    ignored = sorted(p.text.split()[0] for p in problems if " is ignored: " in p.text)
    assert ignored == ["apiauth", "respawn", "serial"]


def test_ping_nodes_and_groups(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "ping 192.0.2.254 198.51.100.254\nping_group gw 192.0.2.1, 192.0.2.2\n")
    assert hacf is not None and not texts(problems, "error")
    assert hacf.ping_nodes == ("192.0.2.254", "198.51.100.254")
    assert hacf.ping_groups == (PingGroup("gw", ("192.0.2.1", "192.0.2.2")),)


@pytest.mark.parametrize("line,why", [
    ("ping_group gw", "at least one host"), ("ping_group gw 192.0.2.999", "IPv4"),
    ("ping_group gw 192.0.2.1\nping_group gw 192.0.2.2", "defined twice"),
])
def test_bad_ping_group(tmp_path: Path, line: str, why: str) -> None:
    _, problems = hacf_of(tmp_path, BASE + line + "\n")
    assert any(why in t for t in texts(problems, "error")), [str(p) for p in problems]
