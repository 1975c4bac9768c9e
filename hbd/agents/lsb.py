"""LSB init scripts (`/etc/init.d/NAME start|stop|status`) judged by LSB exit codes (status 3 = stopped)."""
from __future__ import annotations

from pathlib import Path

from hbd.agents import runner
from hbd.agents.base import Outcome
from hbd.agents.scripted import ScriptAgent, check_executable

# LSB core spec, "Init Script Actions".
LSB_STATUS_TEXT: dict[int, str] = {
    0: "program is running or service is OK",
    1: "program is dead and /var/run pid file exists",
    2: "program is dead and /var/lock lock file exists",
    3: "program is not running",
    4: "program or service status is unknown",
}
LSB_ACTION_TEXT: dict[int, str] = {
    1: "generic or unspecified error",
    2: "invalid or excess argument(s)",
    3: "unimplemented feature",
    4: "user had insufficient privilege",
    5: "program is not installed",
    6: "program is not configured",
    7: "program is not running",
}
INIT_DIR = Path("/etc/init.d")


def status_outcome(rc: int | None) -> Outcome:
    """0 running; 1, 2 (dead, stale pid or lock file) and 3 stopped; anything else failed."""
    if rc == 0:
        return Outcome.RUNNING
    if rc in (1, 2, 3):
        return Outcome.STOPPED
    return Outcome.FAILED


class LsbAgent(ScriptAgent):
    kind = "lsb"

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = check_executable(Path(path), "init script")
        self.name = name or self.path.name

    @property
    def label(self) -> str:
        return f"lsb:{self.name}"

    def argv(self, action: str) -> list[str]:
        return [str(self.path), action]

    def failure_text(self, rc: int | None) -> str:
        return LSB_ACTION_TEXT.get(rc if rc is not None else -1, f"exit code {rc}")

    def judge_status(self, res: runner.RunResult) -> tuple[Outcome, str]:
        outcome = status_outcome(res.rc)
        text = LSB_STATUS_TEXT.get(res.rc if res.rc is not None else -1, f"exit code {res.rc}")
        if outcome is Outcome.RUNNING:
            return outcome, ""
        return outcome, f"status returned {res.rc} ({text})" if res.rc != 3 else ""
