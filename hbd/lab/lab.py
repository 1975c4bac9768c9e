"""The Lab object: brings a lab up, runs commands in its nodes, injects faults, tears it all down."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hbd.errors import LabError
from hbd.lab import cleanup, disk, drbd_setup, drbd_state, faults, nodes, reboot_guard, topology
from hbd.lab.cgroups import NodeCgroup
from hbd.lab.layout import MEDIA_NETS, RESPONDER_PORT, LabLayout, base_dir, check_name, new_name
from hbd.lab.shell import run

CLIENT = "client"
SWITCH = "switch"


class Lab:
    """A running lab. Use `Lab.up(...)` as a context manager; `Lab.attach(name)` for one made by the CLI."""

    def __init__(self, layout: LabLayout, state: dict[str, Any]):
        self.layout = layout
        self.state = state
        self._children: list[subprocess.Popen[Any]] = []
        self._down = False

    # ---- life cycle -------------------------------------------------------------------------------
    @classmethod
    def up(cls, nodes: int = 2, media: int = 2, name: str | None = None, *, persistent: bool = False,
           responders: bool = True, disk_mb: int = disk.SIZE_MB) -> "Lab":
        """Build a lab; on any failure everything already made is removed before the error propagates.

        persistent=False records this process as owner, so `hbd lab down` treats the lab as a leftover
        once this process is gone (a test run killed with -9). disk_mb: the shared disk's size (sparse).
        """
        layout = LabLayout.make(name or new_name(), nodes, media)
        disk.check_size_mb(disk_mb)
        if layout.dir.exists() or layout.switch_netns in topology.list_netns():
            raise LabError(f"lab {layout.name} already exists (hbd lab down {layout.name})")
        state: dict[str, Any] = {
            "name": layout.name, "nodes": list(layout.nodes), "media": media,
            "owner": None if persistent else os.getpid(), "holders": {}, "loop": None,
            "powered_off": [], "frozen": [], "cuts": {}, "netem": {}, "created": time.time(),
            "disk_mb": disk_mb,
        }
        lab = cls(layout, state)
        try:
            with _deferred_interrupts():
                layout.dir.mkdir(parents=True)
                lab._save()
                lab._build(responders)
        except BaseException:
            lab.down()
            raise
        return lab

    @classmethod
    def attach(cls, name: str) -> "Lab":
        path = base_dir() / check_name(name) / "lab.json"
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise LabError(f"no lab named {name} (no {path})") from None
        return cls(LabLayout.make(state["name"], len(state["nodes"]), state["media"]), state)

    def _build(self, responders: bool) -> None:
        layout = self.layout
        for member in (SWITCH, CLIENT, *layout.nodes):
            NodeCgroup(layout.name, member).create()
        layout.client_dir.mkdir(parents=True, exist_ok=True)
        topology.create(layout)
        self.state["loop"] = disk.create(layout.disk_image, self.state["disk_mb"])
        self._save()
        spares = self.state["spare_loops"] = {}
        for node in layout.nodes[:2]:  # DRBD's two sides: each gets its own disk when the data forks
            spares[node] = disk.attach_blank(layout.dir / f"disk-{node}.img", self.state["disk_mb"])
            self._save()
        drbd_setup.install(layout, self.state["loop"])
        reboot_guard.install(layout)
        for node in layout.nodes:
            nodes.prepare_dirs(layout, node)
            drbd_setup.write_node_config(layout, node, self.state["loop"])
        self._start_nodes(list(layout.nodes), responders)

    def _start_nodes(self, names: list[str], responders: bool = True) -> None:
        rdev = disk.rdev(self.state["loop"])
        procs = {n: nodes.start_holder(self.layout, n, self.cgroup(n), rdev) for n in names}
        for node, proc in procs.items():
            self._children.append(proc)
            nodes.wait_ready(proc, f"node {node}")
            self.state["holders"][node] = proc.pid
        self._save()
        if responders:
            started = [(n, self.spawn(n, responder_argv(n), stdout=subprocess.PIPE, stderr=subprocess.PIPE))
                       for n in names]
            for node, proc in started:
                nodes.wait_ready(proc, f"responder on {node}")

    def down(self) -> None:
        """Remove everything this lab made; safe to call twice and on a half-built lab."""
        if self._down:
            return
        with _deferred_interrupts():
            cleanup.remove_by_name(self.name)
            for proc in self._children:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self._down = True

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # ---- names and addresses ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def nodes(self) -> list[str]:
        return list(self.layout.nodes)

    @property
    def media(self) -> int:
        return self.layout.media

    def address(self, node: str, medium: int = 0) -> str:
        return self.layout.address(node, medium)

    @property
    def client_address(self) -> str:
        return self.layout.client_address

    def netns(self, node: str) -> str:
        return self.layout.netns(node)

    @property
    def client_netns(self) -> str:
        return self.layout.client_netns

    @property
    def switch_netns(self) -> str:
        return self.layout.switch_netns

    def path(self, node: str, target: str) -> Path:
        return self.layout.path(node, target)

    @property
    def drbd_resource(self) -> str:
        return drbd_setup.RESOURCE

    @property
    def drbd_device(self) -> str:
        return drbd_setup.DEVICE

    @property
    def loop_device(self) -> str:
        return str(self.state["loop"])

    @property
    def data_loops(self) -> list[str]:
        """Every loop device that may hold the DRBD data: the shared one and the sides' own (drbd_images)."""
        return [self.loop_device, *self.state.get("spare_loops", {}).values()]

    def drbd_image(self, node: str) -> str:
        """The loop device node's DRBD data is on now."""
        res = drbd_state.ResourceStore(self.layout.drbd_dir, self.drbd_resource).read()
        return res.images.get(node) or self.loop_device

    def holder_pid(self, node: str) -> int:
        self.layout.check_node(node)
        if node in self.state["powered_off"]:
            raise LabError(f"node {node} of lab {self.name} is powered off (lab.boot('{node}'))")
        return int(self.state["holders"][node])

    def _runnable(self, node: str) -> int:
        """Holder pid of a node that can run commands now."""
        pid = self.holder_pid(node)
        if node in self.state["frozen"]:
            # A process started in a frozen cgroup would hang, and a frozen process ignores SIGKILL.
            raise LabError(f"node {node} of lab {self.name} is frozen (hung): lab.thaw('{node}') first")
        return pid

    def cgroup(self, member: str) -> NodeCgroup:
        return NodeCgroup(self.name, member)

    # ---- running commands ------------------------------------------------------------------------
    def exec(self, node: str, argv: Sequence[str], timeout: float = 10, check: bool = True,
             input: str | bytes | None = None, env: Mapping[str, str] | None = None,
             text: bool = True) -> subprocess.CompletedProcess[Any]:
        """Run argv in the node's net+mount+uts namespaces and cgroup; `env` adds to the lab environment."""
        cg = self.cgroup(node)
        return run(nodes.enter_argv(self.layout, node, self._runnable(node), argv), timeout=timeout,
                   check=check, input=input, env=nodes.base_env(self.layout, node, env),
                   preexec_fn=cg.join_self, text=text)

    def spawn(self, node: str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        full = nodes.enter_argv(self.layout, node, self._runnable(node), argv)
        return self._popen(self.cgroup(node), full, nodes.base_env(self.layout, node, popen_kwargs.pop("env", None)),
                           popen_kwargs)

    def client_exec(self, argv: Sequence[str], timeout: float = 10, check: bool = True,
                    input: str | bytes | None = None, env: Mapping[str, str] | None = None,
                    text: bool = True) -> subprocess.CompletedProcess[Any]:
        return run(nodes.client_argv(self.layout, argv), timeout=timeout, check=check, input=input,
                   env=nodes.base_env(self.layout, None, env), preexec_fn=self.cgroup(CLIENT).join_self, text=text)

    def client_spawn(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        return self._popen(self.cgroup(CLIENT), nodes.client_argv(self.layout, argv),
                           nodes.base_env(self.layout, None, popen_kwargs.pop("env", None)), popen_kwargs)

    def _popen(self, cg: NodeCgroup, argv: list[str], env: dict[str, str], kwargs: dict[str, Any]) -> subprocess.Popen[Any]:
        kwargs.setdefault("cwd", "/")
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        proc = subprocess.Popen(argv, env=env, preexec_fn=cg.join_self, **kwargs)
        self._children.append(proc)
        return proc

    def processes(self, node: str) -> list[int]:
        """Pids of every process of the node (its cgroup)."""
        return self.cgroup(node).pids()

    # ---- faults (see hbd.lab.faults) -------------------------------------------------------------
    def cut(self, node: str, medium: int | None = None, how: str = "link") -> None:
        faults.cut(self, node, medium, how)

    def restore(self, node: str, medium: int | None = None) -> None:
        faults.restore(self, node, medium)

    def netem(self, node: str, medium: int, loss: float | None = None, delay_ms: float | None = None,
              duplicate: float | None = None) -> None:
        faults.netem(self, node, medium, loss=loss, delay_ms=delay_ms, duplicate=duplicate)

    def clear_netem(self, node: str, medium: int) -> None:
        faults.clear_netem(self, node, medium)

    def freeze(self, node: str) -> None:
        faults.freeze(self, node)

    def thaw(self, node: str) -> None:
        faults.thaw(self, node)

    def power_off(self, node: str) -> None:
        faults.power_off(self, node)

    def boot(self, node: str, responders: bool = True) -> None:
        faults.boot(self, node, responders)

    def kill(self, node: str, name: str, sig: int = signal.SIGKILL) -> list[int]:
        return faults.kill(self, node, name, sig)

    # ---- state -----------------------------------------------------------------------------------
    def _save(self) -> None:
        tmp = self.layout.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        tmp.rename(self.layout.state_file)

    def status(self) -> dict[str, Any]:
        """What `hbd lab status` shows: nodes, addresses, media, faults."""
        layout = self.layout
        return {
            "name": self.name,
            "media": [str(net) for net in MEDIA_NETS[:layout.media]],
            "client": {"netns": layout.client_netns, "address": layout.client_address},
            "nodes": {
                n: {
                    "netns": layout.netns(n),
                    "addresses": [layout.address(n, m) for m in range(layout.media)],
                    "processes": len(self.processes(n)),
                    "powered_off": n in self.state["powered_off"],
                    "frozen": n in self.state["frozen"],
                }
                for n in layout.nodes
            },
            "cuts": self.state["cuts"],
            "netem": self.state["netem"],
            "drbd": {"resource": self.drbd_resource, "device": self.drbd_device, "loop": self.state["loop"],
                     "spare_loops": self.state.get("spare_loops", {})},
        }


def responder_argv(node: str, port: int = RESPONDER_PORT) -> list[str]:
    return [sys.executable, "-m", "hbd.lab.responder", "--name", node, "--port", str(port)]


class _deferred_interrupts:
    """Hold SIGINT while building or tearing down, so Ctrl-C cannot leave half an object behind."""

    def __enter__(self) -> None:
        self._pending = False
        try:
            self._old = signal.signal(signal.SIGINT, self._note)
        except ValueError:  # not the main thread: signals go elsewhere anyway
            self._old = None

    def _note(self, signum: int, frame: object) -> None:
        self._pending = True

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            if self._pending:
                raise KeyboardInterrupt
