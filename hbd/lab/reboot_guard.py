"""`reboot`, `halt` and `poweroff` inside a lab node must never reach this machine.

A lab node is a set of namespaces of this machine's kernel, not a machine: `reboot -f` there (the daemon's
self-fence without a fence plan, the `reboot` stop escalation) would reboot the host. The lab's bin directory
is first on every node's PATH (nodes.base_env), so these stand-ins answer instead: each records the call in
the node's own REQUESTS file (its mount namespace) and exits 0, and a test reads what was asked
(`requests`). The lab's power switch (power_switch.py) is how a test powers a node off.
"""
from __future__ import annotations

from hbd.lab.layout import LabLayout

REQUESTS_DIR, REQUESTS_FILE = "/var/log/hbd", "reboot-asked"  # inside each node (a per-node directory)
REQUESTS = f"{REQUESTS_DIR}/{REQUESTS_FILE}"
COMMANDS = ("reboot", "halt", "poweroff")


def install(layout: LabLayout) -> None:
    layout.bin_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        exe = layout.bin_dir / name
        exe.write_text(f"#!/bin/sh\nmkdir -p {REQUESTS_DIR}\necho \"{name} $*\" >> {REQUESTS}\nexit 0\n")
        exe.chmod(0o755)
