"""Rules of the emulated DRBD state (pure): connection derivation, split brain, resync, changes."""
from __future__ import annotations

from hbd.lab import drbd_state as st


def resource() -> st.ResourceState:
    return st.ResourceState("r0", {"n1": st.NodeDrbd(), "n2": st.NodeDrbd()})


def test_connection_needs_both_sides_and_the_link() -> None:
    res = resource()
    assert st.cstate(res, "n1", True) == st.CONNECTED
    assert st.cstate(res, "n1", False) == st.WF_CONNECTION
    res.nodes["n2"].standalone = True
    assert st.cstate(res, "n1", True) == st.WF_CONNECTION
    assert st.cstate(res, "n2", True) == st.STANDALONE
    res.nodes["n2"].configured = False
    assert st.cstate(res, "n2", True) == st.UNCONFIGURED


def test_one_side_primary_apart_resyncs_on_reconnect() -> None:
    res = resource()
    res.nodes["n1"].role = "Primary"
    st.settle(res, link_ok=False, written_kb=100)
    st.settle(res, link_ok=False, written_kb=164)
    assert res.nodes["n1"].changes_kb == 64 and res.nodes["n2"].changes_kb == 0
    log = st.settle(res, link_ok=True, written_kb=164)
    assert any("resync n1 -> n2: 64 KB" in line for line in log)
    assert not res.split_brain and res.nodes["n1"].changes_kb == 0


def test_both_primary_apart_is_split_brain_until_one_discards() -> None:
    res = resource()
    for node in res.nodes.values():
        node.role = "Primary"
    log = st.settle(res, link_ok=False, written_kb=None)
    assert res.split_brain and any("split brain recorded" in line for line in log)
    log = st.settle(res, link_ok=True, written_kb=None)
    assert any("unresolved" in line for line in log)
    assert st.cstate(res, "n1", True) == st.STANDALONE == st.cstate(res, "n2", True)
    res.nodes["n2"].role = "Secondary"
    res.nodes["n2"].standalone = False
    res.nodes["n2"].discard_my_data = True
    res.nodes["n1"].standalone = False
    log = st.settle(res, link_ok=True, written_kb=None)
    assert any("manually solved" in line for line in log)
    assert not res.split_brain and st.cstate(res, "n1", True) == st.CONNECTED


def test_cstate_changes_are_logged_once() -> None:
    res = resource()
    res.cstates = {"n1": st.CONNECTED, "n2": st.CONNECTED}
    first = st.settle(res, link_ok=False, written_kb=None)
    assert sum("conn( Connected -> WFConnection )" in line for line in first) == 2
    assert st.settle(res, link_ok=False, written_kb=None) == []


def imaged() -> st.ResourceState:
    res = resource()
    res.images = {"n1": "/dev/loop7", "n2": "/dev/loop7"}  # one generation: one shared image
    return res


def test_only_a_promotion_apart_from_a_primary_peer_needs_its_own_image() -> None:
    res = imaged()
    res.nodes["n1"].role = "Primary"
    assert not st.needs_own_image(res, "n1", link_ok=False)  # the peer's data is n1's until it changes
    res.nodes["n2"].role = "Primary"
    assert not st.needs_own_image(res, "n2", link_ok=True)  # connected: protocol C keeps one generation
    assert st.needs_own_image(res, "n2", link_ok=False)  # the second Primary of a split brain
    res.nodes["n1"].role, res.nodes["n1"].primary_while_disconnected = "Secondary", True
    assert st.needs_own_image(res, "n2", link_ok=False)  # n1 wrote apart, then stepped down
    res.images["n2"] = "/dev/loop8"
    assert not st.needs_own_image(res, "n2", link_ok=False)  # forked already
    assert st.free_image(res, ["/dev/loop8", "/dev/loop7", "/dev/loop9"]) == "/dev/loop9"


def test_the_victim_of_a_split_brain_uses_the_survivors_image_after_the_sync() -> None:
    res = imaged()
    res.images["n2"] = "/dev/loop8"
    for node in res.nodes.values():
        node.role = "Primary"
    st.settle(res, link_ok=False, written_kb=None)
    st.settle(res, link_ok=True, written_kb=None)  # unresolved: both keep their own data
    assert res.images == {"n1": "/dev/loop7", "n2": "/dev/loop8"}
    res.nodes["n2"].standalone = res.nodes["n1"].standalone = False
    res.nodes["n2"].discard_my_data = True
    log = st.settle(res, link_ok=True, written_kb=None)  # n2 still Primary: DRBD refuses to overwrite it
    assert "I shall become SyncTarget, but I am primary!" in log and res.split_brain
    assert res.images["n2"] == "/dev/loop8" and st.cstate(res, "n2", True) == st.STANDALONE
    res.nodes["n2"].role = "Secondary"
    res.nodes["n2"].standalone = res.nodes["n1"].standalone = False
    res.nodes["n2"].discard_my_data = True
    log = st.settle(res, link_ok=True, written_kb=None)
    assert "n2: disk follows n1's image /dev/loop7" in log and not res.split_brain
    assert res.images == {"n1": "/dev/loop7", "n2": "/dev/loop7"}


def test_a_resync_makes_the_target_follow_the_source_image() -> None:
    res = imaged()
    res.images["n1"] = "/dev/loop8"
    res.nodes["n1"].role = "Primary"
    st.settle(res, link_ok=False, written_kb=None)
    log = st.settle(res, link_ok=True, written_kb=None)
    assert "n2: disk follows n1's image /dev/loop8" in log and res.images["n2"] == "/dev/loop8"
