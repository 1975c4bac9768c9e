#!/usr/bin/env python3
"""Prove that each regression test fails before its fix and passes now.

For every entry of REGRESSIONS (bug, fix commit, test node ids) this makes a detached worktree of the tree
before the fix (FIX^), copies the entry's test files (and the support files it names) from this checkout
into it, and runs them there with that tree's hbd; the run must end in a failed *assertion* (pytest exit 1,
every failure an AssertionError or pytest.fail, no collection error, no ImportError, no TypeError of an API
the fix introduced). Then the same files run in a worktree of HEAD and must pass. Worktrees are removed
whatever happens; every git and pytest call has a time limit.

Which hbd runs: an overlay virtual environment per worktree (the packages of /work/main/.venv behind the
worktree's own hbd, and the tree's own console scripts from its setup.cfg) is the interpreter of pytest and,
through sys.executable and PATH, of everything the lab starts in its nodes (daemons, the drbdadm emulator,
hbd-standby). The venv's editable install of the checkout is not loaded there; the checker verifies that
`import hbd` resolves inside the worktree before it runs a test.

It needs git history, so it is not part of `make test`. Run it from the checkout, as root for lab entries:

    .venv/bin/python dev/check_regressions.py            # every entry
    .venv/bin/python dev/check_regressions.py --bug 9 1  # some bugs
    .venv/bin/python dev/check_regressions.py --list

Exit 0: every selected entry failed by assertion before its fix and passed at HEAD; 1 otherwise.
"""
from __future__ import annotations

import argparse
import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


@dataclass(frozen=True)
class Regression:
    bug: str  # issue 9's bug number; "N-lab": the same bug in the lab, "6-rt": bug 6's second fix
    fix: str  # the commit that fixed it: FIX^ is the tree before the fix
    tests: tuple[str, ...]  # pytest node ids, relative to the checkout
    support: tuple[str, ...] = ()  # other files the tests need, copied from this checkout too
    timeout_s: int = 300


O = "tests/unit/test_ownership_regressions.py"
C = "tests/unit/test_config_check_regressions.py"
L = "tests/lab/test_lab_regressions.py"
D = "tests/lab/test_daemon_outcomes.py"
DAEMON_LAB = ("tests/lab/conftest.py", "tests/lab/daemon_lab.py", "tests/lab/kill9_standby.py")

# A node id without parameters runs every parameter: each must fail before the fix and pass at HEAD.
REGRESSIONS = (
    Regression("1", "ff26290", (
        f"{O}::test_after_a_refused_takeover_and_the_peers_return_standby_moves_the_group",
        f"{O}::test_standby_to_a_peer_whose_start_fails_is_not_reported_as_done",
    )),
    Regression("1-lab", "ff26290", (
        f"{D}::test_kill_9_then_standby_moves_the_group_both_ways_and_reports_it",
        f"{D}::test_standby_to_a_peer_whose_start_fails_exits_1_and_says_why",
    ), DAEMON_LAB, 600),
    Regression("2", "ff26290", (f"{O}::test_a_start_that_succeeded_on_retry_stays_when_the_peer_returns",)),
    Regression("3", "ff26290", (
        f"{O}::test_takeover_failback_takes_back_this_nodes_group_from_the_peer",
        f"{O}::test_takeover_foreign_with_nothing_held_by_the_peer_fails",
    )),
    Regression("4", "ff26290", (f"{O}::test_a_group_found_partly_running_is_completed",)),
    Regression("4-lab", "ff26290", (
        f"{D}::test_a_group_found_partly_running_is_completed_and_status_shows_each_resource",), DAEMON_LAB, 600),
    Regression("5-lab", "ff26290", (
        f"{D}::test_after_a_partition_heals_the_keeper_announces_the_vip_again",), DAEMON_LAB, 600),
    Regression("7", "ff26290", (f"{O}::test_groups_defined_differently_on_the_two_nodes_are_started_by_neither",)),
    Regression("7-lab", "ff26290", (
        "tests/lab/test_daemon_regressions.py"
        "::test_nodes_whose_haresources_each_name_themselves_never_both_run_the_group",
    ), ("tests/lab/conftest.py", "tests/lab/daemon_lab.py"), 600),
    Regression("6", "25aedb2", (
        "tests/sim/test_membership_selfcheck.py::test_stalled_loop_that_sent_nothing_does_not_judge_itself_dead",)),
    Regression("6-rt", "f685327", (
        "tests/unit/test_process_realtime.py::test_every_thread_is_realtime_and_children_are_not",)),
    Regression("8", "f89f2ea", (
        "tests/unit/test_logfile_regressions.py::test_lines_after_logrotate_renamed_the_file_go_to_the_new_file",)),
    Regression("8-lab", "f89f2ea", (
        "tests/lab/test_daemon_regressions.py"
        "::test_after_mv_of_the_log_and_hbd_reload_the_daemon_writes_to_the_new_file",
    ), ("tests/lab/conftest.py", "tests/lab/daemon_lab.py"), 600),
    Regression("9", "63408b7", (
        f"{C}::test_config_check_refuses_what_the_daemon_cannot_run",
        f"{C}::test_config_check_refuses_a_cluster_conf_the_daemon_cannot_run",
        f"{C}::test_config_check_warns_of_what_cannot_work_on_this_node",
    )),
    Regression("10", "d2bf334", (
        f"{L}::test_exec_timeout_leaves_none_of_the_commands_processes",
        f"{L}::test_a_secondary_cannot_be_mounted",
        f"{L}::test_lab_up_disk_size_is_an_option_and_sparse",
        f"{L}::test_default_shared_disk_holds_a_small_database",
    ), ("tests/lab/conftest.py",), 600),
)


