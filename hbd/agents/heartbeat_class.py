"""Heartbeat resource.d scripts: `SCRIPT arg1 arg2 ... start|stop|status`, args from `Name::a1::a2`.

Status is judged by the exit code by default (0 running; 3, LSB, or 7, the OCF wrappers, stopped).
Heartbeat itself ignored the exit code and grepped the output (heartbeat.md §4.2); that rule is kept as
the compatibility option `status_by_output=True`, not the default, because verbose or localised scripts
are misjudged by it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from hbd.agents import runner
from hbd.agents.base import Outcome
from hbd.agents.scripted import ScriptAgent, check_executable

RESOURCE_DIR = Path("/etc/ha.d/resource.d")
STOPPED_CODES = (3, 7)

# ResourceManager's shell patterns `*[Nn][Oo][Tt]\ *[Rr]unning*` and `*[Rr]unning*|*OK*`, exactly: only the
# first letter of "running" is case-blind, and a pattern's `*` spans lines.
_NOT_RUNNING = re.compile(r"[Nn][Oo][Tt] .*[Rr]unning", re.DOTALL)
_RUNNING = re.compile(r"[Rr]unning|OK")


def owned_by_output(text: str) -> bool:
    """Heartbeat's rule: "not … running" means not owned; otherwise "running" or "OK" means owned.
    So drbddisk's `cannot determine status, may be running` reads as not owned ("canNOT … running")."""
    if _NOT_RUNNING.search(text):
        return False
    return bool(_RUNNING.search(text))


def split_resource(text: str) -> tuple[str, tuple[str, ...]]:
    """`Name::a1::a2` -> ("Name", ("a1", "a2")), as haresources splits it."""
    name, *args = text.split("::")
    return name, tuple(args)


class HeartbeatScriptAgent(ScriptAgent):
    kind = "heartbeat"

    def __init__(self, path: str | Path, args: Sequence[str] = (), *, status_by_output: bool = False):
        self.path = check_executable(Path(path), "resource script")
        self.args = tuple(args)
        self.status_by_output = status_by_output

    @property
    def label(self) -> str:
        return "::".join((self.path.name, *self.args))

    def argv(self, action: str) -> list[str]:
        return [str(self.path), *self.args, action]

    def judge_status(self, res: runner.RunResult) -> tuple[Outcome, str]:
        if self.status_by_output:
            return (Outcome.RUNNING if owned_by_output(res.stdout) else Outcome.STOPPED), ""
        if res.rc == 0:
            return Outcome.RUNNING, ""
        if res.rc in STOPPED_CODES:
            return Outcome.STOPPED, ""
        return Outcome.FAILED, f"status returned {res.rc}"
