"""Writers of small Heartbeat configuration directories for the config tests."""
from __future__ import annotations

from pathlib import Path

from hbd.config.authkeys import parse_authkeys
from hbd.config.hacf import parse_hacf
from hbd.config.model import AuthKeys, HaCf
from hbd.errors import Problem, Problems

HACF = "keepalive 1\ndeadtime 10\nbcast eth0\nauto_failback on\nlogfacility daemon\nnode n1 n2\n"
AUTHKEYS = "auth 1\n1 sha1 0123456789abcdef\n"
HARESOURCES = "n1 IPaddr2::192.0.2.10/24/eth0 drbddisk::r0 Filesystem::/dev/drbd0::/srv::ext4\n"


def write_dir(tmp_path: Path, hacf: str | None = HACF, authkeys: str | None = AUTHKEYS,
              haresources: str | None = HARESOURCES, authkeys_mode: int = 0o600) -> Path:
    """A config directory with the three files (None leaves a file out)."""
    directory = tmp_path / "ha.d"
    directory.mkdir(exist_ok=True)
    for name, text in (("ha.cf", hacf), ("authkeys", authkeys), ("haresources", haresources)):
        if text is not None:
            (directory / name).write_text(text)
    if authkeys is not None:
        (directory / "authkeys").chmod(authkeys_mode)
    return directory


def hacf_of(tmp_path: Path, text: str, node: str = "n1") -> tuple[HaCf | None, list[Problem]]:
    path = tmp_path / "ha.cf"
    path.write_text(text)
    problems = Problems()
    return parse_hacf(path, problems, node), problems.items


def authkeys_of(tmp_path: Path, text: str, mode: int = 0o600) -> tuple[AuthKeys | None, list[Problem]]:
    path = tmp_path / "authkeys"
    path.write_text(text)
    path.chmod(mode)
    problems = Problems()
    return parse_authkeys(path, problems), problems.items


def texts(problems: list[Problem], severity: str) -> list[str]:
    return [p.text for p in problems if p.severity == severity]


def one_error(problems: list[Problem]) -> Problem:
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1, f"expected one error, got {[str(p) for p in problems]}"
    return errors[0]
