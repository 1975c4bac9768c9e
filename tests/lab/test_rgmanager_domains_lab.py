"""Failover domains with real daemons on three lab nodes, one cluster.conf, three services (each an address
and an LSB script whose state is a file in the node's /dev/shm, emptied by a power-off):

- `back`: ordered domain n1 > n2 > n3, failback allowed;
- `stay`: the same priorities with nofailback="1";
- `pair`: restricted (and ordered) domain n1 > n2.

All three start on n1. Power-off n1: all three run on n2, nowhere else. Power-off n2: `back` and `stay` run
on n3, `pair` is stopped (n3 is outside its restricted domain), `hbd status` says so, and `hbd svc relocate
pair -m n3` is refused (exit 1) with nothing changed. Boot n1: in the coordinator's first tables with n1 a
member, `back` moves back to n1 (stopped on n3 first: the address is never on two nodes), `pair` starts on
n1, and `stay` is still on n3. `pair` never ran a resource on n3 (the daemon's own log of its steps).

Quorum: n3 has 3 of the cluster's 5 votes (cman's `votes` per `<clusternode>`; the quorum is (5 + 2) // 2
= 3, doc/cluster-membership.md), so n3 alone is quorate and the services stay up after n1 and n2 lost power.
With one vote each, n3 alone would have 1 of quorum 2 and stop everything; `expected_votes="1"` would not
help, since cman (and hbd) raise expected_votes to the highest total seen. A quorum disk would give the
same majority to the survivor; hbd has none.

Timing: `<totem token="2000"/>` (dead 2 s after the last heartbeat) and stop timeouts of 2 s per resource,
enforced (`__enforce_timeouts="1"`: the timeout bounds the stop, rather than being a hint that hbd's own
longer default bound overrides), so that a departed node's grace is 2 + 2 + 2 = 6 s (doc/services.md,
"Grace"). The boot of n1 costs Heartbeat's initdead (12 s for a 2 s token, doc/cluster-membership.md): n1
takes part only once n2, powered off, is declared dead.
"""
from __future__ import annotations

import time

from rgmanager_lab import CONF_DIR, boot, reboots_asked, service, steps, write_cluster_conf

from hbd.lab import Lab
from hbd.lab.cleanup import traces
from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.watch import InvariantWatcher

VIPS = {"back": "192.0.2.51", "stay": "192.0.2.52", "pair": "192.0.2.53"}
DOMAINS = {"back": "chain", "stay": "chain_nofailback", "pair": "pair"}
CHAIN = ('<failoverdomainnode name="n1" priority="1"/><failoverdomainnode name="n2" priority="2"/>'
         '<failoverdomainnode name="n3" priority="3"/>')


STOP = '__enforce_timeouts="1"><action name="stop" timeout="2"/>'


def service_xml(name: str) -> str:
    return (f'<service name="{name}" domain="{DOMAINS[name]}">'
            f'<ip address="{VIPS[name]}/24" monitor_link="0" {STOP}</ip>'
            f'<script name="{name}" file="/etc/init.d/{name}" {STOP}</script></service>')


CONF = f"""<?xml version="1.0"?>
<cluster name="domains" config_version="1">
  <totem token="2000"/>
  <clusternodes>
    <clusternode name="n1" nodeid="1" votes="1"/>
    <clusternode name="n2" nodeid="2" votes="1"/>
    <clusternode name="n3" nodeid="3" votes="3"/>
  </clusternodes>
  <rm>
    <failoverdomains>
      <failoverdomain name="chain" ordered="1">{CHAIN}</failoverdomain>
      <failoverdomain name="chain_nofailback" ordered="1" nofailback="1">{CHAIN}</failoverdomain>
      <failoverdomain name="pair" ordered="1" restricted="1">
        <failoverdomainnode name="n1" priority="1"/><failoverdomainnode name="n2" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    {"".join(service_xml(name) for name in VIPS)}
  </rm>
</cluster>
"""
LSB_SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Short-Description: a lab service whose state is a file
### END INIT INFO
STATE=/dev/shm/{name}.running
case "$1" in
  start) touch "$STATE";;
  stop) rm -f "$STATE";;
  status) if [ -e "$STATE" ]; then echo "{name} is running"; exit 0; fi; echo "{name} is stopped"; exit 3;;
  *) echo "usage: $0 start|stop|status"; exit 2;;
esac
"""


def install_scripts(cluster: HbdCluster) -> None:
    """Each service's script in the node's /etc/init.d (a bind mount in the node's own mount namespace;
    rgmanager_lab.boot makes it again after a power-off)."""
    for node in cluster.lab.nodes:
        folder = cluster.lab.path(node, "/etc/ha.d") / "init.d"
        folder.mkdir(exist_ok=True)
        for name in VIPS:
            (folder / name).write_text(LSB_SCRIPT.format(name=name))
            (folder / name).chmod(0o755)
        cluster.lab.exec(node, ["mount", "--bind", "/etc/ha.d/init.d", "/etc/init.d"])


def running_here(cluster: HbdCluster, node: str) -> set[str]:
    """The services whose script says running on `node`."""
    return {name for name in VIPS
            if cluster.lab.exec(node, [f"/etc/init.d/{name}", "status"], check=False).returncode == 0}


def wait_owners(cluster: HbdCluster, ask: str, wanted: dict[str, str | None], members: list[str],
                timeout: float) -> dict:
    """Wait until `ask`'s table shows exactly these owners (None: stopped, owned by nobody) for these members."""
    def done(st: dict) -> bool:
        return st["quorum"]["members"] == members and st["quorum"]["quorate"] and all(
            service(st, name)["owner"] == owner and service(st, name)["state"] == ("started" if owner else "stopped")
            for name, owner in wanted.items())
    return cluster.wait_status(ask, done, timeout)


