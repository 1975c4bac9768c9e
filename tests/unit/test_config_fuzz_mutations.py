"""Fuzzing the Heartbeat config parsers: random bytes and mutated valid files never raise anything but ConfigError.

Each parser also keeps its contract on every input: it returns a value exactly when it recorded no error.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbd.cli.main import dispatch
from hbd.config.authkeys import parse_authkeys
from hbd.config.hacf import parse_hacf
from hbd.config.haresources import parse_haresources
from hbd.errors import ConfigError, Problems

VALID_HACF = (
    "# a full file\nudpport 694\nkeepalive 500ms\ndeadtime 5\nwarntime 2\ninitdead 30\ndeadping 6\n"
    "bcast eth0 eth1\nmcast eth2 239.0.0.43 694 1 0\nucast eth3 192.0.2.2\nmcast6 eth2 ff02::1:2 694 1 0\n"
    "ucast6 eth3 fe80::2%eth3\nping 192.0.2.254\nauto_failback on\nnode n1, n2\nlogfile /var/log/ha-log\n"
    "logfacility local0\nuse_logd no\nrealtime on\nhopfudge 1\ncrm off\nautojoin none\nrespawn hacluster /x\n"
)
VALID_AUTHKEYS = "# keys\nauth 2\n1 md5 first-key\n2 sha1 second#key\n3 crc\n4 sha256 k\n"
VALID_HARESOURCES = ("n1 192.0.2.10 drbddisk::r0 \\\n  Filesystem::/dev/drbd0::/srv::ext4 # db\n"
                     "N2 IPaddr2::192.0.2.11/24/eth0:1 httpd\n")
# Characters that matter to the lexers, so that mutations hit interesting paths.
SPICE = list(" \t,#\\:\n\r.0123456789msuxa\u00a0\x00") + ["ms", "::", " 2s", "auth", "node", "\xff"]

Parser = Callable[[Path, Problems], object]
PARSERS: dict[str, tuple[Parser, str]] = {
    "ha.cf": (lambda p, pr: parse_hacf(p, pr, "n1"), VALID_HACF),
    "authkeys": (parse_authkeys, VALID_AUTHKEYS),
    "haresources": (lambda p, pr: parse_haresources(p, pr, ("n1", "n2")), VALID_HARESOURCES),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _check(parser: Parser, path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)
    problems = Problems()
    try:
        result = parser(path, problems)
    except ConfigError:
        return
    assert (result is None) == problems.has_errors, (data, [str(p) for p in problems.items])


@st.composite
def mutated(draw: st.DrawFn, valid: str) -> bytes:
    text = valid
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "swap-lines", "dup-line", "replace-word"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(st.sampled_from(SPICE) | st.text(max_size=3)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)):]
        elif op in ("swap-lines", "dup-line"):
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if op == "swap-lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines[i])
            text = "\n".join(lines)
        else:
            words = text.split(" ")
            words[draw(st.integers(0, len(words) - 1))] = draw(st.text(max_size=6) | st.sampled_from(SPICE))
            text = " ".join(words)
    return text.encode("utf-8", errors="surrogatepass")


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", list(PARSERS))
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(workdir: Path, name: str, data: bytes) -> None:
    parser, _ = PARSERS[name]
    _check(parser, workdir / name, data)


@pytest.mark.parametrize("name", list(PARSERS))
@FUZZ
@given(data=st.data())
def test_mutated_valid_files(workdir: Path, name: str, data: st.DataObject) -> None:
    parser, valid = PARSERS[name]
    _check(parser, workdir / name, data.draw(mutated(valid)))


@pytest.mark.parametrize("name", list(PARSERS))
def test_valid_fuzz_seeds_are_valid(workdir: Path, name: str) -> None:
    # The mutations start from files that parse: otherwise the fuzzing would only explore error paths.
    parser, valid = PARSERS[name]
    path = workdir / name
    path.write_text(valid)
    path.chmod(0o600)
    problems = Problems()
    assert parser(path, problems) is not None, [str(p) for p in problems.items]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_config_check_never_crashes(workdir: Path, data: st.DataObject, capsys: pytest.CaptureFixture[str]) -> None:
    directory = workdir / "dir"
    directory.mkdir(exist_ok=True)
    for name, (_, valid) in PARSERS.items():
        (directory / name).write_bytes(data.draw(mutated(valid), label=name))
    (directory / "authkeys").chmod(0o600)
    rc = dispatch(["config", "check", "-c", str(directory), "--node", "n1"])
    out = capsys.readouterr()
    assert rc in (0, 1)
    assert "Traceback" not in out.out + out.err
    assert (rc == 1) == any(": error: " in line for line in out.out.splitlines())
