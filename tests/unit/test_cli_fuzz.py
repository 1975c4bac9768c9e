"""The whole command line under a hypothesis fuzz: every invocation ends with a message and an exit code.

Each example runs `hbd ...` (or hbd-standby / hbd-takeover) in this process with arguments drawn from
the options every subcommand knows, mixed with hostile values: missing values, unknown options,
/dev/zero, a FIFO and a directory as files, 100 000-character values, non-UTF-8 (surrogate-escaped,
as Python receives it), NaN / negative / 1e309 timeouts and over-long socket paths. Nothing may raise
(a traceback), exit 0 on a hostile value, take more than a few seconds or grow memory without bound.

Actions that would change this machine (creating or removing labs, starting a daemon, running a demo)
are replaced by stand-ins after argument parsing, so what is fuzzed is everything up to the action.
A smaller set of the same invocations also runs as real processes, with a timeout, to catch hangs.
"""
from __future__ import annotations

import contextlib
import io
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbd.cli import main as cli_main
from hbd.errors import ConfigError, Problem

FUZZ = Path("/tmp/hbd-cli-fuzz")  # a fixed place: examples are drawn before any fixture runs
FIFO = FUZZ / "fifo"
DIRECTORY = FUZZ / "dir"
NOT_THERE = FUZZ / "absent"

SUBCOMMANDS = ["config", "test", "lab", "membership", "status", "reload", "run", "demo", "help"]
WORDS = {
    "config": ["check", "show"],
    "test": ["noop", "test", "start", "stop", "status", "service", "tree", "rules", "delta", "script", "database"],
    "lab": ["up", "status", "exec", "fault", "boot", "down", "cut", "restore", "netem", "clear-netem", "freeze",
            "thaw", "power-off", "kill", "n1", "n2", "client", "--", "true", "hbl0", "hblfuzz1"],
    "membership": [],
    "status": [], "reload": [], "run": [], "demo": [], "help": [],
    "standby": ["all", "local", "foreign", "failback"], "takeover": ["all", "local", "foreign", "failback"],
}
OPTIONS = ["-c", "--config", "--node", "--socket", "--timeout", "--json", "--name", "--nodes", "--media",
           "--disk-mb", "--medium", "--how", "--loss", "--delay-ms", "--duplicate", "--signal", "--all",
           "--leftovers", "--force", "--pidfile", "--state-dir", "--on-stop-failure", "--interval",
           "--once-after", "--events", "--logfile", "-f", "-h", "--help", "-V", "--bogus", "-x", "--"]
HOSTILE = ["nan", "NaN", "-nan", "inf", "-inf", "1e309", "-1e309", "-1", "0", "-0", "1e-400", "", " ", "abc",
           "99999999999999999999999", "0x10", "1_000", "/dev/zero", "/dev/null", str(FIFO), str(DIRECTORY),
           str(NOT_THERE), "/", "../hbl0", "hbl0/../..", "x" * 100_000, "/tmp/" + "s" * 200,
           "/" + "d/" * 3000, "\udcff\udcfe", "caf\udce9", "-", "--", "=", "n9", "client", "7", "KILL", "BOGUS"]
SAFE_FOR_REAL = [v for v in HOSTILE if len(v) < 5000]


def _stand_in(*_: object, **__: object) -> int:
    return 0


def _refuse_config(*_: object, **__: object) -> object:
    raise ConfigError([Problem("fuzz", None, "error", "configuration loading is not part of this fuzz")])


@pytest.fixture(scope="module", autouse=True)
def fuzz_files() -> Iterator[None]:
    FUZZ.mkdir(exist_ok=True)
    DIRECTORY.mkdir(exist_ok=True)
    if not FIFO.exists():
        os.mkfifo(FIFO)
    yield


@pytest.fixture(autouse=True)
def no_side_effects(monkeypatch: pytest.MonkeyPatch) -> None:
    from hbd.cli import daemon_cmd, demo_cmd, lab_cmd, membership_cmd

    monkeypatch.setattr(lab_cmd, "COMMANDS", {name: _stand_in for name in lab_cmd.COMMANDS})
    monkeypatch.setattr(daemon_cmd, "load", _refuse_config)  # never a daemon, a pid lock or a fork
    monkeypatch.setattr(membership_cmd, "read_hacf", lambda *a, **k: (None, None))
    monkeypatch.setattr(demo_cmd, "main", lambda argv: demo_cmd.argparse.ArgumentParser(prog="hbd demo")
                        .parse_args(argv) and 0)
    monkeypatch.setattr(cli_main, "_handover", cli_main._handover)


