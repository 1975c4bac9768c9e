"""Parsers and renderers of DRBD 8.4 (role/cstate/dstate, /proc/drbd) and 9 (`status`) text."""
from __future__ import annotations

import pytest

from hbd.lab import drbd_format as fmt

# As printed by DRBD 8.4.x (cat /proc/drbd) during an initial sync.
PROC_84 = """version: 8.4.11-1 (api:1/proto:86-101)
srcversion: 17A0C3A0AF9492ED4B9A418

 1: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----
    ns:16976 nr:0 dw:0 dr:17616 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:802224
\t[>....................] sync'ed:  3.0% (802224/819200)K
\tfinish: 0:04:39 speed: 2,828 (2,828) K/sec
 2: cs:WFConnection ro:Secondary/Unknown ds:Inconsistent/DUnknown C r-----
    ns:0 nr:0 dw:0 dr:0 al:8 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:818944
"""

# As printed by drbdadm status (drbd-utils 9.x).
STATUS_9 = """r0 role:Primary
  disk:UpToDate
  n2 role:Secondary
    peer-disk:UpToDate

r1 role:Secondary
  disk:UpToDate
  n2 connection:Connecting

"""

STATUS_9_VERBOSE = """r0 node-id:0 role:Primary suspended:no
  volume:0 minor:0 disk:UpToDate quorum:yes blocked:no
  n2 node-id:1 connection:Connected role:Secondary congested:no
    volume:0 replication:Established peer-disk:UpToDate resync-suspended:no
"""


def view(connection: str = "Connected", role: str = "Primary", peer_role: str = "Secondary",
         peer_disk: str = "UpToDate", oos: int | None = None) -> fmt.ResourceView:
    return fmt.ResourceView("r0", 0, role, "UpToDate", fmt.PeerView("n2", connection, peer_role, peer_disk, oos))


def test_proc_drbd_84_parses() -> None:
    parsed = fmt.parse_proc(PROC_84)
    assert parsed[1] == {"cs": "SyncSource", "role": "Primary", "peer_role": "Secondary", "disk": "UpToDate",
                         "peer_disk": "Inconsistent", "oos_kb": 802224}
    assert parsed[2]["cs"] == "WFConnection" and parsed[2]["peer_role"] == "Unknown"
    assert parsed[2]["oos_kb"] == 818944


def test_status_9_parses_connected_and_connecting_peers() -> None:
    parsed = fmt.parse_status(STATUS_9)
    assert parsed["r0"]["role"] == "Primary" and parsed["r0"]["disk"] == "UpToDate"
    assert parsed["r0"]["peers"] == {"n2": {"connection": "Connected", "role": "Secondary", "peer_disk": "UpToDate"}}
    assert parsed["r1"]["peers"]["n2"] == {"connection": "Connecting"}


def test_status_9_verbose_keeps_every_field() -> None:
    parsed = fmt.parse_status(STATUS_9_VERBOSE)
    assert parsed["r0"]["minor"] == "0" and parsed["r0"]["quorum"] == "yes"
    assert parsed["r0"]["peers"]["n2"]["replication"] == "Established"
    assert parsed["r0"]["peers"]["n2"]["peer_disk"] == "UpToDate"


@pytest.mark.parametrize("connection", ["Connected", "WFConnection", "StandAlone"])
def test_rendered_84_and_9_parse_back(connection: str) -> None:
    connected = connection == "Connected"
    v = view(connection, peer_role="Secondary" if connected else "Unknown",
             peer_disk="UpToDate" if connected else "DUnknown", oos=12)
    assert fmt.parse_pair(fmt.render_role(v)) == ("Primary", v.peer.role)
    assert fmt.parse_pair(fmt.render_dstate(v)) == ("UpToDate", v.peer.disk)
    proc = fmt.parse_proc(fmt.render_proc_line(v))[0]
    assert (proc["cs"], proc["role"], proc["peer_role"], proc["oos_kb"]) == (connection, "Primary", v.peer.role, 12)
    status = fmt.parse_status(fmt.render_status(v, statistics=True))["r0"]
    peer = status["peers"]["n2"]
    assert fmt.CSTATE_9_TO_84[peer["connection"]] == connection
    assert peer["out_of_sync"] == "12"
    if connected:
        assert peer["role"] == "Secondary" and peer["peer_disk"] == "UpToDate"


@pytest.mark.parametrize("bad", ["Primary", "Primary/", "/Secondary", "a/b/c", ""])
def test_bad_pairs_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        fmt.parse_pair(bad)


def test_status_garbage_is_rejected() -> None:
    with pytest.raises(ValueError):
        fmt.parse_status("  disk:UpToDate\n")
    with pytest.raises(ValueError):
        fmt.parse_status("r0 role\n")
