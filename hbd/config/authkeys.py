"""Parse Heartbeat's authkeys file (heartbeat.md §3) into hbd.config.model.AuthKeys.

    auth N                  the key index used to sign outgoing packets
    N METHOD [SECRET]       METHOD crc (no secret), md5, sha1, or sha256 (an hbd extension)

Unlike Heartbeat, a crc key is not accepted on receive while `auth N` names an HMAC key, unless ha.cf says
`accept_crc on` (AuthKeys.verifying_key): a crc is no signature, and a key left over from a rotation
would let anyone on the heartbeat network forge messages (doc/threat-model.md).

Like Heartbeat: blank lines and lines starting with `#` are skipped (a `#` inside a secret is part of
it); the secret is one word and the rest of the line is ignored; indexes run 0-15; a file the group or
others may read is refused (group write alone, 0620, is accepted); `auth N` must come before key N,
because Heartbeat picks the signing key while reading and a file hbd accepts should still work with a
Heartbeat peer during a migration.
"""
from __future__ import annotations

import re
import stat
from pathlib import Path

from hbd.config.model import AuthKey, AuthKeys, AuthMethod
from hbd.config.textfile import MAX_LINE_CHARS, NotReadable, read_bounded
from hbd.errors import Problems

MAXAUTH = 16
MAX_AUTHKEYS_BYTES = 1024 * 1024
KEYED_METHODS = ("md5", "sha1", "sha256")
METHODS: tuple[AuthMethod, ...] = ("crc", "md5", "sha1", "sha256")
_AUTH_LINE = re.compile(r"auth\s*([+-]?\d+)(?:\s.*)?", re.DOTALL)


def check_mode(path: Path, problems: Problems) -> bool:
    """Refuse a key file the group or others can read; the message names the file and its mode."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        problems.error(path, None, f"Cannot open keyfile [{path}]: {exc.strerror or exc}")
        return False
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        problems.error(path, None, f"Bad permissions on keyfile [{path}]: mode {stat.S_IMODE(mode):04o} lets the "
                                   f"group or others read the keys; 600 recommended (chmod 600 {path})")
        return False
    return True


def parse_authkeys(path: str | Path, problems: Problems) -> AuthKeys | None:
    """Read and check authkeys; problems go to `problems`; None when the file cannot be used."""
    path = Path(path)
    if not check_mode(path, problems):
        return None
    try:
        # Secrets are bytes; surrogateescape keeps any byte of the file exactly as it was.
        text = read_bounded(path, MAX_AUTHKEYS_BYTES).decode("utf-8", errors="surrogateescape")
    except OSError as exc:
        problems.error(path, None, f"Cannot open keyfile [{path}]: {exc.strerror or exc}")
        return None
    except NotReadable as exc:
        problems.error(path, None, f"Cannot read keyfile [{path}]: {exc}")
        return None
    first_problem = len(problems.items)
    keys: dict[int, tuple[AuthKey, int]] = {}
    auth: tuple[int, int] | None = None  # (index, line)
    active: int | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        if len(raw) > MAX_LINE_CHARS:
            problems.error(path, number, f"line longer than {MAX_LINE_CHARS} characters ({len(raw)})")
            continue
        line = raw.strip(" \t\r\f\v")
        if not line or line.startswith("#"):
            continue
        if line.startswith("a"):
            auth = _auth_line(path, problems, number, line, auth)
            continue
        key = _key_line(path, problems, number, line)
        if key is None:
            continue
        if key.index in keys:
            problems.warning(path, number, f"key {key.index} is defined again (first on line {keys[key.index][1]}); "
                                           f"this definition replaces it")
        keys[key.index] = (key, number)
        if auth is not None and key.index == auth[0]:
            active = key.index
    line_errors = any(p.severity == "error" for p in problems.items[first_problem:])
    if line_errors:
        pass  # a bad `auth` or key line already explains why no signing key was found
    elif auth is None:
        problems.error(path, None, f"Missing auth directive in keyfile [{path}] (add `auth N` before the keys)")
    elif active is None and auth[0] in keys and keys[auth[0]][1] < auth[1]:
        problems.error(path, auth[1], f"auth {auth[0]} comes after key {auth[0]} (line {keys[auth[0]][1]}); "
                                      f"Heartbeat reads `auth N` first: move this line above the keys")
    elif active is None and not 0 <= auth[0] < MAXAUTH:
        problems.error(path, auth[1], f"Invalid authnum [{auth[0]}]: key indexes are 0-{MAXAUTH - 1}")
    elif active is None:
        problems.error(path, auth[1], f"Auth Key [{auth[0]}] not found in keyfile [{path}]")
    if any(p.severity == "error" for p in problems.items[first_problem:]) or active is None:
        return None
    signing = keys[active][0]
    if signing.method == "crc":
        problems.warning(path, auth[1] if auth else None, "auth uses crc: packets are not authenticated; "
                                                         "anyone on the network can forge heartbeats (use sha256 or sha1)")
    for key, key_line in sorted(keys.values(), key=lambda kv: kv[1]):
        if key.method == "crc" and signing.method != "crc":
            problems.warning(path, key_line, f"key {key.index} is crc (anyone can compute it): hbd refuses packets "
                                         f"signed with it while auth {active} is {signing.method}; remove this "
                                         f"leftover, or set `accept_crc on` in ha.cf while rotating away from crc")
    return AuthKeys(str(path), active, tuple(k for k, _ in sorted(keys.values(), key=lambda kv: kv[0].index)))


def _auth_line(path: Path, problems: Problems, number: int, line: str,
               earlier: tuple[int, int] | None) -> tuple[int, int] | None:
    match = _AUTH_LINE.fullmatch(line)
    if match is None:
        problems.error(path, number, f"Invalid auth line [{line}] (expected `auth N`)")
        return earlier
    index = int(match.group(1))
    if earlier is not None:
        problems.warning(path, number, f"auth is given again (first on line {earlier[1]}); this one is used")
    return index, number


def _key_line(path: Path, problems: Problems, number: int, line: str) -> AuthKey | None:
    words = line.split()
    if len(words) < 2 or not re.fullmatch(r"[+-]?\d+", words[0]):
        problems.error(path, number, f"Auth line [{line}] is invalid (expected `N METHOD [KEY]`)")
        return None
    index, method = int(words[0]), words[1]
    secret = words[2] if len(words) > 2 else ""
    if not 0 <= index < MAXAUTH:
        problems.error(path, number, f"Invalid authnum [{index}]: key indexes are 0-{MAXAUTH - 1}")
        return None
    if method not in METHODS:
        hint = f" (method names are lower case: {method.lower()})" if method.lower() in METHODS else ""
        problems.error(path, number, f"Invalid authtype [{method}]: use sha256, sha1, md5 or crc{hint}")
        return None
    if secret and method == "crc":
        problems.error(path, number, f"Auth method [{method}] doesn't use a key")
        return None
    if not secret and method in KEYED_METHODS:
        problems.error(path, number, f"Auth method [{method}] requires a key")
        return None
    if len(words) > 3:
        problems.warning(path, number, "text after the key is ignored (a key is one word)")
    return AuthKey(index, method, secret.encode("utf-8", errors="surrogateescape"))
