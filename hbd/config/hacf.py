"""Parse Heartbeat's ha.cf into hbd.config.model.HaCf, with Heartbeat's lexical rules, defaults and checks.

Lexical rules (heartbeat.md §2.1): `#` starts a comment anywhere; the directive is the first word and is
case-sensitive; ordinary directives apply every space-, tab- or comma-separated value in turn (so a
repeated scalar keeps the last value); media with several fields and a few others take the whole line.
Derived defaults are computed after the whole file is read (§2.4): warntime = deadtime/2, the initdead
rule, deadping = deadtime (hacf_timing.py). What has been read so far is a Draft (hacf_draft.py).

One difference on purpose: Heartbeat applies `udpport` only to media declared after it; hbd uses the
file's udpport for every bcast and ucast medium wherever the line is, and warns when Heartbeat would have
used another port for a medium (so that a mixed Heartbeat/hbd cluster is not split by the order of lines).
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from hbd.config import hacf_media
from hbd.config.hacf_directives import ALIASES, CRM_OFF, CRM_ON, DIRECTIVES, SCALARS, SYSLOG_FACILITIES, DirectiveRule
from hbd.config.hacf_draft import Draft
from hbd.config.hacf_timing import LOW_KEEPALIVE_MS as LOW_KEEPALIVE_MS  # hbd.config.clustermembership
from hbd.config.hacf_timing import timing_of
from hbd.config.model import AutoFailback, Directive, HaCf, Medium, PingGroup
from hbd.config.textfile import NotReadable, numbered_lines, read_bounded, read_text
from hbd.config.units import parse_bool, parse_c_int, parse_msec
from hbd.errors import Problems

WHITESPACE = " \t\f\v\r\n"
DELIMS = "," + WHITESPACE
_DELIM_RE = "[" + re.escape(DELIMS) + "]"
DEFAULT_UDPPORT = 694
HOSTLENG = 100  # Heartbeat keeps node names in 100-byte buffers, NUL included
MAXNODE = 100
MAXMEDIA = 64  # Heartbeat's limit of heartbeat media


def local_node_name(config_dir: Path | None, override: str | None = None) -> str:
    """The local node name: --node, else the first line of nodeinfo (as Heartbeat), else `uname -n`."""
    if override:
        return override.strip().lower()
    if config_dir is not None:
        try:
            first = read_bounded(config_dir / "nodeinfo", 4096).decode(errors="replace").splitlines()
        except (OSError, NotReadable):
            first = []
        if first and first[0].strip():
            return first[0].strip().lower()
    return os.uname().nodename.lower()


def parse_hacf(path: str | Path, problems: Problems, local_node: str | None = None) -> HaCf | None:
    """Read ha.cf; every problem goes to `problems`. Returns None when the file cannot be used."""
    return read_hacf(path, problems, local_node)[0]


def read_hacf(path: str | Path, problems: Problems,
              local_node: str | None = None) -> tuple[HaCf | None, tuple[str, ...] | None]:
    """Like parse_hacf, and also the node names when they were read without error, even if the rest was
    refused: haresources can then still be checked against them."""
    path = Path(path)
    text = read_text(path, problems, "config file")
    if text is None:
        return None, None
    draft = Draft(path, problems)
    first_problem = len(problems.items)
    for number, line in numbered_lines(text, path, problems):
        _parse_line(draft, number, line)
    node = local_node_name(path.parent, None) if local_node is None else local_node.lower()
    hacf = _finish(draft, node)
    nodes = None if "node" in draft.broken else tuple(draft.nodes)
    if any(p.severity == "error" for p in problems.items[first_problem:]):
        return None, nodes
    return hacf, nodes


def _parse_line(draft: Draft, number: int, line: str) -> None:
    body = line.lstrip(WHITESPACE).split("#", 1)[0]
    if not body.strip(WHITESPACE):
        return
    name, rest = body, ""
    for i, char in enumerate(body):
        if char in WHITESPACE:
            name, rest = body[:i], body[i:]
            break
    if name in ALIASES:
        draft.warning(number, f"directive '{name}' replaced by '{ALIASES[name]}'")
        name = ALIASES[name]
    rule = DIRECTIVES.get(name)
    if rule is None:
        draft.error(number, _illegal_directive(name))
        return
    rest = rest.lstrip(DELIMS)
    if rule.whole_line:
        _apply(draft, name, rule, rest.strip(WHITESPACE), number)
        return
    values = [v for v in re.split(_DELIM_RE, rest) if v]
    if not values:
        draft.warning(number, f"{name} has no value; the line is ignored (as Heartbeat does)")
    for i, value in enumerate(values):
        if rule.kind == "time" and i and value.lower() in ("ms", "msec", "us", "usec"):
            draft.broken.add(name)
            draft.error(number, f"{name}: '{values[i - 1]} {value}': the unit must follow the number without "
                                f"a space (write {values[i - 1]}{value})")
            continue
        _apply(draft, name, rule, value, number)


def _illegal_directive(name: str) -> str:
    text = f"Illegal directive [{name}] in ha.cf"
    folded = {n.lower(): n for n in DIRECTIVES}
    if name.lower() in folded:
        return f"{text}: directive names are case-sensitive, write '{folded[name.lower()]}'"
    for sep in ",=:":
        head = name.split(sep, 1)[0]
        if sep in name and head in DIRECTIVES:
            return f"{text}: put a space between '{head}' and its value"
    return text


def _apply(draft: Draft, name: str, rule: DirectiveRule, value: str, line: int) -> None:
    try:
        converted = _convert(draft, name, rule, value, line)
    except ValueError as exc:
        draft.broken.add(name)
        draft.error(line, f"{name}: {exc}")
        return
    draft.directives.append(Directive(name, value, line))
    if name in SCALARS:
        if name in draft.last and draft.last[name][0] != converted:
            earlier = draft.last[name][1]
            where = "on the same line" if earlier == line else f"on line {earlier}"
            draft.warning(line, f"{name} is given again (first {where}); the last value, {value}, is used")
        draft.last[name] = (converted, line)
    if rule.support == "warning":
        draft.warning(line, f"{name} is ignored: {rule.note}")
    elif rule.support == "error":
        draft.error(line, f"{name}: {rule.note}")


def _convert(draft: Draft, name: str, rule: DirectiveRule, value: str, line: int) -> object:
    """Check one value and record its effect; return the value to remember for scalars."""
    kind = rule.kind
    if kind == "time":
        millis, note = parse_msec(value)
        if note:
            draft.warning(line, f"{name}: {note}")
        if millis <= 0 and name in ("keepalive", "warntime"):
            raise ValueError(f"'{value}' must be more than 0 ms")
        return millis
    if kind in ("int", "port"):
        number, note = parse_c_int(value)
        if note:
            draft.warning(line, f"{name}: {note}")
        low, high = (1, 65535) if kind == "port" else (rule.low, rule.high)
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"{low}-{high}" if high is not None else f"at least {low}"
            raise ValueError(f"invalid value [{value}]: must be {bounds}")
        return number
    if kind == "bool":
        return parse_bool(value)
    if kind == "choice":
        if value not in rule.choices:
            raise ValueError(f"invalid value [{value}]: use one of {', '.join(rule.choices)}")
        return value
    if kind == "facility":
        if value.lower() not in SYSLOG_FACILITIES:
            raise ValueError(f"Log facility({value}) not valid")
        return value
    if kind == "failback":
        draft.failback_set_explicitly = True
        draft.auto_failback = "legacy" if value.lower() == "legacy" else ("on" if parse_bool(value) else "off")
        return draft.auto_failback
    if kind == "nice_failback":
        return _nice_failback(draft, value, line)
    if kind == "crm":
        return _crm(draft, name, value, line)
    if kind == "node":
        _add_node(draft, value, line)
    elif kind == "bcast":
        medium = hacf_media.parse_bcast(value, DEFAULT_UDPPORT, line)
        draft.media.append((medium, draft.number("udpport", DEFAULT_UDPPORT)))
    elif kind in ("mcast", "mcast6", "ucast", "ucast6"):
        _add_line_medium(draft, kind, value, line)
    elif kind == "ping":
        draft.ping_nodes.append(hacf_media.check_host(value))
    elif kind == "ping_group":
        draft.ping_groups.append(_ping_group(draft, value))
    elif kind == "apiauth":
        words = value.split()
        if len(words) < 2 or not all(w.startswith(("uid=", "gid=")) for w in words[1:]):
            raise ValueError(f"[{value}] needs a client name and uid=... and/or gid=...")
    elif name == "serial":
        draft.serial_lines.append(line)
    elif kind == "monitor":
        from hbd.config.monitoring import MonitorSettings, apply_line  # the daemon reads it the same way

        apply_line(MonitorSettings(), value)
    elif kind == "stonith_host":
        from hbd.fencing.from_hacf import parse_stonith_host  # fencing builds on the config model

        parse_stonith_host(value)
    return value


def _add_node(draft: Draft, value: str, line: int) -> None:
    node = value.lower()
    if len(node.encode()) >= HOSTLENG:
        raise ValueError(f"node name '{value}' is longer than {HOSTLENG - 1} bytes")
    if node in draft.nodes:
        draft.warning(line, f"node {node} is listed more than once")
        return
    if len(draft.nodes) >= MAXNODE:
        raise ValueError(f"more than {MAXNODE} nodes")
    draft.nodes.append(node)
    if draft.first_node_line is None:
        draft.first_node_line = line


def _add_line_medium(draft: Draft, kind: str, rest: str, line: int) -> None:
    if not rest:
        draft.warning(line, f"{kind} line without an interface is ignored (as Heartbeat does)")
        return
    port = draft.number("udpport", DEFAULT_UDPPORT)
    if kind in ("mcast", "mcast6"):
        medium, extra = hacf_media.parse_mcast(kind, rest, line)
    else:
        medium, extra = hacf_media.parse_ucast(kind, rest, DEFAULT_UDPPORT, line)
    if extra:
        draft.warning(line, f"{kind}: words after the last field are ignored: {' '.join(extra)}")
    draft.media.append((medium, port))


def _nice_failback(draft: Draft, value: str, line: int) -> AutoFailback:
    parse_bool(value)
    # Heartbeat's rule (its own bug included): the earlier auto_failback decides, not the value given.
    new: AutoFailback = "off" if draft.auto_failback in ("on", "off") and draft.failback_set_explicitly else "legacy"
    draft.warning(line, f"nice_failback flag is obsolete: 'nice_failback {value}' has been interpreted as "
                        f"'auto_failback {new}', as Heartbeat does. Use auto_failback {{on, off, legacy}} instead")
    draft.auto_failback = new
    draft.failback_set_explicitly = True
    return new


def _crm(draft: Draft, name: str, value: str, line: int) -> str:
    if "crm" in draft.last:
        raise ValueError(f"crm/pacemaker is given twice (first on line {draft.last['crm'][1]})")
    lowered = value.lower()
    if lowered in CRM_ON:
        raise ValueError(f"'{name} {value}' hands resources to Pacemaker; hbd manages haresources only "
                         f"(use '{name} off')")
    if lowered not in CRM_OFF:
        raise ValueError(f"invalid value [{value}]: hbd accepts only off")
    draft.last["crm"] = (False, line)
    return value


def _finish(draft: Draft, local_node: str) -> HaCf | None:
    timing = timing_of(draft)
    nodes = list(draft.nodes)
    autojoin = draft.value("autojoin", "none")
    if local_node not in nodes and "node" not in draft.broken:
        if autojoin == "any":
            nodes.append(local_node)  # Heartbeat adds the node itself in this mode
        elif nodes:
            draft.error(draft.first_node_line, f"Current node [{local_node}] not in configuration! "
                        f"(nodes: {', '.join(nodes)}; the local name is `uname -n`, nodeinfo or --node)")
    if not nodes and "node" not in draft.broken:
        draft.problems.error(draft.path, None, "no nodes defined (add `node NAME` for each cluster node)")
    elif len(nodes) > 2:
        draft.warning(draft.first_node_line,
                      f"{len(nodes)} nodes: hbd, like Heartbeat's haresources mode, manages resources for two")
    media = _media(draft)
    if len(media) > MAXMEDIA:
        draft.error(media[MAXMEDIA].line, f"more than {MAXMEDIA} heartbeat media")
    if not media and not draft.broken & {"bcast", "mcast", "mcast6", "ucast", "ucast6"}:
        why = " (serial links are not supported by hbd)" if draft.serial_lines else ""
        draft.problems.error(draft.path, None, f"No heartbeat media defined{why}: add bcast, mcast or ucast")
    _check_logging(draft)
    if timing is None or not nodes or not media:
        return None
    return HaCf(
        path=str(draft.path),
        nodes=tuple(nodes),
        local_node=local_node,
        timing=timing,
        media=tuple(media),
        udpport=draft.number("udpport", DEFAULT_UDPPORT),
        auto_failback=draft.auto_failback,
        ping_nodes=tuple(draft.ping_nodes),
        ping_groups=tuple(draft.ping_groups),
        logfile=draft.text("logfile"),
        debugfile=draft.text("debugfile"),
        logfacility=draft.text("logfacility"),
        use_logd=draft.flag("use_logd", False),
        realtime=draft.flag("realtime", True),
        hopfudge=draft.number("hopfudge", 1),
        directives=tuple(draft.directives),
    )


def _ping_group(draft: Draft, value: str) -> PingGroup:
    words = [w for w in re.split(_DELIM_RE, value) if w]
    if len(words) < 2:
        raise ValueError(f"[{value}]: write ping_group NAME HOST... (at least one host)")
    name = words[0]
    if name in draft.ping_nodes or any(g.name == name for g in draft.ping_groups):
        raise ValueError(f"ping node or group [{name}] defined twice")
    return PingGroup(name, tuple(hacf_media.check_host(w) for w in words[1:]))


def _media(draft: Draft) -> list[Medium]:
    """Media with the file's final udpport on bcast/ucast, warning where Heartbeat would use another port."""
    port = draft.number("udpport", DEFAULT_UDPPORT)
    out = []
    for medium, port_then in draft.media:
        if medium.kind in ("bcast", "ucast", "ucast6"):
            if port_then != port:
                draft.warning(medium.line, f"{medium.kind} {medium.interface} comes before udpport "
                              f"{port} (line {draft.line_of('udpport')}): hbd uses port {port}, Heartbeat would "
                              f"use {port_then}; move udpport above the media")
            medium = replace(medium, port=port)
        out.append(medium)
    return out


def _check_logging(draft: Draft) -> None:
    logs = any(name in draft.last for name in ("logfile", "debugfile", "logfacility"))
    facility = draft.text("logfacility")
    if facility is not None and facility.lower() == "none" and not any(
            name in draft.last for name in ("logfile", "debugfile")):
        logs = False
    if not logs and draft.value("use_logd") is False and not draft.broken & {"logfile", "debugfile", "logfacility"}:
        draft.error(draft.line_of("use_logd"),
                    "No log entry found in ha.cf and use_logd is set to off: nothing would be logged")
