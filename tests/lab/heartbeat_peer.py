"""Run Debian's Heartbeat 3.0.6 in a lab node, as a real peer for hbd (reusable by any lab test).

Heartbeat keeps state in fixed paths (/var/lib/heartbeat, /var/run/heartbeat, /var/run/heartbeat.pid),
so it runs in a mount namespace of its own inside the node, with a private /var/lib/heartbeat and a private
/run bind-mounted from the lab's directory for that node: nothing is written on the host, and several labs
can run Heartbeat at once. Its log goes to the `logfile` named in ha.cf (use one under /var/log/hbd, which
is already private per node and readable from the host through lab.path()).
"""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hbd.lab import Lab

HEARTBEAT = Path("/usr/libexec/heartbeat/heartbeat")
LOGFILE = "/var/log/hbd/ha-log"  # the path to name in ha.cf
HA_D_SCRIPTS = ("harc", "rc.d", "resource.d", "shellfuncs")
RUN_DIRS = {"heartbeat": "hacluster", "heartbeat/ccm": "hacluster", "heartbeat/crm": "hacluster",
            "heartbeat/dopd": "hacluster", "crm": "hacluster", "lock": "root", "resource-agents": "root"}


def require_heartbeat() -> None:
    if not HEARTBEAT.exists():
        pytest.skip("Debian's heartbeat package is not installed (tests/apt-packages lists it)")


@dataclass
class HeartbeatPeer:
    lab: Lab
    node: str
    proc: subprocess.Popen
    root: Path  # host directory holding the private lib/ and run/ of this Heartbeat

    @property
    def logfile(self) -> Path:
        return self.lab.path(self.node, "/var/log/hbd") / "ha-log"

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text: str, timeout: float, after: int = 0) -> float:
        """Poll the log (every 20 ms, bounded) until `text` appears past offset `after`; the monotonic time seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log()[after:]:
                return time.monotonic()
            if self.proc.poll() is not None and self.proc.returncode not in (0, None):
                break
            time.sleep(0.02)
        raise AssertionError(f"heartbeat on {self.node}: no '{text}' within {timeout} s (rc={self.proc.poll()})\n"
                             f"{self.log()[-4000:]}\n{self.output()[-2000:]}")

    def output(self) -> str:
        try:
            return (self.root / "stdout").read_text(errors="replace")
        except OSError:
            return ""

    def tool(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        """Run one of Heartbeat's tools (hb_standby, cl_status) with this Heartbeat's /var/lib/heartbeat and
        /run, as the tool finds its daemon there."""
        script = (f"mount --bind {self.root / 'lib'} /var/lib/heartbeat && mount --bind {self.root / 'run'} /run && "
                  f"exec {' '.join(argv)}")
        return self.lab.exec(self.node, ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
                             check=False, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM (Heartbeat's graceful shutdown), then SIGKILL of its process group after 15 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its FIFO reader and media children share the group
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)


def start_heartbeat(lab: Lab, node: str, shared: tuple[str, ...] = ()) -> HeartbeatPeer:
    """Start `heartbeat -f` in `node` with the /etc/ha.d already written there. `shared`: mount points whose
    mounts by Heartbeat's resources the node sees too (a Filesystem resource's directory): each is made a
    shared mount in the node first, and Heartbeat's namespace keeps that propagation; every other mount of
    its namespace stays private to it, and the lab's directory is seen under its /run (for resources that run
    the lab's drbdadm)."""
    require_heartbeat()
    root = lab.path(node, "/var/lib/hbd") / "heartbeat-peer"
    lib, run = root / "lib", root / "run"
    shutil.rmtree(run, ignore_errors=True)  # a fresh /run per start, as after a reboot; lib keeps hb_generation
    for sub in ("api", "casual", "ccm", "ckpt", "cores/root", "cores/hacluster", "cores/nobody", "crm", "lrm",
                "pengine"):
        (lib / sub).mkdir(parents=True, exist_ok=True)
    ha_d = lab.path(node, "/etc/ha.d")
    for name in HA_D_SCRIPTS:  # the package's event scripts, which Heartbeat runs on every status change
        source, target = Path("/etc/ha.d") / name, ha_d / name
        if target.is_symlink():
            target.unlink()
        if source.is_dir() and not target.exists():
            shutil.copytree(source, target, symlinks=True)
        elif source.is_file() and not target.exists():
            shutil.copy2(source, target)
    hacluster, haclient = pwd.getpwnam("hacluster").pw_uid, grp.getgrnam("haclient").gr_gid
    for sub, owner in RUN_DIRS.items():
        path = run / sub
        path.mkdir(parents=True, exist_ok=True)
        if owner == "hacluster":
            os.chown(path, hacluster, haclient)
            path.chmod(0o750)
    script = (f"mount --bind {lib} /var/lib/heartbeat && mount --bind {run} /run && "
              f"exec {HEARTBEAT} -f")
    if shared:  # resources that run the lab's tools (its drbdadm) need the lab's directory under the new /run
        lab_dir = lab.layout.dir.parent
        (run / lab_dir.relative_to("/run")).mkdir(parents=True, exist_ok=True)
        script = (f"mount --bind {lib} /var/lib/heartbeat && mount --bind {lab_dir} {run / lab_dir.relative_to('/run')}"
                  f" && mount --rbind {run} /run && exec {HEARTBEAT} -f")
    for point in shared:  # a bind of the directory onto itself is a mount of its own, made shared
        lab.exec(node, ["sh", "-c", f"mountpoint -q {point} || mount --bind {point} {point}; "
                                    f"mount --make-shared {point}"])
    # The node's mounts are private (hbd/lab/nodes.py): "unchanged" keeps them so, and the shared ones shared.
    propagation = "unchanged" if shared else "private"
    out = open(root / "stdout", "ab")
    try:
        proc = lab.spawn(node, ["unshare", "--mount", "--propagation", propagation, "/bin/sh", "-c", script],
                         stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()
    return HeartbeatPeer(lab, node, proc, root)


def install_ha_d_scripts(ha_d: Path) -> None:
    """Copy the heartbeat package's /etc/ha.d scripts (harc, rc.d, resource.d, shellfuncs) into a node's
    private /etc/ha.d, which the lab mounts over the host's."""
    for name in ("harc", "rc.d", "resource.d", "shellfuncs"):
        source, target = Path("/etc/ha.d") / name, ha_d / name
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        elif source.exists():
            shutil.copy2(source, target)