def invoke(argv: list[str]) -> tuple[int, str, str, float]:
    """Run one invocation in-process: (exit code, stdout, stderr, seconds). Raises on a traceback."""
    out, err = io.StringIO(), io.StringIO()
    began = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if argv[:1] in (["standby"], ["takeover"]):
                module = __import__("hbd.cli.handover_cmd", fromlist=["main"])
                code = module.main(argv[0], argv[1:])
            else:
                code = cli_main._run(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return int(code), out.getvalue(), err.getvalue(), time.monotonic() - began


def hostile_in(argv: list[str]) -> bool:
    return any(a in HOSTILE and a not in ("0", "7", "client", "n9", "KILL", "-", "--") for a in argv)


@st.composite
def invocations(draw: st.DrawFn) -> list[str]:
    sub = draw(st.sampled_from(SUBCOMMANDS + ["standby", "takeover"]))
    pool = WORDS[sub] + OPTIONS + HOSTILE
    tail = draw(st.lists(st.sampled_from(pool) | st.text(max_size=12), max_size=7))
    return [sub, *tail]


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(invocations())
def test_every_invocation_ends_with_an_exit_code_and_no_traceback(argv: list[str]) -> None:
    code, out, err, seconds = invoke(argv)
    assert "Traceback" not in out + err, (argv, err[-2000:])
    assert seconds < 10, (argv, seconds)
    assert 0 <= code < 256
    if code == 0 and sub_is_query(argv):
        assert not hostile_value_given(argv), (argv, out[-500:], err[-500:])


def sub_is_query(argv: list[str]) -> bool:
    return argv[0] in ("status", "reload", "standby", "takeover") and "-h" not in argv and "--help" not in argv


def hostile_value_given(argv: list[str]) -> bool:
    return any(a in ("--timeout", "--socket") and i + 1 < len(argv) and argv[i + 1] in HOSTILE
               for i, a in enumerate(argv))


@pytest.mark.parametrize("argv", [
    ["status", "--timeout", "nan"], ["status", "--timeout", "-1"], ["status", "--timeout", "1e309"],
    ["status", "--timeout", "inf"], ["reload", "--timeout", "0"], ["status", "--socket", "/tmp/" + "s" * 200],
    ["status", "--socket", str(FIFO)], ["status", "--socket", "/dev/zero"], ["status", "--socket", ""],
    ["standby", "--timeout", "nan"], ["takeover", "--timeout", "-5"], ["standby", "--socket", "/" + "x" * 300],
    ["lab", "exec", "--timeout", "nan", "n1", "--", "true"], ["lab", "exec", "--timeout", "-1", "n1", "true"],
    ["lab", "up", "--nodes", "0"], ["lab", "up", "--nodes", "1e309"], ["lab", "up", "--disk-mb", "-5"],
    ["lab", "up", "--name", "../x"], ["lab", "down", "../x"], ["lab", "status", "x" * 100_000],
    ["lab", "fault", "netem", "n1", "0", "--loss", "nan"], ["lab", "fault", "netem", "n1", "0", "--delay-ms", "inf"],
    ["membership", "--interval", "nan"], ["membership", "--once-after", "-1"], ["membership", "--interval", "1e309"],
    ["config", "check", "-c", "/dev/zero"], ["config", "check", "-c", str(FIFO)],
    ["config", "show", "-c", "x" * 100_000], ["config", "check", "-c", "\udcff"], ["config"], ["config", "bogus"],
    ["test", "noop", "start", "service", "x", "-c", str(FIFO)], ["test", "delta", "/dev/zero", str(FIFO)],
    ["test", "tree", "-c", "/dev/zero"], ["test", "noop", "start"], ["test"], ["nosuch"],
    ["run", "--on-stop-failure", "maybe"], ["run", "--socket", "/tmp/" + "s" * 200],
])
def test_hostile_values_are_refused_with_a_message(argv: list[str]) -> None:
    code, out, err, seconds = invoke(argv)
    assert "Traceback" not in out + err, err[-2000:]
    assert code != 0, (argv, out[-300:], err[-300:])
    assert (out + err).strip(), argv  # a message says why
    assert seconds < 10


def test_memory_stays_bounded_over_the_fuzz() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for value in HOSTILE:
        for argv in (["config", "check", "-c", value], ["test", "tree", "-c", value],
                     ["status", "--socket", value, "--timeout", "1"]):
            invoke(argv)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 200 * 1024, grown_kb


def hbd_process(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    raw = [a.encode("utf-8", "surrogateescape") for a in argv]  # what the kernel hands over
    return subprocess.run([sys.executable, "-m", "hbd.cli.main", *raw], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**os.environ, "HBD_LAB_DIR": str(DIRECTORY)})


@pytest.mark.parametrize("argv", [
    ["config", "check", "-c", str(FIFO)], ["config", "check", "-c", "/dev/zero"], ["status", "--timeout", "nan"],
    ["status", "--socket", "/tmp/" + "s" * 200], ["reload", "--socket", str(FIFO), "--timeout", "1"],
    ["config", "check", "-c", "\udcff\udcfe"], ["test", "tree", "-c", str(FIFO)], ["lab", "down", "../hbltx"],
    ["run", "-c", str(FIFO)], ["membership", "-c", str(FIFO)], ["--bogus"], ["config", "check", "--node"],
])
def test_real_processes_exit_with_a_message_and_never_hang(argv: list[str]) -> None:
    done = hbd_process(argv)
    text = (done.stdout + done.stderr).decode(errors="replace")
    assert b"Traceback" not in done.stdout + done.stderr, text[-2000:]
    assert done.returncode not in (0, None), (argv, text[-500:])
    assert text.strip()
