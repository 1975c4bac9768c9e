"""Fault injection: pulled cables, filter partitions, impaired links, hung and powered-off nodes, kills."""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from hbd.errors import LabError
from hbd.lab import drbd_fence_peer, drbd_state, impair, topology
from hbd.lab.shell import run

if TYPE_CHECKING:
    from hbd.lab.lab import Lab

CUT_KINDS = ("link", "filter")
FILTER_TABLE = "hblab"


def _media(lab: "Lab", medium: int | None) -> list[int]:
    if medium is None:
        return list(range(lab.media))
    lab.layout.check_medium(medium)
    return [medium]


def _key(node: str, medium: int) -> str:
    return f"{node}:{medium}"


def cut(lab: "Lab", node: str, medium: int | None = None, how: str = "link") -> None:
    """Cut one medium (or all) of a node: 'link' pulls the cable, 'filter' drops every frame, link up."""
    lab.layout.check_node(node)
    if how not in CUT_KINDS:
        raise ValueError(f"how must be one of {CUT_KINDS}, not {how!r}")
    for m in _media(lab, medium):
        lab.state["cuts"][_key(node, m)] = how
        if how == "link" and node not in lab.state["powered_off"]:
            topology.set_port(lab.layout, node, m, up=False)
    lab._save()
    if how == "filter":
        apply_filters(lab)
    drbd_fence_peer.after_cut(lab)  # a Primary that lost its replication link calls its fence-peer handler


def restore(lab: "Lab", node: str, medium: int | None = None) -> None:
    lab.layout.check_node(node)
    refilter = False
    for m in _media(lab, medium):
        how = lab.state["cuts"].pop(_key(node, m), None)
        if how == "link" and node not in lab.state["powered_off"]:
            topology.set_port(lab.layout, node, m, up=True)
        refilter |= how == "filter"
    lab._save()
    if refilter:
        apply_filters(lab)


def apply_filters(lab: "Lab") -> None:
    """Rebuild the switch's drop rules from the recorded filter cuts (one atomic nft transaction)."""
    ports = []
    for key, how in lab.state["cuts"].items():
        if how == "filter":
            node, m = key.split(":")
            ports += [lab.layout.switch_port(node, int(m)), lab.layout.relay_port(node, int(m))]
    rules = ""
    if ports:
        names = ", ".join(f'"{p}"' for p in sorted(ports))
        rules = f"    iifname {{ {names} }} drop\n    oifname {{ {names} }} drop\n"
    script = (
        f"table bridge {FILTER_TABLE}\n"
        f"delete table bridge {FILTER_TABLE}\n"
        f"table bridge {FILTER_TABLE} {{\n  chain forward {{\n"
        f"    type filter hook forward priority 0; policy accept;\n{rules}  }}\n}}\n"
    )
    run(["ip", "netns", "exec", lab.switch_netns, "nft", "-f", "-"], input=script)


def netem(lab: "Lab", node: str, medium: int, *, loss: float | None = None, delay_ms: float | None = None,
          duplicate: float | None = None) -> None:
    """Impair the node's link on `medium` in both directions: loss and duplicate in percent, delay in ms."""
    lab.layout.check_node(node)
    lab.layout.check_medium(medium)
    spec = impair.Impairment.make(loss=loss, delay_ms=delay_ms, duplicate=duplicate)
    clear_netem(lab, node, medium)
    how = impair.apply(lab, node, medium, spec)
    lab.state["netem"][_key(node, medium)] = {**spec.as_dict(), "via": how}
    lab._save()


def clear_netem(lab: "Lab", node: str, medium: int) -> None:
    entry = lab.state["netem"].pop(_key(node, medium), None)
    if entry is not None:
        impair.remove(lab, node, medium, entry["via"])
        lab._save()


def freeze(lab: "Lab", node: str) -> None:
    """A hung node: every process stopped by the cgroup freezer; the kernel (ARP, sockets) still runs."""
    lab.layout.check_node(node)
    lab.cgroup(node).freeze()
    if node not in lab.state["frozen"]:
        lab.state["frozen"].append(node)
    lab._save()


def thaw(lab: "Lab", node: str) -> None:
    lab.layout.check_node(node)
    lab.cgroup(node).thaw()
    if node in lab.state["frozen"]:
        lab.state["frozen"].remove(node)
    lab._save()


def power_off(lab: "Lab", node: str) -> None:
    """Every process killed at once, links dropped, DRBD unconfigured: what losing power does."""
    lab.layout.check_node(node)
    if node in lab.state["powered_off"]:
        return
    for m in range(lab.media):
        topology.set_port(lab.layout, node, m, up=False)
    # Off from here, for the invariant watcher too: the kill below can take a second on a loaded machine
    # (the cgroup's freeze), long enough for the peer to declare this node dead and take its address over,
    # while the address lost with the power was still listed here.
    lab.state["powered_off"].append(node)
    lab._save()
    lab.cgroup(node).kill_all()
    if node in lab.state["frozen"]:
        lab.state["frozen"].remove(node)
    lab.state["holders"].pop(node, None)
    lab._save()
    drbd_state.power_lost(lab.layout.drbd_dir, node)
    # What lived in memory is lost: addresses added at run time, and /run (a tmpfs on a real machine).
    topology.reset_addresses(lab.layout, node)
    _empty_dir(lab.path(node, "/run/hbd"))


def _empty_dir(path: Path) -> None:
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def boot(lab: "Lab", node: str, responders: bool = True) -> None:
    """Power a node back on: links up (except those cut), fresh namespaces, responder, `drbdadm up`."""
    lab.layout.check_node(node)
    if node not in lab.state["powered_off"]:
        raise LabError(f"node {node} is not powered off")
    lab.state["powered_off"].remove(node)
    for m in range(lab.media):
        if lab.state["cuts"].get(_key(node, m)) != "link":
            topology.set_port(lab.layout, node, m, up=True)
    lab._start_nodes([node], responders)
    drbd_state.booted(lab.layout.drbd_dir, node)


def kill(lab: "Lab", node: str, name: str, sig: int = signal.SIGKILL) -> list[int]:
    """Signal the node's processes called `name` (command name, program or script basename)."""
    lab.layout.check_node(node)
    holder = lab.state["holders"].get(node)
    pids = [p for p in lab.cgroup(node).pids() if p != holder and name in _names_of(p)]
    if not pids:
        raise LabError(f"no process named {name!r} in node {node}")
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return pids


def _names_of(pid: int) -> set[str]:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return set()
    names = {comm}
    if comm == "nsenter" and b"--" in argv:
        # Just spawned: nsenter has not exec'd the program yet; the pid will be the program's.
        argv = argv[argv.index(b"--") + 1:]
    for arg in argv[:2]:
        if arg:
            names.add(os.path.basename(arg.decode(errors="replace")))
    if len(argv) > 2 and argv[1] == b"-m":
        names.add(argv[2].decode(errors="replace").rsplit(".", 1)[-1])
    return names