@dataclass
class Outcome:
    rc: int
    passed: list[str]
    failed: list[tuple[str, str]]  # (test, first line of the failure message)
    errors: list[tuple[str, str]]  # collection or fixture errors
    skipped: list[str]
    output: str

    def assertion_failures_only(self) -> bool:
        return self.rc == 1 and bool(self.failed) and not self.errors and not self.skipped and all(
            msg.startswith(("assert", "AssertionError", "Failed:")) for _, msg in self.failed)


def git(*args: str, timeout: float = 120) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True,
                          timeout=timeout).stdout.strip()


def console_scripts(tree: Path) -> list[tuple[str, str, str]]:
    """(name, module, function) of the tree's own console scripts (setup.cfg), as pip would install them."""
    cfg = configparser.ConfigParser()
    cfg.read(tree / "setup.cfg")
    out = []
    for line in cfg.get("options.entry_points", "console_scripts", fallback="").splitlines():
        if "=" in line:
            name, target = (part.strip() for part in line.split("=", 1))
            module, func = target.split(":")
            out.append((name, module, func))
    if not out:
        raise RuntimeError(f"{tree}/setup.cfg names no console scripts")
    return out


def overlay_venv(where: Path, tree: Path) -> Path:
    """A venv whose `import hbd` is the worktree's, with the checkout venv's packages behind it."""
    subprocess.run([str(VENV / "bin" / "python"), "-m", "venv", "--without-pip", str(where)], check=True,
                   timeout=120)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    checkout_lib = sysconfig.get_paths(vars={"base": str(VENV), "platbase": str(VENV)})["purelib"]
    # Plain path lines: the checkout venv's own .pth files (its editable hbd) are not processed.
    Path(purelib, "hbd-regression-overlay.pth").write_text(f"{tree}\n{checkout_lib}\n")
    for script, module, func in console_scripts(tree):
        exe = where / "bin" / script
        exe.write_text(f"#!{python}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n")
        exe.chmod(0o755)
    found = subprocess.run([str(python), "-c", "import hbd; print(hbd.__file__)"], check=True,
                           capture_output=True, text=True, timeout=60, cwd="/").stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"overlay venv imports hbd from {found}, not from {tree}")
    return python


