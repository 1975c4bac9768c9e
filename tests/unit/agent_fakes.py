"""Stand-in scripts for agent tests: an LSB init script, a Heartbeat resource.d script and an OCF agent,
each keeping its state in a file and able to misbehave on request."""
from __future__ import annotations

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
