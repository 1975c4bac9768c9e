"""Private places to run real agents in, cleaned up even when a test fails: a pair of network namespaces
joined by a veth, and a loop device with ext4 whose mounts live only in private mount namespaces."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AGENTS = [sys.executable, "-m", "hbd.agents", "--json"]


def sh(*argv: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=check, cwd=REPO)


def results(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@dataclass(frozen=True)
class NetPair:
    """Namespace `a` (interface va, 198.51.100.1/24) and `b` (vb, 198.51.100.2/24) on one veth."""

    a: str
    b: str
    va: str
    vb: str

    def agent(self, ns: str, words: list[str], *options: str, timeout: float = 30) -> list[dict]:
        res = sh("ip", "netns", "exec", ns, *AGENTS, *options, *words, timeout=timeout, check=False)
        found = results(res.stdout)
        assert found, f"agent printed no result: rc={res.returncode} {res.stderr}"
        return found

    def addresses(self, ns: str, dev: str) -> list[dict]:
        info = json.loads(sh("ip", "-n", ns, "-j", "addr", "show", "dev", dev).stdout)
        return info[0]["addr_info"]

    def mac(self, ns: str, dev: str) -> str:
        return json.loads(sh("ip", "-n", ns, "-j", "link", "show", "dev", dev).stdout)[0]["address"]


@contextmanager
def net_pair() -> Iterator[NetPair]:
    tag = uuid.uuid4().hex[:6]
    pair = NetPair(f"hbdag-{tag}-a", f"hbdag-{tag}-b", f"va{tag}", f"vb{tag}")
    try:
        sh("ip", "netns", "add", pair.a)
        sh("ip", "netns", "add", pair.b)
        sh("ip", "link", "add", pair.va, "netns", pair.a, "type", "veth", "peer", "name", pair.vb, "netns", pair.b)
        for ns, dev, addr in ((pair.a, pair.va, "198.51.100.1/24"), (pair.b, pair.vb, "198.51.100.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield pair
    finally:
        sh("ip", "netns", "del", pair.a, check=False)
        sh("ip", "netns", "del", pair.b, check=False)


@dataclass(frozen=True)
class LoopDisk:
    device: str
    image: Path

    def in_private_mounts(self, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a shell script in a new mount namespace: whatever it mounts vanishes with it."""
        return sh("unshare", "--mount", "--propagation", "private", "sh", "-c", script, timeout=timeout, check=False)


@contextmanager
def loop_disk(folder: Path, size_mb: int = 16) -> Iterator[LoopDisk]:
    image = folder / "disk.img"
    with open(image, "wb") as fh:
        fh.truncate(size_mb * 1024 * 1024)
    sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", str(image))
    device = sh("losetup", "--find", "--show", str(image)).stdout.strip()
    try:
        yield LoopDisk(device, image)
    finally:
        sh("losetup", "-d", device, check=False)


def agents_cmd(*words: str) -> str:
    """The shell words of a `python -m hbd.agents --json ...` call."""
    return " ".join(f"'{w}'" for w in (*AGENTS, *words))

