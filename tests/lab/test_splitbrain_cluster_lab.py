"""Split brain with a cluster.conf service (doc/split-brain.md): a 2-node cluster with two_node="1" and no
fencing, every frame of n1 dropped by the switch's filter: each side is quorate alone, so n2 starts the
service after n1's grace while n1 still runs it (the documented risk without fencing). After the heal, within
token + 2 s, exactly one node runs it: n1, first in the service's ordered failover domain (the coordinator's placement,
doc/split-brain.md); n2 stopped it in reverse order; the address answers from n1, and the client's neighbour
entry, which n2's takeover had pointed at n2, has n1's MAC again (n1 announced the address again once n2's
stop was over); both daemons log Heartbeat's lines and a CRIT line naming the keeper."""
from __future__ import annotations

import json
import time

from daemon_lab import lab_cluster, wait_until
from monitor_lab import SERVICE, install_service
from rgmanager_lab import CONF_DIR, service, steps, wait_running_on, write_cluster_conf

from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.probes import VipProbe, client_neighbours

VIP = "192.0.2.50"
TOKEN_S = 2.0
CONF = f"""<?xml version="1.0"?>
<cluster name="pair" config_version="1">
  <cman two_node="1" expected_votes="1"/>
  <totem token="2000"/>
  <clusternodes>
    <clusternode name="n1" nodeid="1" votes="1"/>
    <clusternode name="n2" nodeid="2" votes="1"/>
  </clusternodes>
  <rm>
    <failoverdomains>
      <failoverdomain name="pair" ordered="1" restricted="1">
        <failoverdomainnode name="n1" priority="1"/>
        <failoverdomainnode name="n2" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <service name="database" domain="pair" recovery="relocate">
      <ip address="{VIP}/24" monitor_link="0"><action name="stop" timeout="2"/></ip>
      <script name="db" file="/etc/init.d/{SERVICE}"><action name="stop" timeout="2"/></script>
    </service>
  </rm>
</cluster>
"""


def lsb_running(cluster: HbdCluster, node: str) -> bool:
    return cluster.lab.exec(node, [f"/etc/init.d/{SERVICE}", "status"], check=False).returncode == 0


def mac(cluster: HbdCluster, node: str) -> str:
    out = cluster.lab.exec(node, ["ip", "-j", "link", "show", "dev", "eth0"]).stdout
    return str(json.loads(out)[0]["address"])


def test_partition_heal_one_node_keeps_the_service() -> None:
    begin = time.monotonic()
    with lab_cluster() as cluster:
        lab = cluster.lab
        install_service(cluster)
        write_cluster_conf(cluster, CONF)
        for node in lab.nodes:
            cluster.start(node, ["-c", CONF_DIR])
        wait_running_on(cluster, "n2", "n1", 30)
        order = steps(cluster, "n1", "start")
        probe = VipProbe(lab, VIP, interval=0.02).start()
        try:
            assert probe.wait_for("n1", 5), probe.transitions
            lab.cut("n1", how="filter")  # every frame of n1 dropped, links up: each side alone is quorate
            wait_until(lambda: lsb_running(cluster, "n2") and probe.current() == "n2", 30, "n2 starts it too",
                       cluster.stderr)
            # n2's start is over, not only its script running: a heal during the start is another case (n2 then
            # stops after the start ends, without the double-ownership CRIT; one owner all the same)
            wait_running_on(cluster, "n2", "n2", 10)
            assert lsb_running(cluster, "n1")  # both: two_node without fencing, the documented risk
            marks = {n: len(cluster.stderr(n)) for n in lab.nodes}
            lab.restore("n1")
            healed = time.monotonic()
            bound = TOKEN_S + 2
            one_owner = wait_until(lambda: sum(lsb_running(cluster, n) for n in lab.nodes) == 1, bound,
                                   "one node runs it", cluster.stderr)
            keeper, loser = "n1", "n2"
            assert lsb_running(cluster, keeper), "n1, first in the ordered domain, keeps it"
            wait_until(lambda: "Service database: stopping -> stopped" in cluster.stderr(loser)[marks[loser]:],
                       max(0.1, healed + bound - time.monotonic()), "the loser's whole stop", cluster.stderr)
            assert probe.wait_for(keeper, max(0.1, healed + bound - time.monotonic())), probe.transitions
            keeper_mac = mac(cluster, keeper)
            wait_until(lambda: client_neighbours(lab).get(VIP) == keeper_mac,
                       max(0.1, healed + bound - time.monotonic()), f"the client's ARP entry has {keeper}'s MAC")
            arp_at = time.monotonic() - healed
        except AssertionError:
            print("".join(f"\n--- {n}:\n{cluster.stderr(n)[-5000:]}" for n in lab.nodes))
            raise
        finally:
            probe.stop()
        st = wait_running_on(cluster, loser, keeper, 5)  # both see the same table
        assert service(st)["local"] == "stopped"
        assert steps(cluster, loser, "stop", marks[loser]) == list(reversed(order))  # reverse order
        assert steps(cluster, keeper, "stop", marks[keeper]) == []  # no restart on the keeper
        crit = f"CRIT: Service database runs on n1 and n2 after a partition (split brain): {keeper} keeps it"
        for node in lab.nodes:
            assert crit in cluster.stderr(node)[marks[node]:], cluster.stderr(node)[marks[node]:]
        assert "Both machines own our resources!" in cluster.stderr(keeper)[marks[keeper]:]
        assert "Both machines own foreign resources!" in cluster.stderr(loser)[marks[loser]:]
        assert "announcing its addresses again" in cluster.stderr(keeper)[marks[keeper]:]
    print(f"\ncluster.conf split brain: one owner ({keeper}) {one_owner:.2f} s after the heal, client ARP at {keeper} "
          f"{arp_at:.2f} s after the heal "
          f"(token {TOKEN_S:g} s); test {time.monotonic() - begin:.1f} s")
