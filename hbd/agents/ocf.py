"""OCF resource agents (`/usr/lib/ocf/resource.d/PROVIDER/TYPE`): OCF_ROOT, OCF_RESKEY_*, OCF exit codes.

start/stop succeed on 0; status runs `monitor` (0 running, 7 stopped, 8 running as master). Before a
start, the agent's meta-data is read and required parameters are checked, so a bad configuration fails
with a reason before the agent touches anything.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from hbd.agents import runner
from hbd.agents.base import (OCF_CODE_TEXT, OCF_ERR_CONFIGURED, Agent, AgentResult, Deadline, Op, failed, running,
                             stopped, timed_out)
from hbd.agents.scripted import check_executable, output_lines, run_script
from hbd.errors import AgentError

OCF_ROOT = Path("/usr/lib/ocf")
OCF_RUNNING_MASTER = 8
OCF_FAILED_MASTER = 9


@dataclass(frozen=True)
class OcfParameter:
    name: str
    required: bool
    unique: bool
    default: str | None
    shortdesc: str


@dataclass(frozen=True)
class OcfAction:
    """One `<action>` of the meta-data, its attributes as written (hbd/runtime/service_meta.py reads the times)."""

    name: str
    timeout: str | None = None
    interval: str | None = None
    depth: str | None = None


@dataclass(frozen=True)
class OcfMetaData:
    name: str
    version: str
    parameters: tuple[OcfParameter, ...]
    actions: tuple[str, ...]
    timings: tuple[OcfAction, ...] = ()

    def parameter(self, name: str) -> OcfParameter | None:
        return next((p for p in self.parameters if p.name == name), None)


def parse_meta_data(xml: str) -> OcfMetaData:
    """Parse an agent's `meta-data` XML (the resource-agent DTD: parameters, actions)."""
    from lxml import etree  # only when meta-data is read: a daemon running no OCF agent does not load lxml

    try:
        root = etree.fromstring(xml.encode())
    except etree.XMLSyntaxError as exc:
        raise AgentError(f"meta-data is not well-formed XML: {exc}") from None
    if root.tag != "resource-agent":
        raise AgentError(f"meta-data root element is <{root.tag}>, expected <resource-agent>")
    params = []
    for p in root.iterfind("parameters/parameter"):
        content = p.find("content")
        params.append(OcfParameter(
            name=p.get("name", ""),
            required=p.get("required", "0") in ("1", "true", "yes"),
            unique=p.get("unique", "0") in ("1", "true", "yes"),
            default=content.get("default") if content is not None else None,
            shortdesc=(p.findtext("shortdesc") or "").strip(),
        ))
    found = list(root.iterfind("actions/action"))
    actions = tuple(a.get("name", "") for a in found)
    timings = tuple(OcfAction(a.get("name", ""), a.get("timeout"), a.get("interval"), a.get("depth")) for a in found)
    return OcfMetaData(root.get("name", ""), root.get("version", ""), tuple(params), actions, timings)


def ocf_env(provider: str, type_: str, instance: str, params: Mapping[str, str], root: Path,
            timeout_ms: int | None = None, check_level: int = 0) -> dict[str, str]:
    env = {
        "OCF_ROOT": str(root),
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "0",
        "OCF_RESOURCE_INSTANCE": instance,
        "OCF_RESOURCE_TYPE": type_,
        "OCF_RESOURCE_PROVIDER": provider,
        "OCF_CHECK_LEVEL": str(check_level),
    }
    if timeout_ms is not None:
        # Agents written for Pacemaker bound their own waits by the operation's timeout (resource-agents'
        # Filesystem, for one); rgmanager passed it as OCF_RESKEY_RGMANAGER_meta_timeout in seconds.
        env["OCF_RESKEY_CRM_meta_timeout"] = str(timeout_ms)
        env["OCF_RESKEY_RGMANAGER_meta_timeout"] = str(max(1, timeout_ms // 1000))
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    return env


class OcfAgent(Agent):
    kind = "ocf"
    idempotent_start = False  # OCF says start is idempotent, but agents vary: asked for its status first

    def __init__(self, provider: str, type_: str, params: Mapping[str, str] | None = None, *,
                 instance: str | None = None, root: str | Path = OCF_ROOT):
        if "/" in provider or "/" in type_ or not provider or not type_:
            raise AgentError(f"bad OCF agent name ocf:{provider}:{type_}")
        self.root = Path(root)
        self.provider, self.type = provider, type_
        self.path = check_executable(self.root / "resource.d" / provider / type_, "OCF agent")
        self.params = dict(params or {})
        self.instance = instance or f"{type_}_{next(iter(self.params.values()), 'default')}"
        self._meta: OcfMetaData | None = None
        self.check_level = 0  # OCF_CHECK_LEVEL of its monitor: the depth of the status check it runs for

    @property
    def label(self) -> str:
        return f"ocf:{self.provider}:{self.type}({self.instance})"

    def _run(self, action: str, deadline: Deadline) -> runner.RunResult:
        env = ocf_env(self.provider, self.type, self.instance, self.params, self.root,
                      int(deadline.remaining() * 1000), self.check_level if action == "monitor" else 0)
        return run_script([str(self.path), action], deadline, env)

    def meta_data(self, deadline: Deadline) -> OcfMetaData:
        if self._meta is None:
            res = self._run("meta-data", deadline)
            if not res.ok:
                raise AgentError(f"{self.path} meta-data failed: {res.describe()}")
            self._meta = parse_meta_data(res.stdout)
        return self._meta

    def configuration_problem(self, deadline: Deadline) -> str | None:
        """A reason when required parameters are missing or unknown ones given; None when all is well."""
        meta = self.meta_data(deadline)
        missing = [p.name for p in meta.parameters if p.required and p.name not in self.params]
        if missing:
            return f"missing required parameter(s): {', '.join(missing)}"
        known = {p.name for p in meta.parameters}
        unknown = sorted(k for k in self.params if k not in known)
        if unknown:
            return f"unknown parameter(s): {', '.join(unknown)}"
        return None

    def _op(self, op: Op, action: str, deadline: Deadline) -> AgentResult:
        res = self._run(action, deadline)
        lines = output_lines(res)
        if res.timed_out:
            return timed_out(op, f"{self.type} {action} did not finish", *lines)
        if res.error:
            return failed(op, res.error, *lines)
        rc = res.rc
        if op == "status":
            if rc in (0, OCF_RUNNING_MASTER):
                return running(op, *lines)
            if rc == 7:
                return stopped(op, *lines)
        elif rc == 0:
            return (running if op == "start" else stopped)(op, *lines)
        text = OCF_CODE_TEXT.get(rc if rc is not None else -1, "unknown error")
        return failed(op, f"{action} returned {rc} ({text})", *lines)

    def start(self, deadline: Deadline) -> AgentResult:
        try:
            problem = self.configuration_problem(deadline)
        except AgentError as exc:
            return failed("start", str(exc))
        if problem:
            return failed("start", f"{problem} ({OCF_CODE_TEXT[OCF_ERR_CONFIGURED]})")
        return self._op("start", "start", deadline)

    def stop(self, deadline: Deadline) -> AgentResult:
        return self._op("stop", "stop", deadline)

    def status(self, deadline: Deadline) -> AgentResult:
        return self._op("status", "monitor", deadline)
