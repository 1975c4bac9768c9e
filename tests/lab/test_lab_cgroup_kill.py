"""A power-off kills a node's processes even when the cgroup v1 freezer cannot finish freezing them.

On v1 a task in uninterruptible sleep (I/O to a loop device on a loaded machine) keeps the group FREEZING;
CI once lost a test to a power-off that waited 5 s for FROZEN. Here the freeze is made to fail the same way
(requested, never reached), with real processes that keep forking, and the group must still end empty."""
from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from hbd.errors import LabError
from hbd.lab.cgroups import NodeCgroup, hierarchy_root

pytestmark = pytest.mark.lab


@pytest.fixture
def group() -> Iterator[NodeCgroup]:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a cgroup")
    try:
        hierarchy_root()
    except LabError as e:
        pytest.skip(str(e))
    cg = NodeCgroup(f"hbt{uuid.uuid4().hex[:6]}", "n1")
    cg.create()
    yield cg
    cg.remove()


def forking_shells(cg: NodeCgroup, count: int) -> list[subprocess.Popen[bytes]]:
    # Each shell forks a sleep ten times a second, so new pids appear while the kill runs.
    return [subprocess.Popen(["sh", "-c", "while :; do sleep 0.1; done"], preexec_fn=cg.join_self)
            for _ in range(count)]


def test_kill_all_empties_the_group_when_the_freeze_never_completes(group: NodeCgroup,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    shells = forking_shells(group, 3)
    try:
        assert len(group.pids()) >= 3
        real_set_frozen = group._set_frozen
        asked: list[bool] = []

        def stuck_freeze(frozen: bool, bound: float = 5.0) -> None:
            asked.append(frozen)
            if frozen:  # what a task in D state does to a v1 freeze: it never reaches FROZEN
                raise LabError(f"cgroup {group.path}: not state FROZEN after {bound:g} s")
            real_set_frozen(frozen, bound)

        monkeypatch.setattr(group, "_set_frozen", stuck_freeze)
        group.kill_all()
        assert group.pids() == []
        if group.version == 1:
            assert asked == [True, False]  # the freeze was tried, and the group is left thawed
            assert not group.frozen()
        for shell in shells:
            assert shell.wait(timeout=5) == -9
    finally:
        for shell in shells:
            if shell.poll() is None:
                shell.kill()
                shell.wait(timeout=5)


def test_a_timeout_names_the_tasks_and_their_states(group: NodeCgroup) -> None:
    shells = forking_shells(group, 1)
    try:
        with pytest.raises(LabError) as e:
            group._wait(lambda: False, "state FROZEN", 0.05)
        assert f"{shells[0].pid} sh S" in str(e.value), str(e.value)
    finally:
        group.kill_all()
        shells[0].wait(timeout=5)
