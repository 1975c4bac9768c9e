"""Every configuration parser under a hypothesis fuzz of files: a problem list or a ConfigError naming file
and line, never a traceback; bounded time and memory.

Files are drawn from each grammar's own words (directives, keys, methods, resource specs, cluster.conf
elements and attributes) mixed with hostile material: NUL and control bytes, non-UTF-8, CRLF, 20 000-
character lines and tokens, huge, negative, NaN and 1e309 numbers, unbalanced quotes and brackets, XML
entity expansion (a "billion laughs"), external entities, deep nesting and truncated documents. Each is
read by its own parser (parse_hacf, parse_authkeys, parse_haresources, load_cluster_conf, the DRBD
resource reader) and by `hbd.config.load()` of a whole directory, as `hbd config check` and the daemon do.
"""
from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbd.config import load
from hbd.config.authkeys import parse_authkeys
from hbd.config.clusterconf import load_cluster_conf
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.runnable import defined_drbd_resources
from hbd.errors import ConfigError, Problem, Problems
from heartbeat_files import AUTHKEYS, HACF, HARESOURCES

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TIME_BOUND_S = 10.0  # a hang detector, not a performance target: a parse of a bounded file takes milliseconds
MEMORY_BOUND = 64 << 20
BIG = 3 << 20  # bytes of a repeated file

HOSTILE = [b"\x00", b"\xff\xfe", b"\xc3\x28", b"\r\n", b"\t", b"\x1b[2J", b"'", b'"', b"\\", b"=", b"::", b"/",
           b"999999999999999999999999", b"-1", b"NaN", b"1e309", b"inf", b"0x1f", b".300", b"500ms", b"1h",
           b"x" * 20_000, b"#", b"(", b")", b"<", b">", b"&", b";", b"$(reboot)", b"../../etc/passwd"]
HACF_WORDS = [b"keepalive", b"deadtime", b"warntime", b"initdead", b"udpport", b"bcast", b"mcast", b"ucast",
              b"node", b"auto_failback", b"logfacility", b"logfile", b"debugfile", b"crm", b"realtime",
              b"watchdog", b"hopfudge", b"accept_crc", b"ping", b"respawn", b"stonith_host", b"alert",
              b"eth0", b"eth1", b"239.0.0.1", b"192.0.2.10", b"n1", b"n2", b"on", b"off", b"legacy", b"2", b"10"]
AUTHKEYS_WORDS = [b"auth", b"1", b"2", b"15", b"sha1", b"md5", b"sha256", b"crc", b"KEY", b"0123456789abcdef"]
HARESOURCES_WORDS = [b"n1", b"n2", b"IPaddr2::192.0.2.10/24/eth0", b"IPaddr::192.0.2.11", b"drbddisk::r0",
                     b"drbddisk", b"Filesystem::/dev/drbd0::/srv::ext4", b"hbdsvc", b"MailTo::root",
                     b"192.0.2.12", b"\\\n", b"::", b"IPaddr2::"]
DRBD_WORDS = [b"resource", b"r0", b"{", b"}", b"on", b"n1", b"device", b"/dev/drbd0;", b"disk", b"address",
              b"192.0.2.11:7788;", b"include", b"common", b"#"]
XML_PIECES = [b"<cluster name='c' config_version='1'>", b"</cluster>", b"<clusternodes>", b"</clusternodes>",
              b"<clusternode name='n1' nodeid='1'/>", b"<clusternode name='n2' nodeid='2'/>", b"<rm>", b"</rm>",
              b"<service name='s' autostart='1'>", b"</service>", b"<ip address='192.0.2.10' monitor_link='1'/>",
              b"<fs name='f' device='/dev/x' mountpoint='/srv' fstype='ext4'/>", b"<script name='x' file='/x'/>",
              b"<failoverdomains>", b"</failoverdomains>", b"<failoverdomain name='d' ordered='1'>",
              b"<failoverdomainnode name='n1' priority='-5'/>", b"</failoverdomain>", b"<fencedevices/>",
              b"<!--", b"-->", b"<![CDATA[", b"]]>", b"&lol9;", b"&xxe;", b"<a" * 50, b"</a>", b"'", b"<"]
