"""`hbd reload` from the difference of the running and the new models (hbd/config/reload_diff.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config import load
from hbd.config.model import HeartbeatConfig
from hbd.config.reload_diff import Apply, Area, diff

HACF = ("keepalive 200ms\ndeadtime 2\ninitdead 2\nudpport 6940\nucast lo 127.0.0.1\nauto_failback on\n"
        "node n1 n2\n")
HARES = "n1 192.0.2.10/24/eth0\nn2 192.0.2.20/24/eth0 mysvc\n"
AUTH = "auth 1\n1 sha1 0123456789abcdef\n"


def model(tmp_path: Path, hacf: str = HACF, hares: str = HARES, auth: str = AUTH) -> HeartbeatConfig:
    d = tmp_path / f"ha{len(list(tmp_path.iterdir()))}"
    d.mkdir()
    (d / "ha.cf").write_text(hacf)
    (d / "haresources").write_text(hares)
    (d / "authkeys").write_text(auth)
    (d / "authkeys").chmod(0o600)
    cfg = load(d, "n1")
    assert cfg.heartbeat is not None
    return cfg.heartbeat


def areas(plan: object) -> list[tuple[Area, Apply]]:
    return [(c.area, c.apply) for c in plan.changes]  # type: ignore[attr-defined]


def test_same_models_even_reformatted_are_unchanged(tmp_path: Path) -> None:
    old = model(tmp_path)
    new = model(tmp_path, "# a comment\n" + HACF.replace("keepalive 200ms", "keepalive   200ms"),
                "\n# groups\n" + HARES)
    plan = diff(old, new, frozenset({"192.0.2.10/24/eth0"}))
    assert plan.unchanged and not plan.needs_restart and not plan.refused


def test_authkeys_only_are_applied_live(tmp_path: Path) -> None:
    plan = diff(model(tmp_path), model(tmp_path, auth="auth 2\n2 sha1 fedcba9876543210\n"), frozenset())
    assert areas(plan) == [(Area.AUTHKEYS, Apply.LIVE)] and not plan.needs_restart


def test_alert_scripts_are_applied_live(tmp_path: Path) -> None:
    plan = diff(model(tmp_path), model(tmp_path, HACF + "alert /bin/true\n"), frozenset())
    assert areas(plan) == [(Area.ALERTS, Apply.LIVE)]


@pytest.mark.parametrize("edit, area", [
    (("keepalive 200ms", "keepalive 300ms"), Area.TIMING),
    (("initdead 2", "initdead 3"), Area.TIMING),
    (("ucast lo 127.0.0.1", "ucast lo 127.0.0.2"), Area.MEDIA),
    (("udpport 6940", "udpport 6941"), Area.MEDIA),
    (("node n1 n2", "node n1 n2 n3"), Area.NODES),
    (("auto_failback on", "auto_failback off"), Area.OPTIONS),
])
def test_daemon_settings_need_the_daemons_restart(tmp_path: Path, edit: tuple[str, str], area: Area) -> None:
    plan = diff(model(tmp_path), model(tmp_path, HACF.replace(*edit)), frozenset())
    assert plan.changes and set(areas(plan)) == {(area, Apply.RESTART)} and plan.needs_restart
    assert not plan.refused and (edit[0].split()[0] in plan.changes[0].what or area is Area.MEDIA)


def test_ping_nodes_and_logging_are_named(tmp_path: Path) -> None:
    plan = diff(model(tmp_path), model(tmp_path, HACF + "ping 192.0.2.1\nlogfile /tmp/x.log\n"), frozenset())
    assert sorted(c.area.value for c in plan.changes) == ["logging", "ping nodes"]
    assert all(c.apply is Apply.RESTART for c in plan.changes)


def test_a_medium_moved_to_another_line_is_no_change(tmp_path: Path) -> None:
    moved = HACF.replace("ucast lo 127.0.0.1\n", "") + "ucast lo 127.0.0.1\n"
    assert diff(model(tmp_path), model(tmp_path, moved), frozenset()).unchanged


def test_group_added_restarts_the_daemon_and_names_it(tmp_path: Path) -> None:
    plan = diff(model(tmp_path), model(tmp_path, hares=HARES + "n1 192.0.2.30/24/eth0\n"),
                frozenset({"192.0.2.10/24/eth0"}))
    assert areas(plan) == [(Area.GROUP_ADDED, Apply.RESTART)] and "192.0.2.30/24/eth0" in plan.changes[0].what


def test_a_group_running_here_may_not_be_removed_or_changed(tmp_path: Path) -> None:
    held = frozenset({"192.0.2.10/24/eth0"})
    removed = diff(model(tmp_path), model(tmp_path, hares="n2 192.0.2.20/24/eth0 mysvc\n"), held)
    assert areas(removed) == [(Area.GROUP_REMOVED, Apply.REFUSED)] and "192.0.2.10/24/eth0" in str(removed.refused[0])
    changed = diff(model(tmp_path), model(tmp_path, hares=HARES.replace("eth0\n", "eth0 othersvc\n", 1)), held)
    assert areas(changed) == [(Area.GROUP_CHANGED, Apply.REFUSED)]


def test_groups_not_running_here_may_change(tmp_path: Path) -> None:
    held = frozenset({"192.0.2.10/24/eth0"})
    plan = diff(model(tmp_path), model(tmp_path, hares="n1 192.0.2.10/24/eth0\nn2 192.0.2.20/24/eth0 other\n"), held)
    assert areas(plan) == [(Area.GROUP_CHANGED, Apply.RESTART)] and "resources" in plan.changes[0].what
    gone = diff(model(tmp_path), model(tmp_path, hares="n1 192.0.2.10/24/eth0\n"), held)
    assert areas(gone) == [(Area.GROUP_REMOVED, Apply.RESTART)]


def test_a_new_preferred_node_of_a_running_group_is_a_restart_not_a_refusal(tmp_path: Path) -> None:
    held = frozenset({"192.0.2.10/24/eth0"})
    plan = diff(model(tmp_path), model(tmp_path, hares=HARES.replace("n1 ", "n2 ", 1)), held)
    assert areas(plan) == [(Area.GROUP_CHANGED, Apply.RESTART)] and "preferred node" in plan.changes[0].what


def test_the_local_node_renamed_is_refused(tmp_path: Path) -> None:
    old = model(tmp_path)
    d = tmp_path / "renamed"
    d.mkdir()
    (d / "ha.cf").write_text(HACF.replace("node n1 n2", "node n3 n2"))
    (d / "haresources").write_text(HARES.replace("n1 ", "n3 "))
    (d / "authkeys").write_text(AUTH)
    (d / "authkeys").chmod(0o600)
    new = load(d, "n3").heartbeat
    assert new is not None
    plan = diff(old, new, frozenset())
    assert any(c.area is Area.NODES and c.apply is Apply.REFUSED for c in plan.changes)
