"""ha.cf's timing: keepalive, deadtime, warntime, initdead and deadping with Heartbeat's derived defaults
(heartbeat.md §2.4: warntime = deadtime/2, the initdead rule, deadping = deadtime) and its checks, applied
once the whole file is read: a combination Heartbeat refuses is an error, one that will misbehave a warning."""
from __future__ import annotations

from hbd.config.hacf_draft import Draft
from hbd.config.model import Timing

KEEPALIVE_MS, DEADTIME_MS = 1000, 30000
LOW_KEEPALIVE_MS = 100
DEADTIME_KEEPALIVES = 4  # below this many keepalives per deadtime, two lost packets can kill a peer


def timing_of(draft: Draft) -> Timing | None:
    keepalive = draft.number("keepalive", KEEPALIVE_MS)
    deadtime = draft.number("deadtime", DEADTIME_MS)
    warntime = draft.number("warntime", deadtime // 2)
    if "initdead" in draft.last:
        initdead = draft.number("initdead", 0)
    elif deadtime > 10000:
        initdead = deadtime
    else:
        initdead = 12000 if deadtime < 6000 else 2 * deadtime
    deadping = draft.number("deadping", deadtime)
    if draft.broken & {"keepalive", "deadtime", "warntime", "initdead", "deadping"}:
        return None  # the refused value is the error; checks on a guessed value would only add noise
    ok = True
    time_line = draft.line_of("deadtime") or draft.line_of("keepalive")
    if deadtime <= 2 * keepalive:
        draft.problems.error(draft.path, time_line, f"Dead time [{deadtime}] is too small compared to keeplive "
                             f"[{keepalive}] (deadtime must be more than 2 x keepalive)")
        ok = False
    elif deadtime < DEADTIME_KEEPALIVES * keepalive:
        draft.problems.warning(draft.path, time_line, f"deadtime {deadtime} ms is less than {DEADTIME_KEEPALIVES} x "
                               f"keepalive ({keepalive} ms): a few lost heartbeats or a short stall will make "
                               f"a live peer be declared dead")
    if initdead < deadtime:
        draft.problems.error(draft.path, draft.line_of("initdead"),
                             f"Initial dead time [{initdead}] is smaller than deadtime [{deadtime}]")
        ok = False
    elif initdead < 10000:
        draft.problems.warning(draft.path, draft.line_of("initdead"), f"Initial dead time [{initdead} ms] may be "
                               f"too small! It accounts for slow network startup: make it >= deadtime and >= 10 s")
    if "deadping" in draft.last and deadping <= 2 * keepalive:
        draft.problems.error(draft.path, draft.line_of("deadping"),
                             f"Ping dead time [{deadping}] is too small compared to keeplive [{keepalive}]")
        ok = False
    if "warntime" in draft.last and warntime >= deadtime:
        draft.problems.warning(draft.path, draft.line_of("warntime"), f"warntime {warntime} ms is not below "
                               f"deadtime {deadtime} ms: no late-heartbeat warning can come before a peer is dead")
    elif "warntime" in draft.last and warntime <= keepalive:
        draft.problems.warning(draft.path, draft.line_of("warntime"), f"warntime {warntime} ms is not above "
                               f"keepalive {keepalive} ms: every heartbeat will be reported late")
    if keepalive < LOW_KEEPALIVE_MS:
        draft.problems.warning(draft.path, draft.line_of("keepalive"), f"keepalive {keepalive} ms is below "
                               f"{LOW_KEEPALIVE_MS} ms: scheduling delays alone may make heartbeats late")
    if not ok:
        return None
    return Timing(keepalive, deadtime, warntime, initdead, deadping)
