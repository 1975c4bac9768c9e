"""The agents' runner: frozen results, fixed cwd and environment, TERM then KILL on timeout, whole group."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from hbd.agents import runner


def test_success_captures_output_and_exit_code() -> None:
    res = runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], 5)
    assert (res.rc, res.stdout, res.stderr, res.timed_out, res.killed_with) == (3, "out\n", "err\n", False, None)
    assert not res.ok and res.argv == ("sh", "-c", "echo out; echo err >&2; exit 3")


def test_result_is_frozen() -> None:
    res = runner.run(["true"], 5)
    with pytest.raises(AttributeError):
        res.rc = 1  # type: ignore[misc]


def test_children_run_in_root_with_a_fixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAK_CHECK", "leaked")
    monkeypatch.setenv("HBD_NODE_HINT", "kept")
    res = runner.run(["sh", "-c", "pwd; echo ${LEAK_CHECK:-clean}; echo $LC_ALL; echo $EXTRA; echo $HBD_NODE_HINT"],
                     5, env={"EXTRA": "given"})
    assert res.stdout.split() == ["/", "clean", "C", "given", "kept"]


def test_timeout_terminates_with_term() -> None:
    begin = time.monotonic()
    res = runner.run(["sleep", "30"], 0.2)
    assert res.timed_out and res.killed_with == "TERM" and res.rc == -15
    assert time.monotonic() - begin < 5


def test_a_program_ignoring_term_is_killed() -> None:
    res = runner.run(["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], 0.2, term_grace_s=0.3)
    assert res.timed_out and res.killed_with == "KILL"
    assert res.duration_s < 3


def running(pid: int) -> bool:
    """Alive and not a zombie: a killed orphan stays a zombie until init reaps it, which under load can
    take a while and says nothing about whether the runner killed it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def test_grandchildren_do_not_outlive_the_call(tmp_path) -> None:
    pidfile = tmp_path / "pid"
    res = runner.run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait"], 1.0)
    assert res.timed_out
    assert pidfile.exists(), "the script did not get as far as starting its child within its timeout"
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while running(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"grandchild {pid} still running")
        time.sleep(0.01)


def test_a_missing_program_is_a_result_not_an_exception() -> None:
    res = runner.run(["/nonexistent/agent"], 5)
    assert res.rc is None and res.error and "cannot run" in res.error and not res.ok
    assert "cannot run" in res.describe()


def test_input_is_passed_on_stdin() -> None:
    assert runner.run(["cat"], 5, input="hello").stdout == "hello"


def test_output_kept_is_bounded_head_and_tail() -> None:
    import tracemalloc

    from hbd.agents.runner import MAX_KEPT_BYTES

    script = "import sys; w = sys.stdout.write; w('FIRST\\n'); [w('x' * 65535 + '\\n') for _ in range(800)]; w('LAST\\n')"
    tracemalloc.start()
    try:
        result = runner.run([sys.executable, "-c", script], 60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok
    assert result.stdout.startswith("FIRST\n") and result.stdout.endswith("LAST\n")
    assert "bytes of output not kept" in result.stdout
    assert len(result.stdout) < MAX_KEPT_BYTES + 100  # 50 MB printed, 64 KiB kept
    assert peak < 8 * MAX_KEPT_BYTES  # nothing near the 50 MB was ever held


def test_input_is_fed_and_output_read_together() -> None:
    data = "y" * 300_000  # more than a pipe holds: feeding and reading must interleave
    result = runner.run([sys.executable, "-c", "import sys; d = sys.stdin.read(); print(len(d))"], 30, input=data)
    assert result.ok and result.stdout == "300000\n"
