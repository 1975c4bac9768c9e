"""hbd under hostile datagrams on real sockets: a node running `hbd membership` receives, from the other
node's namespace, packets with a bad HMAC, an unknown key index, a valid but older generation, and
truncated, oversized and random bytes. The daemon keeps running, logs the drops, and the silent node stays dead."""
from __future__ import annotations

import sys
import textwrap

from hbd.lab import Lab
from hbd_member import hacf_text, is_node, start_member, write_config

ATTACK = textwrap.dedent("""
    import random, socket, sys
    from hbd.config.model import AuthKey, AuthKeys
    from hbd.core import messages as m
    target, generation = sys.argv[1], int(sys.argv[2])  # the generation n1 knows for n2
    def packet(seq, generation, method="sha1", index=1, secret=b"0bd6a3b1c2d4e5f6"):
        keys = AuthKeys("k", index, (AuthKey(index, method, secret),))
        body = [("t", "status"), ("st", "active"), ("dt", "7d0"), ("protocol", "1")]
        sender = m.Sender("n2", bytes(16), generation, 3)
        return m.encode(m.with_control_fields(body, sender, seq=seq, ts=0, load="0.00"), keys)
    rng = random.Random(7)
    captured = [packet(1000 + i, generation - 1) for i in range(50)]  # valid HMAC, older generation
    attack = ([packet(1, generation, secret=b"guess")] * 20 + [packet(2, generation, index=4)] * 20 + captured
              + [packet(3, generation)[:n] for n in range(0, 300, 7)]
              + [rng.randbytes(rng.randint(1, 1400)) for _ in range(300)]
              + [b"###\\n" + b"9" * 60000])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    for data in attack:
        for address in (target, "192.0.2.255"):
            try:
                s.sendto(data, (address, 694))
            except OSError:
                pass
    print(len(attack))
""")


def test_hostile_datagrams_do_not_crash_or_revive(lab: Lab) -> None:
    for node in lab.nodes:
        write_config(lab, node, hacf_text(lab, "bcast"))
    # n1 first meets a real n2 (so it knows n2's generation), which then goes silent
    member_n2 = start_member(lab, "n2")
    member = start_member(lab, "n1")
    try:
        member.wait_for(is_node("n2", "active"), timeout=10)
        member_n2.stop()
        member.wait_for(is_node("n2", "dead"), timeout=10)
        generation = int((lab.path("n2", "/var/lib/hbd") / "hb_generation").read_text())
        sent = lab.exec("n2", [sys.executable, "-c", ATTACK, lab.address("n1", 0), str(generation)], timeout=60)
        assert int(sent.stdout) > 400
        member.drain()
        assert member.proc.poll() is None, "hbd membership died under hostile input"
        death = next(i for i, r in enumerate(member.seen) if is_node("n2", "dead")(r))
        revived = [r for r in member.seen[death + 1:] if r.get("node") == "n2"
                   and ((r["event"] == "NodeChanged" and r["status"] != "dead")
                        or (r["event"] == "LinkChanged" and r["up"]))]
        assert revived == [], revived
        log = member.log()
        assert "authtoken does not match" in log
        assert "unknown key index" in log
        assert f"attempted replay attack [n2]? [gen = {generation - 1}, curgen = {generation}]" in log
        assert "dropped packet" in log
    finally:
        member.stop()
        member_n2.stop()
