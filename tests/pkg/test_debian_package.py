"""The Debian package: `dpkg-buildpackage -us -uc -b` builds it, lintian reports no error, and installed with
dpkg into a throw-away root (an overlay of this Debian 12 system, so Debian's own python3-* packages are the
ones used) `hbd --version`, `hbd config check` on the shipped example and `systemd-analyze verify` pass, the
man pages are found, and nothing is enabled or started.

About 25 s: one build (copy of the tree, pybuild), one lintian run, one dpkg -i.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
TOOLS = ("dpkg-buildpackage", "lintian", "unshare", "chroot", "systemd-analyze")
SKIP_COPY = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info",
                                   "build", ".pybuild", "tests", "bench")

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: an overlay mount for the install root"),
    pytest.mark.skipif(any(shutil.which(t, path=CLEAN_ENV["PATH"]) is None for t in TOOLS),
                       reason=f"needs {', '.join(TOOLS)} (tests/apt-packages)"),
]

# Runs inside `unshare -m`: an overlay of / (writes go to UPPER) as the install root, then checks in a chroot.
INSTALL = r"""
set -e
W=$1
mount --make-rprivate /
mkdir -p $W/upper $W/work $W/root
mount -t overlay overlay -o lowerdir=/,upperdir=$W/upper,workdir=$W/work $W/root
mount --bind /proc $W/root/proc
mount --bind /dev $W/root/dev
mount -t tmpfs tmpfs $W/root/run
mount -t tmpfs tmpfs $W/root/tmp
cp $W/hbd.deb $W/root/tmp/hbd.deb
exec chroot $W/root /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /bin/sh -c '
set -e
dpkg --purge hbd >/dev/null 2>&1 || true
dpkg -i /tmp/hbd.deb >/dev/null
echo "== version"; hbd --version
echo "== check"; cp -r /usr/share/doc/hbd/examples/ha.d /tmp/ha.d; chmod 600 /tmp/ha.d/authkeys
hbd config check -c /tmp/ha.d --node hb1
echo "== convert"; hbd convert --to cib -c /usr/share/doc/hbd/examples/cluster.conf >/tmp/cib.xml 2>/dev/null && echo converted
echo "== verify"; systemd-analyze verify /lib/systemd/system/hbd.service && echo verified
echo "== man"; man -w hbd hbd-standby hbd-takeover cluster.conf; man -w 5hbd ha.cf haresources authkeys
echo "== enabled"; ls /etc/systemd/system/*.wants/ 2>/dev/null | grep hbd || true; ls /etc/rc?.d | grep '^S[0-9]*hbd' || true
echo "== python"; /usr/bin/python3 -c "import hbd, pyroute2, scapy; print(hbd.__file__, pyroute2.__file__)"
echo "== running"; pgrep -x hbd || echo none
'
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    top = tmp_path_factory.mktemp("deb")
    src = top / "hbd"
    shutil.copytree(REPO, src, ignore=SKIP_COPY, symlinks=True)
    done = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=CLEAN_ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield top


def test_lintian_reports_no_error(built: Path) -> None:
    (changes,) = built.glob("hbd_*.changes")
    done = subprocess.run(["lintian", "--tag-display-limit", "0", str(changes)], env=CLEAN_ENV, capture_output=True,
                          text=True, timeout=300)
    tags = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "N:", "X:", "P:")]
    assert not [t for t in tags if t.startswith("E:")], done.stdout
    assert done.returncode == 0, done.stdout + done.stderr


def test_installed_package_runs_on_debians_python_packages(built: Path) -> None:
    (deb,) = built.glob("hbd_*_all.deb")
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True).stdout
    for lib in ("python3-pyroute2", "python3-scapy", "python3-pyudev", "python3-lxml", "python3-sdnotify"):
        assert lib in info
    work = built / "install"
    work.mkdir()
    shutil.copy(deb, work / "hbd.deb")
    done = subprocess.run(["unshare", "-m", "sh", "-c", INSTALL, "install", str(work)], env=CLEAN_ENV,
                          capture_output=True, text=True, timeout=180)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    sections = dict(part.split("\n", 1) for part in out.split("== ")[1:])
    assert sections["version"].strip() == "hbd 0.1.0"
    assert "0 errors" in sections["check"] and "is usable" in sections["check"], sections["check"]
    assert sections["convert"].strip() == "converted"
    assert sections["verify"].strip() == "verified", done.stderr
    man = sections["man"].split()
    assert len(man) == 7 and all(p.startswith("/usr/share/man/man") for p in man), man
    assert sections["enabled"].strip() == "", "the package must not enable hbd (K links of update-rc.d defaults-disabled are fine; no S link)"
    assert sections["python"].startswith("/usr/lib/python3/dist-packages/hbd/__init__.py "
                                         "/usr/lib/python3/dist-packages/pyroute2/")
    assert sections["running"].strip() == "none", "the package must not start hbd"