def run_in_tree(rev: str, entry: Regression, keep: bool) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix="hbd-regress-"))
    tree = work / "tree"
    try:
        git("worktree", "add", "--detach", str(tree), rev)
        for rel in {n.split("::")[0] for n in entry.tests} | set(entry.support):
            dst = tree / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst)
        python = overlay_venv(work / "venv", tree)
        junit = work / "junit.xml"
        env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
        argv = [str(python), "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", f"--junitxml={junit}",
                *entry.tests]
        try:
            ran = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True,
                                 timeout=entry.timeout_s)
            rc, output = ran.returncode, ran.stdout + ran.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout or b""
            rc, output = -1, (out.decode(errors="replace") if isinstance(out, bytes) else out) + "\n(timed out)"
        return parse(junit, rc, output)
    finally:
        if keep:
            print(f"  kept {work}")
        else:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           capture_output=True, timeout=120)
            shutil.rmtree(work, ignore_errors=True)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], capture_output=True, timeout=60)


def parse(junit: Path, rc: int, output: str) -> Outcome:
    outcome = Outcome(rc, [], [], [], [], output)
    if not junit.exists():
        outcome.errors.append(("(run)", "no junit report: pytest did not get to run the tests"))
        return outcome
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
        if failure is not None:
            where = statement(failure.text or "")
            text = first_line(failure.get("message", ""))
            outcome.failed.append((name, text + (f"  [at: {where}]" if where else "")))
        elif error is not None:
            outcome.errors.append((name, first_line(error.get("message", ""))))
        elif skipped is not None:
            outcome.skipped.append(name)
        else:
            outcome.passed.append(name)
    return outcome


def statement(traceback: str) -> str:
    """The failing statement of a pytest traceback: the last line pytest marks with '>'."""
    marked = [line[1:].strip() for line in traceback.splitlines() if line.startswith(">")]
    return marked[-1] if marked else ""


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


def check(entry: Regression, keep: bool) -> bool:
    before = git("rev-parse", "--short", f"{entry.fix}^")
    head = git("rev-parse", "--short", "HEAD")
    print(f"bug {entry.bug}: fix {entry.fix}, before the fix = {before}, HEAD = {head}")
    old = run_in_tree(before, entry, keep)
    old_ok = old.assertion_failures_only() and not old.passed
    print(f"  before the fix: pytest exit {old.rc}; {len(old.failed)} failed"
          f"{', ' + str(len(old.passed)) + ' PASSED' if old.passed else ''}"
          f"{', ' + str(len(old.errors)) + ' errors' if old.errors else ''}"
          f"{', ' + str(len(old.skipped)) + ' skipped' if old.skipped else ''}: {'ok' if old_ok else 'NOT PROVEN'}")
    for name, msg in old.failed:
        print(f"    FAILED {name}: {msg}")
    for name, msg in old.errors:
        print(f"    ERROR {name}: {msg}")
    for name in old.passed:
        print(f"    passed (should fail) {name}")
    new = run_in_tree(head, entry, keep)
    new_ok = new.rc == 0 and bool(new.passed) and not (new.failed or new.errors or new.skipped)
    print(f"  at HEAD: pytest exit {new.rc}; {len(new.passed)} passed: "
          f"{'ok' if new_ok else 'FAILS'}")
    for name, msg in new.failed + new.errors:
        print(f"    {name}: {msg}")
    if not (old_ok and new_ok):
        print("  --- pytest output (last 40 lines) ---")
        for run in (old, new):
            print("\n".join("    " + line for line in run.output.splitlines()[-40:]))
    return old_ok and new_ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bug", nargs="*",
                    help="only these bugs, e.g. 9 or 1-lab; N selects N-lab, N-rt too (default: all)")
    ap.add_argument("--list", action="store_true", help="print the table and exit")
    ap.add_argument("--keep", action="store_true", help="keep the worktrees (to look at a failure)")
    args = ap.parse_args(argv)
    wanted = args.bug or []
    selected = sorted((e for e in REGRESSIONS
                       if not wanted or any(e.bug == b or e.bug.startswith(b + "-") for b in wanted)),
                      key=lambda e: int(e.bug.split("-")[0]))
    if args.bug and not selected:
        ap.error(f"no entry for bug {' '.join(args.bug)}; known: {' '.join(e.bug for e in REGRESSIONS)}")
    if args.list:
        for e in selected:
            print(f"bug {e.bug}\t{e.fix}\t" + "\n\t\t".join(e.tests))
        return 0
    results = {e.bug: check(e, args.keep) for e in selected}
    print("summary: " + ", ".join(f"bug {b} {'proven' if ok else 'NOT PROVEN'}" for b, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
