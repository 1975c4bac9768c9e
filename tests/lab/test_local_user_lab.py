"""A local unprivileged user cannot obtain a valid signature by any route (doc/threat-model.md, "local users").

Two hbd daemons run; a third host sends datagrams with a wrong HMAC (so the daemon has rejected and logged
them). Then, as `nobody` inside n1 (setpriv, no groups), every route a local user has is tried: the log,
the debug log and stderr files, authkeys, the control socket (status, and every request), the daemon's
/proc environ, cmdline and memory, the state directory and /run/hbd. Nothing readable may hold the key or
the HMAC the forged packets should have carried. The same files read as root hold neither either (the
log is no signing oracle), so a member of the log's group gains nothing.
"""
from __future__ import annotations

import json
import re
import sys
import textwrap
import time

from daemon_lab import FAST, lab_cluster
from hbd.config.model import AuthKey, AuthKeys
from hbd.core import messages as m
from hbd.lab.hbd_cluster import AUTHKEYS

SECRET = AUTHKEYS.split()[-1]
KEYS = AuthKeys("authkeys", 1, (AuthKey(1, "sha1", SECRET.encode()),))
WRONG = AuthKeys("f", 1, (AuthKey(1, "sha1", b"guess"),))
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
FORGER = textwrap.dedent("""
    import socket, sys
    data = bytes.fromhex(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(20):
        s.sendto(data, (sys.argv[1], 694))
""")
ROUTES = [  # (what, argv run as nobody inside n1)
    ("log files", ["sh", "-c", "cat /var/log/hbd/* 2>&1"]),
    ("authkeys", ["sh", "-c", "cat /etc/ha.d/authkeys 2>&1"]),
    ("ha.d", ["sh", "-c", "cat /etc/ha.d/* 2>&1"]),
    ("state dir", ["sh", "-c", "cat /var/lib/hbd/* /var/lib/hbd/*/* 2>&1"]),
    ("run dir", ["sh", "-c", "ls -la /run/hbd 2>&1; cat /run/hbd/* 2>&1"]),
    ("status", ["hbd", "status", "--json"]),
    ("status text", ["hbd", "status"]),
    ("metrics/intervals", ["hbd", "advise"]),
    ("reload", ["hbd", "reload"]),
    ("standby", ["hbd-standby", "all"]),
]


def forged_packet(generation: int) -> tuple[bytes, str]:
    """A status in n2's name signed with a wrong key, and the digest it would need (what an oracle leaks)."""
    body = [("t", "status"), ("st", "active"), ("dt", "3e8"), ("protocol", "1")]
    fields = m.with_control_fields(body, m.Sender("n2", bytes(16), generation + 1, 3), seq=99999, ts=0, load="0.00")
    data = m.encode(fields, WRONG)
    signed_body = data[:data.rfind(m.NETSTRING_END) + len(m.NETSTRING_END)]
    return data, m.auth_digest(KEYS.signing_key, signed_body)


def test_a_local_user_gets_no_key_and_no_digest_by_any_route() -> None:
    with lab_cluster(FAST) as cluster:
        lab = cluster.lab
        with open(lab.path("n1", "/etc/ha.d") / "ha.cf", "a") as hacf:
            hacf.write("debug 1\n")  # the debug log too
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        generation = int((lab.path("n2", "/var/lib/hbd") / "hb_generation").read_text())
        data, right_digest = forged_packet(generation)
        lab.client_exec([sys.executable, "-c", FORGER, lab.address("n1", 0), data.hex()], timeout=20)
        deadline = time.monotonic() + 10
        while "authtoken does not match" not in cluster.log("n1") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "authtoken does not match" in cluster.log("n1")  # the rejection was logged (as root)
        pid = cluster.status("n1")["pid"]
        routes = ROUTES + [(f"/proc/{pid}/{name}", ["sh", "-c", f"cat /proc/{pid}/{name} 2>&1 | tr '\\0' ' '"])
                           for name in ("environ", "cmdline", "maps", "mem")]
        secrets = {"the key": SECRET, "the right digest": right_digest}
        for what, argv in routes:
            done = lab.exec("n1", AS_NOBODY + argv, check=False, timeout=20, text=False)
            output = (done.stdout + done.stderr).decode("utf-8", "replace")
            for name, secret in secrets.items():
                assert secret not in output, f"{what} as nobody shows {name}:\n{output[-2000:]}"
            assert not re.search(r"\b[0-9a-f]{40}\b", output), f"{what} as nobody shows a digest:\n{output[-2000:]}"
            if what in ("authkeys", "log files"):
                assert "Permission denied" in output, f"{what} readable by nobody:\n{output[-2000:]}"
            if what in ("reload", "standby"):
                assert done.returncode != 0, f"{what} as nobody exited 0:\n{output[-2000:]}"
        # nobody could not even use the control socket; root can, and its answer holds neither
        st = json.dumps(cluster.status("n1"))
        assert SECRET not in st and right_digest not in st
        # as root: no file the daemon writes holds the key or a digest (the log is no signing oracle)
        for directory in ("/var/log/hbd", "/var/lib/hbd", "/run/hbd"):
            for path in lab.path("n1", directory).rglob("*"):
                if path.is_file() and not path.is_socket():
                    text = path.read_bytes().decode("utf-8", "replace")
                    assert SECRET not in text and right_digest not in text, f"{path} holds a secret"
        mode = (lab.path("n1", "/var/log/hbd") / "hbd.log").stat().st_mode & 0o777
        assert mode & 0o007 == 0, oct(mode)
