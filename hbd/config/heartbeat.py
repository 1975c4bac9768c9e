"""Load a Heartbeat configuration directory (ha.cf, authkeys, haresources) into a HeartbeatConfig.

hbd runs Heartbeat's haresources mode only (`crm off`), so haresources is required and `autojoin`
other than `none` is refused, as Heartbeat refuses it in that mode.
"""
from __future__ import annotations

from pathlib import Path

from hbd.config.authkeys import parse_authkeys
from hbd.config.hacf import local_node_name, read_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.model import AuthKeys, HaCf, HeartbeatConfig
from hbd.errors import Problems

# Heartbeat 3.0.6 logs these three lines when auto_failback is legacy (its default).
LEGACY_FAILBACK_WARNINGS = (
    "Deprecated 'legacy' auto_failback option selected.",
    "Please convert to 'auto_failback on'.",
    "See documentation for conversion details.",
)


def not_loaded_authkeys(path: Path) -> AuthKeys:
    """Stands for authkeys when the caller did not need them: no keys, so nothing can be signed with it."""
    return AuthKeys(str(path), -1, ())


def load_heartbeat_dir(
    directory: str | Path, problems: Problems, node: str | None = None, need_authkeys: bool = True
) -> HeartbeatConfig | None:
    """Read the three files of `directory`; every problem goes to `problems`; None when unusable."""
    directory = Path(directory)
    hacf_path, keys_path, res_path = (directory / n for n in ("ha.cf", "authkeys", "haresources"))
    first_problem = len(problems.items)
    hacf, nodes = read_hacf(hacf_path, problems, local_node_name(directory, node))
    keys = parse_authkeys(keys_path, problems) if need_authkeys else not_loaded_authkeys(keys_path)
    # Without a usable node list (none given, or refused) the groups cannot be checked against it.
    groups = parse_haresources(res_path, problems, hacf.nodes if hacf is not None else (nodes or None))
    if hacf is not None:
        _check_resource_mode(hacf, problems, haresources_present=groups is not None)
    if any(p.severity == "error" for p in problems.items[first_problem:]):
        return None
    assert hacf is not None and keys is not None and groups is not None
    return HeartbeatConfig(hacf, keys, groups)


def _check_resource_mode(hacf: HaCf, problems: Problems, haresources_present: bool) -> None:
    autojoin = next((d for d in reversed(hacf.directives) if d.name == "autojoin"), None)
    if autojoin is not None and autojoin.value != "none" and haresources_present:
        problems.error(hacf.path, autojoin.line, f"R1 style resource management conflicts with autojoin set "
                                                 f"(autojoin {autojoin.value}): remove the autojoin line")
    if hacf.auto_failback == "legacy":
        line = next((d.line for d in reversed(hacf.directives) if d.name in ("auto_failback", "nice_failback")), None)
        for text in LEGACY_FAILBACK_WARNINGS:
            problems.warning(hacf.path, line, text)
