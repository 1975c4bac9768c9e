"""The Debian package: `dpkg-buildpackage -us -uc -b` builds it, lintian reports no error, and installed with
dpkg into a throw-away root (an overlay of this Debian 12 system, so Debian's own python3-* packages are the
ones used) `hbd --version` and `hbd config check` on every shipped example run, `systemd-analyze verify`
passes on the checkout's etc/hbd.service and on the installed unit, the man pages are found, and nothing is
enabled or started.

Kept out of tests/unit: `make test-debian-libs` runs tests/unit a second time on Debian's libraries, and the
package needs building once. About 25 s: one build (copy of the tree, pybuild), one lintian run, one dpkg -i.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
TOOLS = ("dpkg-buildpackage", "lintian", "unshare", "chroot")
SKIP_COPY = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info",
                                   "build", ".pybuild", "tests", "bench")
HAVE_SYSTEMD_ANALYZE = shutil.which("systemd-analyze", path=CLEAN_ENV["PATH"]) is not None

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: an overlay mount for the install root"),
    pytest.mark.skipif(any(shutil.which(t, path=CLEAN_ENV["PATH"]) is None for t in TOOLS),
                       reason=f"needs {', '.join(TOOLS)} (tests/apt-packages)"),
]

# Runs inside `unshare -m`: an overlay of / (writes go to UPPER) as the install root, then checks in a chroot.
# After the chroot: every process whose root directory or executable is inside the install root (anything
# the package started) is listed; other processes on this machine (other clusters' daemons) are not ours.
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
cp -r $W/checkout $W/root/tmp/checkout
chroot $W/root /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /bin/sh -c '
set -e
dpkg --purge hbd >/dev/null 2>&1 || true
dpkg -i /tmp/hbd.deb >/dev/null
echo "== version"; hbd --version
echo "== check ha.d"; cp -r /usr/share/doc/hbd/examples/ha.d /tmp/ha.d; chmod 600 /tmp/ha.d/authkeys
hbd config check -c /tmp/ha.d --node hb1 && echo "exit 0"
echo "== check cluster.conf"; hbd config check -c /usr/share/doc/hbd/examples/cluster.conf --node hb1 2>&1 \
  && echo "exit 0" || echo "exit $?"
echo "== check postgresql"; cp -r /usr/share/doc/hbd/examples/postgresql /tmp/pg; chmod 600 /tmp/pg/ha.d/authkeys /tmp/pg/cluster/authkeys
hbd config check -c /tmp/pg/ha.d --node hb1 && hbd config check -c /tmp/pg/cluster/cluster.conf --node hb1 && echo "exit 0"
echo "== convert"; hbd convert --to cib -c /usr/share/doc/hbd/examples/cluster.conf >/tmp/cib.xml 2>/dev/null && echo converted
if command -v systemd-analyze >/dev/null; then
  echo "== verify checkout"; systemd-analyze verify /tmp/checkout/etc/hbd.service 2>&1 && echo verified
  echo "== verify installed"; systemd-analyze verify /lib/systemd/system/hbd.service 2>&1 && echo verified
  echo "== same unit"; cmp /tmp/checkout/etc/hbd.service /lib/systemd/system/hbd.service && echo same
fi
echo "== man"; man -w hbd hbd-standby hbd-takeover cluster.conf; man -w 5hbd ha.cf haresources authkeys
echo "== compat"; ls /usr/lib/hbd/compat
echo "== enabled"; ls /etc/systemd/system/*.wants/ 2>/dev/null | grep hbd || true; ls /etc/rc?.d | grep "^S[0-9]*hbd" || true
echo "== python"; /usr/bin/python3 -c "import hbd, pyroute2, scapy; print(hbd.__file__, pyroute2.__file__)"
'
echo "== started"
for p in /proc/[0-9]*; do
  root=$(readlink $p/root 2>/dev/null) || continue
  exe=$(readlink $p/exe 2>/dev/null) || exe=""
  case "$root/ $exe" in
    $W/root/*|*" $W/root/"*) echo "${p#/proc/} $exe $(tr '\0' ' ' < $p/cmdline)";;
  esac
done
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


@pytest.fixture(scope="module")
def installed(built: Path) -> dict[str, str]:
    """The sections the install script printed, by title."""
    (deb,) = built.glob("hbd_*_all.deb")
    work = built / "install"
    work.mkdir()
    shutil.copy(deb, work / "hbd.deb")
    (work / "checkout" / "etc").mkdir(parents=True)
    shutil.copy(REPO / "etc" / "hbd.service", work / "checkout" / "etc" / "hbd.service")
    done = subprocess.run(["unshare", "-m", "sh", "-c", INSTALL, "install", str(work)], env=CLEAN_ENV,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return {title: body for title, body in (part.split("\n", 1) for part in done.stdout.split("== ")[1:])}


def test_lintian_reports_no_error(built: Path) -> None:
    (changes,) = built.glob("hbd_*.changes")
    done = subprocess.run(["lintian", "--tag-display-limit", "0", str(changes)], env=CLEAN_ENV, capture_output=True,
                          text=True, timeout=300)
    tags = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "N:", "X:", "P:")]
    assert not [t for t in tags if t.startswith("E:")], done.stdout
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_depends_on_debians_python_packages(built: Path) -> None:
    (deb,) = built.glob("hbd_*_all.deb")
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True).stdout
    for lib in ("python3-pyroute2", "python3-scapy", "python3-pyudev", "python3-lxml", "python3-sdnotify"):
        assert lib in info


def test_the_fence_peer_handler_path_the_docs_give_is_installed(built: Path) -> None:
    """doc/fencing.md, hbd(8) and `hbd fence-peer`'s docstring tell the admin which path to put in drbd.conf."""
    (deb,) = built.glob("hbd_*_all.deb")
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    files = {line.split()[5].removeprefix(".") for line in listing.splitlines() if len(line.split()) >= 6}
    for doc in ("doc/fencing.md", "doc/man/hbd.8", "hbd/cli/fence_peer_cmd.py"):
        paths = set(re.findall(r'fence-peer "(\S+) fence-peer', (REPO / doc).read_text().replace("\\-", "-")))
        assert paths, f"{doc} names no fence-peer handler"
        assert paths <= files, f"{doc} names {paths - files}, the package installs none of them"


