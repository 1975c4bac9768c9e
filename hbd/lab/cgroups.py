"""One cgroup per lab node: the set of its processes, frozen, thawed or killed together (v1 or v2)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable

from hbd.errors import LabError

V1_FREEZER = Path("/sys/fs/cgroup/freezer")
V2_ROOT = Path("/sys/fs/cgroup")
GROUP_DIR = "hbd-lab"
SETTLE_TIMEOUT = 5.0
# How long a power-off waits for a v1 freeze before it kills anyway (see kill_all).
KILL_FREEZE_BOUND = 1.0
# How long a hung-node fault waits for FROZEN: a task in uninterruptible sleep delays it until its I/O
# ends, which on a loaded machine can exceed SETTLE_TIMEOUT; the fault is only right once every task stopped.
FREEZE_TIMEOUT = 15.0
POLL = 0.005


def hierarchy_root() -> tuple[Path, int]:
    """The freezer-capable hierarchy of this machine: cgroup v1 freezer, else the v2 unified tree.

    HBD_LAB_CGROUP2 names a cgroup v2 mount to use instead (a hybrid machine's /sys/fs/cgroup/unified),
    so the v2 code is exercised on machines that default to v1.
    """
    forced = os.environ.get("HBD_LAB_CGROUP2")
    if forced:
        if not (Path(forced) / "cgroup.procs").exists():
            raise LabError(f"HBD_LAB_CGROUP2={forced}: not a cgroup v2 mount")
        return Path(forced), 2
    if (V1_FREEZER / "freezer.state").exists() or (V1_FREEZER / "cgroup.procs").exists():
        return V1_FREEZER, 1
    if (V2_ROOT / "cgroup.controllers").exists():
        return V2_ROOT, 2
    raise LabError("no cgroup freezer: need cgroup v1 freezer at /sys/fs/cgroup/freezer or cgroup v2")


def lab_groups_root() -> Path:
    return hierarchy_root()[0] / GROUP_DIR


class NodeCgroup:
    """Cgroup `hbd-lab/<lab>/<member>` in the freezer hierarchy."""

    def __init__(self, lab: str, member: str):
        root, self.version = hierarchy_root()
        self.path = root / GROUP_DIR / lab / member

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def join_self(self) -> None:
        """Move the calling process in; safe in a preexec_fn (one open and write, no allocation-heavy work)."""
        fd = os.open(self.path / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)

    def pids(self) -> list[int]:
        try:
            text = (self.path / "cgroup.procs").read_text()
        except FileNotFoundError:
            return []
        return [int(x) for x in text.split()]

    def freeze(self) -> None:
        self._set_frozen(True, FREEZE_TIMEOUT)

    def thaw(self) -> None:
        self._set_frozen(False)

    def frozen(self) -> bool:
        if self.version == 1:
            return (self.path / "freezer.state").read_text().strip() == "FROZEN"
        return "frozen 1" in (self.path / "cgroup.events").read_text()

    def _set_frozen(self, frozen: bool, bound: float = SETTLE_TIMEOUT) -> None:
        if self.version == 1:
            (self.path / "freezer.state").write_text("FROZEN" if frozen else "THAWED")
            want = "FROZEN" if frozen else "THAWED"
            self._wait(lambda: (self.path / "freezer.state").read_text().strip() == want, f"state {want}", bound)
        else:
            (self.path / "cgroup.freeze").write_text("1" if frozen else "0")
            want = f"frozen {int(frozen)}"
            self._wait(lambda: want in (self.path / "cgroup.events").read_text(), want, bound)

    def kill_all(self) -> None:
        """SIGKILL every process, with the group frozen so nothing forks in between."""
        if not self.path.exists():
            return
        if self.version == 2 and (self.path / "cgroup.kill").exists():
            (self.path / "cgroup.kill").write_text("1")
        else:
            # A v1 group stays FREEZING while one task sleeps uninterruptibly (I/O to a loop device on a
            # loaded machine), and power does not wait for I/O: after a short bound the kills go on, and
            # repeat below until the group is empty, so a child forked meanwhile dies too.
            try:
                self._set_frozen(True, KILL_FREEZE_BOUND)
            except LabError:
                pass
            self._kill_listed()
            self._set_frozen(False)
        self._wait(self._killed_and_empty, "empty")

    def _kill_listed(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _killed_and_empty(self) -> bool:
        self._kill_listed()  # each poll kills again: what was forked since the last one dies too
        return not self.pids()

    def remove(self) -> None:
        """Kill what is left and remove the cgroup (and the lab's parent when it is empty)."""
        if not self.path.exists():
            return
        self.kill_all()
        _rmdir_bounded(self.path)
        try:
            self.path.parent.rmdir()
        except OSError:
            pass  # other members still there

    def _wait(self, done: Callable[[], bool], what: str, bound: float = SETTLE_TIMEOUT) -> None:
        deadline = time.monotonic() + bound
        while not done():
            if time.monotonic() > deadline:
                raise LabError(f"cgroup {self.path}: not {what} after {bound:g} s; tasks: {self._tasks_text()}")
            time.sleep(POLL)

    def _tasks_text(self) -> str:
        """Each task's pid, name, scheduler state and kernel wait channel: why a freeze or a kill hangs."""
        rows = []
        for pid in self.pids():
            proc = Path("/proc") / str(pid)
            try:
                stat = (proc / "stat").read_text()
                wchan = (proc / "wchan").read_text().strip() or "-"
            except OSError:
                continue  # gone meanwhile
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            state = stat[stat.rindex(")") + 2 :].split()[0]
            rows.append(f"{pid} {name} {state} {wchan}")
        return ", ".join(rows) or "none"


def _rmdir_bounded(path: Path) -> None:
    # A killed process leaves the cgroup only once the kernel has reaped it; rmdir is EBUSY until then.
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise LabError(f"cannot remove cgroup {path}: still busy after {SETTLE_TIMEOUT:g} s")
            time.sleep(POLL)
