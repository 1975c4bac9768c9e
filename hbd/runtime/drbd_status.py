"""DRBD's state for `hbd status`: role, disk and connection of every drbddisk resource of the groups.

Asked of drbdadm when the status is asked for (never cached: a stale disk state would mislead exactly
when it matters), off the event loop, each command bounded by a timeout.
"""
from __future__ import annotations

import subprocess
from typing import Any, Callable

from hbd.agents.drbddisk import check_name, parse_cstate, parse_pair
from hbd.config.model import HeartbeatConfig
from hbd.errors import AgentError
from hbd.runtime.drbd_splitbrain import is_split_brain, warning

TIMEOUT_S = 3.0


def resources_of(hb: HeartbeatConfig) -> tuple[str, ...]:
    found: list[str] = []
    for group in hb.groups:
        for res in group.resources:
            if res.agent == "drbddisk" and len(res.args) == 1 and res.args[0] not in found:
                found.append(res.args[0])
    return tuple(found)


def query(resource: str, run: Callable[..., subprocess.CompletedProcess[Any]] = subprocess.run) -> dict[str, Any]:
    """{resource, role, peer_role, disk, peer_disk, connection, split_brain} (None where drbdadm did not say), or
    an error; split_brain (with the connection) is true when it is StandAlone (drbd_splitbrain.py)."""
    try:
        check_name(resource)
    except AgentError as exc:
        return {"resource": resource, "error": str(exc)}
    out: dict[str, Any] = {"resource": resource}
    for verb, parse in (("role", parse_pair), ("dstate", parse_pair), ("cstate", parse_cstate)):
        try:
            done = run(["drbdadm", verb, resource], capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            out["error"] = f"drbdadm {verb} {resource}: {exc}"
            continue
        if done.returncode != 0:
            out["error"] = (done.stderr.strip().splitlines() or [f"drbdadm {verb}: exit {done.returncode}"])[0]
            continue
        try:
            value = parse(done.stdout)
        except ValueError as exc:
            out["error"] = f"drbdadm {verb} {resource}: {exc}"
            continue
        if verb == "cstate":
            out["connection"] = value
            out["split_brain"] = is_split_brain(value)  # type: ignore[arg-type]
        else:
            key = "role" if verb == "role" else "disk"
            out[key], out[f"peer_{key}"] = value.local, value.peer  # type: ignore[union-attr]
    return out


def format_lines(entries: list[dict[str, Any]]) -> list[str]:
    """The `drbd:` part of `hbd status`'s text."""
    lines = ["drbd:"] if entries else []
    for e in entries:
        if "role" in e or "disk" in e or "connection" in e:
            role = f"{e.get('role')}/{e.get('peer_role') or '?'}"
            disk = f"{e.get('disk')}/{e.get('peer_disk') or '?'}"
            lines.append(f"  {e['resource']:<12} role {role:<20} disk {disk:<22} connection {e.get('connection')}")
        if e.get("split_brain"):
            lines.append(f"  {e['resource']:<12} SPLIT BRAIN: {warning(e['resource'])}")
        if "error" in e:
            lines.append(f"  {e['resource']:<12} {e['error']}")
    return lines