BILLION_LAUGHS = (b"<?xml version='1.0'?>\n<!DOCTYPE cluster [<!ENTITY lol 'lol'>"
                  + b"".join(b"<!ENTITY lol%d '%s'>" % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b"<!ENTITY xxe SYSTEM 'file:///etc/shadow'>]>\n")


def lines_of(words: list[bytes], seed_text: str) -> st.SearchStrategy[bytes]:
    token = st.sampled_from(words + HOSTILE) | st.binary(max_size=40)
    line = st.lists(token, max_size=8).map(lambda ts: b" ".join(ts))
    seed_lines = seed_text.encode().splitlines()
    mixed = st.lists(st.sampled_from(seed_lines) | line, max_size=25)
    text = mixed.map(lambda ls: b"\n".join(ls) + b"\n") | st.binary(max_size=2000)
    # now and then the same text repeated to a few MB: past every size limit, as a generated file can be
    return st.tuples(text, st.sampled_from([1, 1, 1, 1, BIG])).map(lambda tr: tr[0] * (1 if tr[1] == 1 else
                                                                                     BIG // max(len(tr[0]), 1)))


def xml_doc() -> st.SearchStrategy[bytes]:
    body = st.lists(st.sampled_from(XML_PIECES + HOSTILE), max_size=40).map(b"".join)
    return st.tuples(st.sampled_from([b"", b"<?xml version='1.0'?>\n", BILLION_LAUGHS]), body).map(b"".join)


def bounded(call) -> tuple[object, list[Problem]]:
    """Run a parser: its result or ConfigError (any other exception fails the test), within the bounds."""
    tracemalloc.start()
    began = time.monotonic()
    try:
        try:
            result: object = call()
        except ConfigError as exc:
            result = exc
        elapsed = time.monotonic() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < TIME_BOUND_S, elapsed
    assert peak < MEMORY_BOUND, peak
    problems = result.problems if isinstance(result, ConfigError) else []
    return result, problems


def check_problems(problems: list[Problem], path: Path, text: bytes) -> None:
    """Every problem names a file, and a line inside the file when it names one."""
    for problem in problems:
        assert problem.file, problem
        assert problem.text and "Traceback" not in problem.text, problem
        if problem.line is not None and Path(problem.file) == path:
            assert 1 <= problem.line <= text.count(b"\n") + 1, (problem, text.count(b"\n"))


def write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def directory_with(tmp: Path, name: str, data: bytes) -> Path:
    d = tmp / "ha.d"
    d.mkdir(exist_ok=True)
    for default_name, text in (("ha.cf", HACF), ("authkeys", AUTHKEYS), ("haresources", HARESOURCES)):
        write(d / default_name, text.encode())
    write(d / name, data)
    return d


def parsed_with_problems(parser, path: Path, data: bytes, *args) -> None:
    problems = Problems()
    _, raised = bounded(lambda: parser(path, problems, *args))
    check_problems(problems.items + raised, path, data)


@FUZZ
@given(data=lines_of(HACF_WORDS, HACF))
def test_ha_cf(tmp_path_factory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("hacf")
    parsed_with_problems(parse_hacf, write(tmp / "ha.cf", data), data, "n1")
    d = directory_with(tmp, "ha.cf", data)
    _, problems = bounded(lambda: load(d, "n1"))
    check_problems(problems, d / "ha.cf", data)


@FUZZ
@given(data=lines_of(AUTHKEYS_WORDS, AUTHKEYS))
def test_authkeys(tmp_path_factory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("authkeys")
    parsed_with_problems(parse_authkeys, write(tmp / "authkeys", data), data)
    d = directory_with(tmp, "authkeys", data)
    _, problems = bounded(lambda: load(d, "n1"))
    check_problems(problems, d / "authkeys", data)


@FUZZ
@given(data=lines_of(HARESOURCES_WORDS, HARESOURCES))
def test_haresources(tmp_path_factory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("haresources")
    parsed_with_problems(parse_haresources, write(tmp / "haresources", data), data, ("n1", "n2"))
    d = directory_with(tmp, "haresources", data)
    _, problems = bounded(lambda: load(d, "n1"))
    check_problems(problems, d / "haresources", data)


@FUZZ
@given(data=xml_doc())
def test_cluster_conf(tmp_path_factory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("clusterconf")
    path = write(tmp / "cluster.conf", data, 0o644)
    parsed_with_problems(load_cluster_conf, path, data)
    _, problems = bounded(lambda: load(path, "n1"))
    check_problems(problems, path, data)
    for problem in problems:  # an entity is never expanded into a message, nor an external file read
        assert "lollollol" not in problem.text and "root:" not in problem.text, problem


@FUZZ
@given(data=lines_of(DRBD_WORDS, "resource r0 {\n  on n1 { device /dev/drbd0; }\n}\n"))
def test_drbd_config(tmp_path_factory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("drbd")
    path = write(tmp / "r0.res", data, 0o644)
    names, _ = bounded(lambda: defined_drbd_resources((path,)))
    assert isinstance(names, set) and all(isinstance(n, str) and len(n) < 20_001 for n in names), names


def test_the_fuzz_reaches_every_parser_error_path(tmp_path: Path) -> None:
    """The strategies are not all noise: hostile files of each kind are refused with a line number."""
    d = directory_with(tmp_path, "ha.cf", HACF.encode() + b"keepalive NaN\n")
    _, problems = bounded(lambda: load(d, "n1"))
    assert any(p.file.endswith("ha.cf") and p.line == HACF.count("\n") + 1 for p in problems), problems
    d = directory_with(tmp_path, "authkeys", b"auth 1\n1 sha1\n")
    _, problems = bounded(lambda: load(d, "n1"))
    assert any(p.file.endswith("authkeys") and p.line == 2 for p in problems), problems
    path = write(tmp_path / "cluster.conf", BILLION_LAUGHS + b"<cluster name='&lol9;' config_version='1'/>", 0o644)
    result, problems = bounded(lambda: load(path, "n1"))
    assert isinstance(result, ConfigError) and problems, result
