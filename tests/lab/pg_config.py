"""The PostgreSQL example (etc/examples/postgresql/) with the lab's values substituted, and nothing else:
node names (hb1, hb2 -> n1, n2), interfaces (the lab's media are eth0 and eth1, the example's eth1 and eth2;
the unicast addresses 198.51.100.11/12 are already the lab's), the DRBD resource (the lab's r0), the mount
point (/var/lib/hbd/pgsql, a per-node directory of the lab, instead of /var/lib/postgresql/ha on the host),
faster timing (keepalive 200 ms, deadtime 1 s, a 2 s token, PostgreSQL checked every 2 s), logging to the
file only, and the init script's defaults file (in the node's own /etc/ha.d: the host's /etc/default is
shared by every node), which moves the server's socket to the node's private /dev/shm.

Pure text functions: the unit test checks both forms with `hbd config check`, the lab runs them."""
from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "etc" / "examples" / "postgresql"
MOUNT = "/var/lib/hbd/pgsql"
PGDATA = f"{MOUNT}/data"
PGLOG = f"{MOUNT}/postgresql.log"
SOCKDIR = "/dev/shm"
VIP = "192.0.2.50"
SCRIPT = "postgresql-ha"
DEFAULTS = "/etc/ha.d/postgresql-ha.defaults"
CHECK_INTERVAL_S = 2

COMMON = (("hb1", "n1"), ("hb2", "n2"))
MOUNTED = (("/var/lib/postgresql/ha", MOUNT),)
HACF = (
    ("keepalive 1\n", "keepalive 200ms\n"), ("warntime 5\n", "warntime 500ms\n"),
    ("deadtime 10\n", "deadtime 1000ms\n"), ("initdead 30\n", "initdead 2000ms\n"),
    ("bcast eth1\n", "bcast eth0\n"), ("ucast eth2 198.51.100.12\n", "ucast eth1 198.51.100.12\n"),
    ("ucast eth2 198.51.100.11\n", "ucast eth1 198.51.100.11\n"), ("logfacility daemon\n", "logfacility none\n"),
    ("monitor type=lsb interval=5 ", f"monitor type=lsb interval={CHECK_INTERVAL_S} "),
)
HARESOURCES = (("IPaddr2::192.0.2.50/24/eth1", "IPaddr2::192.0.2.50/24/eth0"), ("drbddisk::pgdata", "drbddisk::r0"))
CLUSTER = (
    ('resource="pgdata"', 'resource="r0"'),
    ('<cman two_node="1" expected_votes="1"/>', '<cman two_node="1" expected_votes="1"/>\n  <totem token="2000"/>'),
    ('<action name="status" interval="5"', f'<action name="status" interval="{CHECK_INTERVAL_S}"'),
)
SCRIPT_SUBST = (("DEFAULTS=/etc/default/postgresql-ha", f"DEFAULTS={DEFAULTS}"),)


def substitute(text: str, pairs: tuple[tuple[str, str], ...], what: str) -> str:
    """Each pair replaced; a pair with nothing to replace is an error, except node names (a file names some)."""
    for old, new in pairs:
        if old not in text and (old, new) not in COMMON:
            raise AssertionError(f"{what}: {old!r} not found: the example changed, update tests/lab/pg_config.py")
        text = text.replace(old, new)
    return text


def hacf() -> str:
    return substitute((EXAMPLE / "ha.d" / "ha.cf").read_text(), COMMON + HACF, "ha.cf")


def haresources() -> str:
    return substitute((EXAMPLE / "ha.d" / "haresources").read_text(), COMMON + MOUNTED + HARESOURCES, "haresources")


def cluster_conf() -> str:
    return substitute((EXAMPLE / "cluster" / "cluster.conf").read_text(), COMMON + MOUNTED + CLUSTER, "cluster.conf")


def init_script() -> str:
    return substitute((EXAMPLE / "init.d" / SCRIPT).read_text(), SCRIPT_SUBST, SCRIPT)


def defaults(listen: str = VIP, port: int = 5432, pgdata: str = PGDATA, pglog: str = PGLOG,
             sockdir: str = SOCKDIR) -> str:
    return f"PGDATA={pgdata}\nPGLOG={pglog}\nPGLISTEN={listen}\nPGPORT={port}\nPGSOCKDIR={sockdir}\n"


def write_forms(folder: Path, authkeys: str) -> tuple[Path, Path]:
    """Both forms written under `folder` (ha.d/, cluster/); returns their paths for `hbd config check -c`."""
    ha_d, cluster = folder / "ha.d", folder / "cluster"
    ha_d.mkdir(parents=True, exist_ok=True)
    cluster.mkdir(parents=True, exist_ok=True)
    (ha_d / "ha.cf").write_text(hacf())
    (ha_d / "haresources").write_text(haresources())
    (cluster / "cluster.conf").write_text(cluster_conf())
    for d in (ha_d, cluster):
        (d / "authkeys").write_text(authkeys)
        (d / "authkeys").chmod(0o600)
    return ha_d, cluster / "cluster.conf"
