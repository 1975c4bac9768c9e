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
