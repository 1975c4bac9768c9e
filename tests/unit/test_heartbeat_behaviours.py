"""heartbeat.md §11 behaviours 1-11: what Heartbeat 3.0.6 accepts and refuses at start, through hbd.config.load."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config.runnable import missing_interfaces
from hbd.config import LoadedConfig, load
from hbd.config.heartbeat import LEGACY_FAILBACK_WARNINGS
from hbd.config.model import Timing
from hbd.errors import ConfigError, Problem
from heartbeat_files import AUTHKEYS, HARESOURCES, write_dir

MEDIA_NODES = "bcast eth0\nnode n1 n2\nlogfacility daemon\nauto_failback on\n"


def accepted(tmp_path: Path, hacf: str, node: str = "n1", **files: object) -> LoadedConfig:
    return load(write_dir(tmp_path, hacf, **files), node)  # type: ignore[arg-type]


def refused(tmp_path: Path, hacf: str, node: str = "n1", **files: object) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load(write_dir(tmp_path, hacf, **files), node)  # type: ignore[arg-type]
    return caught.value.errors


def timing(tmp_path: Path, lines: str) -> Timing:
    loaded = accepted(tmp_path, MEDIA_NODES + lines)
    assert loaded.heartbeat is not None
    return loaded.heartbeat.hacf.timing


def test_behaviour_01_keepalive_units(tmp_path: Path) -> None:
    assert timing(tmp_path, "keepalive 1500ms\n").keepalive_ms == 1500
    assert timing(tmp_path, "keepalive 1.5\n").keepalive_ms == 1500
    (error,) = refused(tmp_path, MEDIA_NODES + "keepalive 1500 ms\n")
    assert error.line == 5 and "without a space (write 1500ms)" in error.text
    (error,) = refused(tmp_path, MEDIA_NODES + "keepalive 2s\n")
    assert error.line == 5 and "'2s'" in error.text


def test_behaviour_02_deadtime_must_exceed_twice_keepalive(tmp_path: Path) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES + "keepalive 500ms\ndeadtime 1\n")
    assert error.line == 6 and "Dead time [1000] is too small compared to keeplive [500]" in error.text
    assert timing(tmp_path, "keepalive 500ms\ndeadtime 1001ms\n").deadtime_ms == 1001


@pytest.mark.parametrize("lines,expected", [
    ("keepalive 2\n", Timing(2000, 30000, 15000, 30000, 30000)),
    ("deadtime 4\n", Timing(1000, 4000, 2000, 12000, 4000)),
    ("deadtime 5900ms\n", Timing(1000, 5900, 2950, 12000, 5900)),
    ("deadtime 6\n", Timing(1000, 6000, 3000, 12000, 6000)),
    ("deadtime 8\n", Timing(1000, 8000, 4000, 16000, 8000)),
    ("deadtime 10\n", Timing(1000, 10000, 5000, 20000, 10000)),
    ("deadtime 10001ms\n", Timing(1000, 10001, 5000, 10001, 10001)),
    ("deadtime 11\n", Timing(1000, 11000, 5500, 11000, 11000)),
    ("deadtime 11\nwarntime 3\ninitdead 40\ndeadping 20\n", Timing(1000, 11000, 3000, 40000, 20000)),
])
def test_behaviour_03_derived_defaults(tmp_path: Path, lines: str, expected: Timing) -> None:
    assert timing(tmp_path, lines) == expected


def test_behaviour_03_small_initdead_warning_only_when_set(tmp_path: Path) -> None:
    derived = accepted(tmp_path, MEDIA_NODES + "deadtime 4\n")
    assert not any("Initial dead time" in p.text for p in derived.problems)
    explicit = accepted(tmp_path, MEDIA_NODES + "deadtime 4\ninitdead 8\n")
    assert any("Initial dead time [8000 ms] may be too small!" in p.text for p in explicit.problems)


def test_behaviour_04_initdead_below_deadtime(tmp_path: Path) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES + "deadtime 30\ninitdead 10\n")
    assert error.line == 6 and "Initial dead time [10000] is smaller than deadtime [30000]" in error.text
    loaded = accepted(tmp_path, MEDIA_NODES + "deadtime 4\ninitdead 5\n")
    assert any(p.severity == "warning" and "Initial dead time [5000 ms] may be too small!" in p.text
               for p in loaded.problems)


def test_behaviour_05_local_node_must_be_listed(tmp_path: Path) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES, node="carol")
    assert "Current node [carol] not in configuration!" in error.text


def test_behaviour_05_node_names_case_insensitive_directives_case_sensitive(tmp_path: Path) -> None:
    loaded = accepted(tmp_path, "bcast eth0\nnode Alice BOB\nlogfacility daemon\n", node="ALICE",
                      haresources="alice httpd\nBob mysql\n")
    assert loaded.heartbeat is not None
    assert loaded.heartbeat.hacf.nodes == ("alice", "bob") and loaded.heartbeat.hacf.local_node == "alice"
    assert [g.node for g in loaded.heartbeat.groups] == ["alice", "bob"]
    (error,) = refused(tmp_path, MEDIA_NODES + "Node n3\n")
    assert "Illegal directive [Node]" in error.text


def test_behaviour_06_comma_and_space_lists(tmp_path: Path) -> None:
    comma = accepted(tmp_path, "bcast eth0,eth1\nnode n1,n2\nlogfacility daemon\n")
    space = accepted(tmp_path, "bcast eth0 eth1\nnode n1 n2\nlogfacility daemon\n")
    assert comma.heartbeat is not None and space.heartbeat is not None
    assert comma.heartbeat.hacf.nodes == space.heartbeat.hacf.nodes == ("n1", "n2")
    assert [m.interface for m in comma.heartbeat.hacf.media] == ["eth0", "eth1"]
    assert [(m.kind, m.interface) for m in space.heartbeat.hacf.media] == [("bcast", "eth0"), ("bcast", "eth1")]


def test_behaviour_07_no_media(tmp_path: Path) -> None:
    (error,) = refused(tmp_path, "node n1 n2\nlogfacility daemon\n")
    assert error.line is None and "No heartbeat media defined" in error.text


def test_behaviour_07_missing_interface_is_a_node_local_error(tmp_path: Path) -> None:
    loaded = accepted(tmp_path, "bcast lo hbdnosuch0\nnode n1 n2\nlogfacility daemon\n")
    found = missing_interfaces(loaded)
    assert [(w.line, w.severity) for w in found] == [(1, "error")]
    assert "no interface hbdnosuch0" in found[0].text


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_behaviour_08_authkeys_readable_is_refused(tmp_path: Path, mode: int) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES, authkeys_mode=mode)
    assert error.file.endswith("authkeys") and f"{mode:04o}" in error.text


@pytest.mark.parametrize("mode", [0o600, 0o620])
def test_behaviour_08_authkeys_private_is_accepted(tmp_path: Path, mode: int) -> None:
    assert accepted(tmp_path, MEDIA_NODES, authkeys_mode=mode).heartbeat is not None


@pytest.mark.parametrize("keys,reason", [
    ("1 sha1 k\nauth 1\n", "comes after key 1"),
    ("auth 1\n1 crc abc\n", "doesn't use a key"),
    ("auth 1\n1 md5\n", "requires a key"),
    ("auth 1\n1 sha1\n", "requires a key"),
])
def test_behaviour_08_authkeys_content(tmp_path: Path, keys: str, reason: str) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES, authkeys=keys)
    assert error.file.endswith("authkeys") and reason in error.text


def test_behaviour_09_haresources_unknown_node(tmp_path: Path) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES, haresources="n1 httpd\ncarol mysql\n")
    assert error.file.endswith("haresources") and error.line == 2 and "[carol]" in error.text


def test_behaviour_09_haresources_missing(tmp_path: Path) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES, haresources=None)
    assert error.file.endswith("haresources") and error.line is None and "Cannot open" in error.text.capitalize()


@pytest.mark.parametrize("value", ["any", "other"])
def test_behaviour_10_autojoin_with_haresources(tmp_path: Path, value: str) -> None:
    (error,) = refused(tmp_path, MEDIA_NODES + f"autojoin {value}\n")
    assert error.file.endswith("ha.cf") and error.line == 5 and "conflicts with autojoin" in error.text


def test_behaviour_11_legacy_failback_warnings(tmp_path: Path) -> None:
    loaded = accepted(tmp_path, "bcast eth0\nnode n1 n2\nlogfacility daemon\n")
    assert loaded.heartbeat is not None and loaded.heartbeat.hacf.auto_failback == "legacy"
    assert [p.text for p in loaded.problems if p.severity == "warning"] == list(LEGACY_FAILBACK_WARNINGS)
    assert LEGACY_FAILBACK_WARNINGS[0] == "Deprecated 'legacy' auto_failback option selected."
    quiet = accepted(tmp_path, MEDIA_NODES)
    assert quiet.problems == ()


def test_default_files_load(tmp_path: Path) -> None:
    loaded = accepted(tmp_path, MEDIA_NODES, authkeys=AUTHKEYS, haresources=HARESOURCES)
    assert loaded.kind == "heartbeat" and loaded.heartbeat is not None
    assert loaded.heartbeat.authkeys.signing_key.method == "sha1"
    assert loaded.heartbeat.group("1") is loaded.heartbeat.groups[0]
