"""authkeys: methods, indexes, order of `auth N`, permissions, secrets kept byte for byte."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config.model import AuthKey, AuthKeys
from heartbeat_files import authkeys_of, one_error, texts


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256"])
def test_keyed_methods(tmp_path: Path, method: str) -> None:
    keys, problems = authkeys_of(tmp_path, f"auth 2\n2 {method} s3cret\n")
    assert keys is not None and problems == []
    assert keys.active == 2 and keys.signing_key == AuthKey(2, method, b"s3cret")  # type: ignore[arg-type]


def test_crc_is_accepted_with_a_warning(tmp_path: Path) -> None:
    keys, problems = authkeys_of(tmp_path, "auth 0\n0 crc\n")
    assert keys is not None and keys.signing_key == AuthKey(0, "crc", b"")
    assert any("not authenticated" in t for t in texts(problems, "warning"))


def test_several_keys_and_comments(tmp_path: Path) -> None:
    keys, problems = authkeys_of(tmp_path, "# keys\n\nauth 3\n1 md5 old#key\n  # indented comment\n3 sha1 new extra\n")
    assert keys is not None
    assert [(k.index, k.method, k.secret) for k in keys.keys] == [(1, "md5", b"old#key"), (3, "sha1", b"new")]
    assert texts(problems, "warning") == ["text after the key is ignored (a key is one word)"]


def test_secret_bytes_are_kept_exactly(tmp_path: Path) -> None:
    path = tmp_path / "authkeys"
    path.write_bytes(b"auth 1\n1 sha1 k\xe9y\xff\n")
    path.chmod(0o600)
    from hbd.config.authkeys import parse_authkeys
    from hbd.errors import Problems
    keys = parse_authkeys(path, Problems())
    assert keys is not None and keys.signing_key.secret == b"k\xe9y\xff"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o440])
def test_readable_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    keys, problems = authkeys_of(tmp_path, "auth 1\n1 sha1 k\n", mode)
    error = one_error(problems)
    assert keys is None and error.line is None
    assert f"mode {mode:04o}" in error.text and str(tmp_path / "authkeys") in error.text


@pytest.mark.parametrize("mode", [0o600, 0o620, 0o400, 0o700])
def test_private_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    keys, problems = authkeys_of(tmp_path, "auth 1\n1 sha1 k\n", mode)
    assert keys is not None and problems == []


@pytest.mark.parametrize("text,line,reason", [
    ("1 sha1 k\nauth 1\n", 2, "auth 1 comes after key 1 (line 1)"),
    ("auth 2\n1 sha1 k\n", 1, "Auth Key [2] not found"),
    ("auth 16\n16 sha1 k\n", 2, "Invalid authnum [16]"),
    ("auth 16\n1 sha1 k\n", 1, "Invalid authnum [16]"),
    ("auth 1\n1 sha512 k\n", 2, "Invalid authtype [sha512]"),
    ("auth 1\n1 SHA1 k\n", 2, "method names are lower case"),
    ("auth 1\n1 crc k\n", 2, "Auth method [crc] doesn't use a key"),
    ("auth 1\n1 md5\n", 2, "Auth method [md5] requires a key"),
    ("auth 1\n1 sha1\n", 2, "Auth method [sha1] requires a key"),
    ("auth one\n1 sha1 k\n", 1, "Invalid auth line"),
    ("auth 1\nkey sha1 k\n", 2, "is invalid"),
    ("auth 1\n1\n", 2, "is invalid"),
    ("auth 1\n-1 sha1 k\n1 sha1 k\n", 2, "Invalid authnum [-1]"),
    ("1 sha1 k\n", None, "Missing auth directive"),
    ("", None, "Missing auth directive"),
])
def test_refused_files(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    keys, problems = authkeys_of(tmp_path, text)
    error = one_error(problems)
    assert keys is None and error.line == line and reason in error.text, error


def test_index_zero_and_fifteen(tmp_path: Path) -> None:
    keys, _ = authkeys_of(tmp_path, "auth 15\n0 md5 a\n15 sha1 b\n")
    assert keys is not None and keys.active == 15 and keys.key(0) == AuthKey(0, "md5", b"a")


def test_redefined_key_warns_and_replaces(tmp_path: Path) -> None:
    keys, problems = authkeys_of(tmp_path, "auth 1\n1 md5 a\n1 sha1 b\n")
    assert keys is not None and keys.signing_key == AuthKey(1, "sha1", b"b")
    assert any("defined again" in t for t in texts(problems, "warning"))


def test_missing_file(tmp_path: Path) -> None:
    from hbd.config.authkeys import parse_authkeys
    from hbd.errors import Problems
    problems = Problems()
    assert parse_authkeys(tmp_path / "authkeys", problems) is None
    assert "Cannot open keyfile" in one_error(problems.items).text


# --- a leftover crc key is not a way in (doc/threat-model.md, "crc") --------------------------------

LEFTOVER = "auth 1\n1 sha1 0123456789abcdef\n2 crc\n"


def forged_takeover(keys: AuthKeys) -> bytes:
    from hbd.core import messages as m

    sender = m.Sender("n2", bytes(16), 0x5f000000, 3)
    return m.encode(m.with_control_fields([("t", "hb_takeover"), ("rsc_hold", "all")], sender, seq=0x10000, ts=0,
                                          load="0.00"), keys)


def test_leftover_crc_key_is_warned_about_with_its_line(tmp_path: Path) -> None:
    keys, problems = authkeys_of(tmp_path, LEFTOVER)
    assert keys is not None and not keys.accept_crc
    (warning,) = [p for p in problems if p.severity == "warning"]
    assert warning.line == 3 and warning.text.startswith("key 2 is crc (anyone can compute it): hbd refuses")


def test_crc_signed_packet_is_refused_while_auth_is_an_hmac(tmp_path: Path) -> None:

    from hbd.core import messages as m

    keys, _ = authkeys_of(tmp_path, LEFTOVER)
    assert keys is not None
    forger = AuthKeys("forger", 2, (AuthKey(2, "crc", b""),))
    rejected = m.decode(forged_takeover(forger), keys)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.UNKNOWN_KEY
    assert "is crc: refused while auth 1 is an HMAC" in rejected.detail
    # the node's own key still authenticates, and with accept_crc the crc key does too (rotation away from crc)
    assert isinstance(m.decode(forged_takeover(keys), keys), m.Message)
    from dataclasses import replace

    accepted = m.decode(forged_takeover(forger), replace(keys, accept_crc=True))
    assert isinstance(accepted, m.Message) and accepted.auth_index == 2


def test_a_crc_node_accepts_crc(tmp_path: Path) -> None:
    from hbd.core import messages as m

    keys, _ = authkeys_of(tmp_path, "auth 2\n1 sha1 0123456789abcdef\n2 crc\n")
    assert keys is not None and keys.verifying_key(2) is not None and keys.verifying_key(1) is not None
    assert isinstance(m.decode(forged_takeover(keys), keys), m.Message)


def test_accept_crc_directive_is_read_from_ha_cf_and_warned_about(tmp_path: Path) -> None:
    from hbd.config import load
    from heartbeat_files import write_dir

    hacf = "keepalive 1\ndeadtime 10\nbcast lo\nauto_failback on\nlogfacility daemon\nnode n1 n2\naccept_crc on\n"
    loaded = load(write_dir(tmp_path, hacf, authkeys=LEFTOVER, haresources="# none\n"), "n1")
    assert loaded.heartbeat is not None and loaded.heartbeat.authkeys.accept_crc
    (accept,) = [p for p in loaded.problems if p.file.endswith("ha.cf") and "accept_crc on" in p.text]
    assert accept.line == 7 and accept.severity == "warning" and "anyone who can send" in accept.text
    off = load(write_dir(tmp_path, hacf.replace("accept_crc on", "accept_crc off"), authkeys=LEFTOVER,
                         haresources="# none\n"), "n1")
    assert off.heartbeat is not None and not off.heartbeat.authkeys.accept_crc