def test_installed_hbd_runs_on_debians_python(installed: dict[str, str]) -> None:
    assert installed["version"].strip() == "hbd 0.1.0"
    assert installed["python"].startswith("/usr/lib/python3/dist-packages/hbd/__init__.py "
                                          "/usr/lib/python3/dist-packages/pyroute2/")


def test_config_check_on_every_shipped_example(installed: dict[str, str]) -> None:
    shipped = sorted(p.name for p in (REPO / "etc" / "examples").iterdir())
    assert shipped == ["cluster.conf", "ha.d", "postgresql"], "a new example needs its check here"
    check = installed["check ha.d"]
    assert "0 errors" in check and "is usable" in check and check.rstrip().endswith("exit 0"), check
    pg = installed["check postgresql"]  # both forms of the PostgreSQL example
    assert pg.count("0 errors") == 2 and pg.rstrip().endswith("exit 0"), pg
    # cluster.conf: the installed hbd gives the checkout's verdict, word for word (whatever the daemon supports)
    here = subprocess.run([sys.executable, "-m", "hbd.cli.main", "config", "check", "-c", str(REPO / "etc" / "examples" / "cluster.conf"),
                           "--node", "hb1"], capture_output=True, text=True, timeout=60)
    expected = (here.stdout + here.stderr).replace(str(REPO / "etc" / "examples"), "/usr/share/doc/hbd/examples")
    assert installed["check cluster.conf"] == f"{expected}exit {here.returncode}\n"
    assert installed["convert"].strip() == "converted"


@pytest.mark.skipif(not HAVE_SYSTEMD_ANALYZE, reason="systemd-analyze is absent (Debian package systemd)")
def test_systemd_analyze_verify_passes_on_etc_hbd_service(installed: dict[str, str]) -> None:
    """etc/hbd.service as in the checkout, verified where /usr/bin/hbd and the man pages it names exist."""
    assert installed["verify checkout"].strip() == "verified", installed["verify checkout"]
    assert installed["verify installed"].strip() == "verified", installed["verify installed"]
    assert installed["same unit"].strip() == "same"


def test_man_pages_and_shims_are_installed(installed: dict[str, str]) -> None:
    man = installed["man"].split()
    assert len(man) == 7 and all(p.startswith("/usr/share/man/man") for p in man), man
    assert sorted(installed["compat"].split()) == ["cl_status", "clustat", "clusvcadm", "hb_standby", "hb_takeover"]


def test_nothing_enabled_or_started(installed: dict[str, str]) -> None:
    assert installed["enabled"].strip() == "", "the package must not enable hbd (K links of update-rc.d " \
                                               "defaults-disabled are fine; no S link)"
    assert installed["started"].strip() == "", f"the package started processes: {installed['started']}"
