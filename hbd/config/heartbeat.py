"""Load a Heartbeat configuration directory (ha.cf, authkeys, haresources) into a HeartbeatConfig.

hbd runs Heartbeat's haresources mode only (`crm off`), so haresources is required and `autojoin`
other than `none` is refused, as Heartbeat refuses it in that mode.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hbd.config.authkeys import parse_authkeys
from hbd.config.hacf import local_node_name, read_hacf
from hbd.config.haresources import parse_haresources
from hbd.config.model import AuthKeys, HaCf, HeartbeatConfig
from hbd.config.units import parse_bool
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
    if keys is not None and hacf is not None:
        keys = _crc_policy(hacf, keys, problems)
    # Without a usable node list (none given, or refused) the groups cannot be checked against it.
    groups = parse_haresources(res_path, problems, hacf.nodes if hacf is not None else (nodes or None))
    if hacf is not None:
        _check_resource_mode(hacf, problems, haresources_present=groups is not None)
    if any(p.severity == "error" for p in problems.items[first_problem:]):
        return None
    assert hacf is not None and keys is not None and groups is not None
    return HeartbeatConfig(hacf, keys, groups)


def _crc_policy(hacf: HaCf, keys: AuthKeys, problems: Problems) -> AuthKeys:
    """`accept_crc on` (hbd's own directive): accept crc-signed packets while signing with an HMAC."""
    directive = next((d for d in reversed(hacf.directives) if d.name == "accept_crc"), None)
    if directive is None or not parse_bool(directive.value):
        return keys
    crc = [k.index for k in keys.keys if k.method == "crc"]
    if crc and keys.signing_key.method != "crc":
        problems.warning(hacf.path, directive.line, f"accept_crc on: packets signed with crc key "
                         f"{', '.join(map(str, crc))} are accepted, and anyone who can send to the heartbeat "
                         f"port can forge them; turn it off once every node signs with auth {keys.active}")
    return replace(keys, accept_crc=True)


def _check_resource_mode(hacf: HaCf, problems: Problems, haresources_present: bool) -> None:
    autojoin = next((d for d in reversed(hacf.directives) if d.name == "autojoin"), None)
    if autojoin is not None and autojoin.value != "none" and haresources_present:
        problems.error(hacf.path, autojoin.line, f"R1 style resource management conflicts with autojoin set "
                                                 f"(autojoin {autojoin.value}): remove the autojoin line")
    if hacf.auto_failback == "legacy":
        line = next((d.line for d in reversed(hacf.directives) if d.name in ("auto_failback", "nice_failback")), None)
        for text in LEGACY_FAILBACK_WARNINGS:
            problems.warning(hacf.path, line, text)
