"""ha.cf `monitor` (hbd/config/monitoring.py): refused with file and line by config check, read the same way by
the daemon (its node core gets the policy); per-type and per-class check timings and their precedence."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.cli.main import dispatch
from hbd.config import load
from hbd.config.monitoring import DEFAULT_CHECKS, CheckTiming, MonitorSettings, apply_line, settings_of
from hbd.core.recovery import HARESOURCES_DEFAULT, Recovery
from hbd.runtime.bridge import node_config
from heartbeat_files import hacf_of, write_dir

BASE = "bcast lo\nnode n1 n2\n"


def test_without_the_directive_the_documented_defaults_apply(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE)
    assert hacf is not None and not problems
    settings = settings_of(hacf)
    assert settings.policy == HARESOURCES_DEFAULT
    assert settings.timing("mysql", "lsb") == DEFAULT_CHECKS["lsb"] == CheckTiming(10_000, 20_000)
    assert settings.timing("IPaddr2", "IPaddr2") == CheckTiming(10_000, 5_000)


def test_lines_set_policy_and_timings_type_over_class_over_all(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, BASE + "monitor interval=3 timeout=4 max_restarts=5 window=60 recovery=relocate\n"
                                              "monitor type=lsb interval=2\nmonitor type=mysql interval=0\n")
    assert hacf is not None and not problems
    s = settings_of(hacf)
    assert (s.policy.max_restarts, s.policy.restart_expire_ms, s.policy.recovery) == (5, 60_000, Recovery.RELOCATE)
    assert s.timing("httpd", "lsb") == CheckTiming(2000, 4000)  # the class line, its timeout from the `*` line
    assert s.timing("mysql", "lsb") == CheckTiming(0, 4000)  # not checked
    assert s.timing("Filesystem", "Filesystem") == CheckTiming(3000, 4000)  # the line without type wins over defaults


@pytest.mark.parametrize("line, text", [
    ("monitor", "nothing set"),
    ("monitor interval", "write KEY=VALUE"),
    ("monitor every=3", "unknown key [every]"),
    ("monitor interval=500ms", "at least 1 s"),
    ("monitor interval=5 timeout=0", "timeout must be more than 0"),
    ("monitor max_restarts=-1", "0 or more"),
    ("monitor window=10m", "not a time"),
    ("monitor recovery=disable", "use one of restart, relocate"),
    ("monitor type=lsb max_restarts=1", "not per type"),
    ("monitor interval=3 interval=4", "given twice"),
])
def test_a_wrong_line_is_refused_with_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, line: str,
                                                     text: str) -> None:
    directory = write_dir(tmp_path, BASE + line + "\n")
    rc = dispatch(["config", "check", "-c", str(directory), "--node", "n1"])
    errors = [ln for ln in capsys.readouterr().out.splitlines() if ": error: " in ln]
    assert rc == 1 and len(errors) == 1, errors
    assert errors[0].startswith(f"{directory}/ha.cf:3: error: monitor: ") and text in errors[0]


def test_the_daemon_gets_what_config_check_accepted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = write_dir(tmp_path, BASE + "monitor max_restarts=4 window=30\n")
    assert dispatch(["config", "check", "-c", str(directory), "--node", "n1"]) == 0
    cfg = load(directory, "n1")
    policy = node_config(cfg, frozenset(), frozenset()).recovery.policy
    assert (policy.max_restarts, policy.restart_expire_ms) == (4, 30_000)


def test_apply_line_keeps_earlier_settings() -> None:
    s = apply_line(apply_line(MonitorSettings(), "max_restarts=1"), "interval=5")
    assert s.policy.max_restarts == 1 and s.timing("x", "ocf") == CheckTiming(5000, 20_000)