def test_ordered_nofailback_and_restricted_domains_through_two_power_offs_and_a_boot() -> None:
    lab = Lab.up(nodes=3, media=1)
    cluster = HbdCluster(lab)
    try:
        install_scripts(cluster)
        write_cluster_conf(cluster, CONF)
        found = lab.exec("n1", ["sh", "-c", "command -v reboot"]).stdout.strip()
        assert found == str(lab.layout.bin_dir / "reboot"), found  # a self-fence must not reboot this machine
        check = cluster.cli("n1", ["hbd", "config", "check", "-c", CONF_DIR])
        assert check.returncode == 0, check.stdout + check.stderr
        t0 = time.monotonic()
        for node in lab.nodes:
            cluster.start(node, ["-c", CONF_DIR])
        st = wait_owners(cluster, "n3", dict.fromkeys(VIPS, "n1"), ["n1", "n2", "n3"], 40)
        assert st["quorum"] == {"quorate": True, "members": ["n1", "n2", "n3"], "total_votes": 5,
                                "expected_votes": 5, "quorum": 3}
        assert running_here(cluster, "n1") == set(VIPS)
        print(f"\nall three started on n1 after {time.monotonic() - t0:.1f} s")
        assert running_here(cluster, "n2") == running_here(cluster, "n3") == set()
        watcher = InvariantWatcher(lab, vip=VIPS["back"], drbd=None, interval=0.05).start()
        try:
            off = time.monotonic()
            cluster.power_off("n1")
            st = wait_owners(cluster, "n2", dict.fromkeys(VIPS, "n2"), ["n2", "n3"], 30)
            print(f"power-off n1 -> all three on n2 after {time.monotonic() - off:.1f} s")
            assert running_here(cluster, "n2") == set(VIPS) and running_here(cluster, "n3") == set()

            off = time.monotonic()
            cluster.power_off("n2")
            st = wait_owners(cluster, "n3", {"back": "n3", "stay": "n3"}, ["n3"], 30)
            print(f"power-off n2 -> back and stay on n3 after {time.monotonic() - off:.1f} s")
            assert st["quorum"]["total_votes"] == 3 and st["quorum"]["quorum"] == 3
            pair = service(st, "pair")  # in the same table: stopped, owned by nobody, still enabled
            assert pair["state"] == "stopped" and pair["owner"] is None and pair["enabled"], pair
            assert pair["last_owner"] == "n2" and pair["local"] == "stopped", pair
            assert running_here(cluster, "n3") == {"back", "stay"}
            text = cluster.cli("n3", ["hbd", "status"])
            line = next((x for x in text.stdout.splitlines() if "pair" in x and "stopped" in x), None)
            assert text.returncode == 0 and line is not None, text.stdout + text.stderr

            n3_from = len(cluster.stderr("n3"))
            refused = cluster.cli("n3", ["hbd", "svc", "relocate", "pair", "-m", "n3", "--timeout", "20"])
            assert refused.returncode == 1, refused.stdout + refused.stderr
            said = refused.stdout + refused.stderr
            assert "restricted failover domain" in said and "nothing changed" in said, said
            after = cluster.status("n3")
            assert after is not None and after["services"] == st["services"]
            assert running_here(cluster, "n3") == {"back", "stay"} and steps(cluster, "n3", "start", n3_from) == []

            booted = time.monotonic()
            boot(cluster, "n1")
            cluster.start("n1", ["-c", CONF_DIR])
            st = wait_owners(cluster, "n3", {"back": "n1", "pair": "n1"}, ["n1", "n3"], 45)
            print(f"boot n1 -> back and pair on n1 after {time.monotonic() - booted:.1f} s")
            stay = service(st, "stay")  # the same tables, which failed `back` back to n1, left it on n3
            assert stay["owner"] == "n3" and stay["state"] == "started" and stay["last_owner"] == "n2", stay
            assert service(st, "back")["last_owner"] == "n3"
            wanted = {"back": "n1", "stay": "n3", "pair": "n1"}
            wait_owners(cluster, "n1", wanted, ["n1", "n3"], 10)  # n1 follows the same table
            assert running_here(cluster, "n1") == {"back", "pair"}
            assert running_here(cluster, "n3") == {"stay"}
        finally:
            watcher.stop()
        watcher.check()  # back's address never on two nodes
        assert watcher.polls > 10, "the invariant watcher did not run"
        started_on_n3 = steps(cluster, "n3", "start")
        assert f"ip:{VIPS['pair']}/24" not in started_on_n3 and "script:pair" not in started_on_n3, started_on_n3
        assert f"ip:{VIPS['back']}/24" in started_on_n3 and "script:stay" in started_on_n3, started_on_n3
        assert reboots_asked(cluster) == {}  # every stop succeeded: no self-fence
        for node in ("n1", "n3"):  # not `hbd stop`: each would first hand its services over to the other
            cluster.power_off(node)
    except BaseException:
        for node in lab.nodes:  # every daemon's log, not only the one a wait asked
            print(f"--- {node}'s daemon log (its end)\n{cluster.stderr(node)[-5000:]}")
        raise
    finally:
        cluster.close()
        lab.down()
        left = traces(lab.name)
        assert not left, f"lab {lab.name} left traces: {left}"
