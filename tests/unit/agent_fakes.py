"""Stand-in scripts for agent tests: an LSB init script, a Heartbeat resource.d script and an OCF agent,
each keeping its state in a file and able to misbehave on request."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

LSB = """\
#!/bin/sh
# A stand-in LSB service; state in {state}; {quirks} lists misbehaviours.
STATE={state}
QUIRKS=$(cat {quirks} 2>/dev/null)
case "$1" in
  start) case "$QUIRKS" in *start-fails*) echo "cannot start" >&2; exit 6;; esac
         echo "Starting fake"; touch "$STATE"; exit 0;;
  stop)  case "$QUIRKS" in *stop-fails-when-stopped*) [ -e "$STATE" ] || exit 1;; esac
         case "$QUIRKS" in *stop-fails*) exit 1;; esac
         rm -f "$STATE"; exit 0;;
  status) case "$QUIRKS" in *status-unknown*) exit 4;; *status-dead*) exit 1;; esac
          if [ -e "$STATE" ]; then echo "fake is running"; exit 0; fi
          echo "fake is not running"; exit 3;;
  *) echo "usage: $0 start|stop|status"; exit 2;;
esac
"""

HEARTBEAT = """\
#!/bin/sh
# A stand-in resource.d script taking two arguments; it prints Heartbeat's texts and exits like an OCF wrapper.
STATE={state}
[ $# -eq 3 ] || {{ echo "usage: $0 A B start|stop|status"; exit 1; }}
echo "$1 $2" > {seen}
case "$3" in
  start) touch "$STATE"; echo "INFO:  Success";;
  stop) rm -f "$STATE"; echo "INFO:  Success";;
  status) if [ -e "$STATE" ]; then echo "INFO:  Running OK"; exit 0; fi
          echo "INFO:  Resource is stopped"; exit 7;;
esac
"""

OCF = """\
#!/bin/sh
# A stand-in OCF agent with one required parameter `state`.
case "$1" in
  meta-data) cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="Fake" version="1.0">
<parameters>
<parameter name="state" required="1" unique="1"><shortdesc lang="en">state file</shortdesc>
<content type="string"/></parameter>
<parameter name="delay" required="0"><content type="integer" default="0"/></parameter>
</parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
XML
  exit 0;;
esac
env | grep '^OCF_' | sort > "$OCF_RESKEY_state.env"
sleep "${OCF_RESKEY_delay:-0}"
case "$1" in
  start) touch "$OCF_RESKEY_state"; exit 0;;
  stop) rm -f "$OCF_RESKEY_state"; exit 0;;
  monitor) [ -e "$OCF_RESKEY_state" ] && exit 0; exit 7;;
  *) exit 3;;
esac
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def lsb_script(folder: Path, name: str = "fakesvc") -> Path:
    return write(folder / "init.d" / name, LSB.format(state=folder / f"{name}.running", quirks=folder / "quirks"))


def heartbeat_script(folder: Path, name: str = "FakeRes") -> Path:
    return write(folder / "resource.d" / name,
                 HEARTBEAT.format(state=folder / f"{name}.running", seen=folder / f"{name}.args"))


def ocf_agent(root: Path, provider: str = "test", name: str = "Fake") -> Path:
    return write(root / "resource.d" / provider / name, OCF)


FAKE = """\
#!{python}
import json, sys
state_file = {state!r}
state = json.load(open(state_file))
verb, res = sys.argv[1], sys.argv[2]
state["calls"].append(verb)
if "--force" in sys.argv:
    state["calls"].append("--force")
fmt = state.get("format", "84")
def pair(a, b):
    return a + "/" + b if fmt == "84" else a
if verb == "role":
    print(pair(state["role"], state["peer"]) if fmt == "84" else state["role"])
elif verb == "dstate":
    print(pair(state["disk"], "UpToDate"))
elif verb == "cstate":
    print(state.get("cstate", "Connected"))
elif verb == "primary":
    if state["peer"] == "Primary":
        print("r0: State change failed: (-1) Multiple primaries not allowed by config", file=sys.stderr)
        json.dump(state, open(state_file, "w")); sys.exit(11)
    state["role"] = "Primary"
elif verb == "secondary":
    if state.get("busy"):
        print("r0: State change failed: (-12) Device is held open by someone", file=sys.stderr)
        json.dump(state, open(state_file, "w")); sys.exit(11)
    state["role"] = "Secondary"
json.dump(state, open(state_file, "w"))
"""


class FakeDrbd:
    def __init__(self, folder: Path):
        self.state_file = folder / "state.json"
        self.set(role="Secondary", peer="Secondary", disk="UpToDate", calls=[])
        exe = folder / "drbdadm"
        exe.write_text(FAKE.format(python=os.path.realpath(sys.executable), state=str(self.state_file)))
        exe.chmod(0o755)

    def set(self, **values: object) -> None:
        state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        state.update(values)
        self.state_file.write_text(json.dumps(state))

    @property
    def state(self) -> dict[str, object]:
        return json.loads(self.state_file.read_text())
