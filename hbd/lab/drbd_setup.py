"""Installs the drbdadm emulator of a lab: its executable, the shared state, each node's r0.res."""
from __future__ import annotations

import sys

from hbd.lab import drbd_state
from hbd.lab.layout import DRBD_PORT, LabLayout

RESOURCE = "r0"
DEVICE = "/dev/drbd0"
MINOR = 0


def replication_medium(layout: LabLayout) -> int:
    """DRBD replicates over the last medium (eth1 when there are two, like a back-to-back cable)."""
    return layout.media - 1


def install(layout: LabLayout, loop: str) -> None:
    layout.bin_dir.mkdir(parents=True, exist_ok=True)
    exe = layout.bin_dir / "drbdadm"
    exe.write_text(
        f"#!{sys.executable}\n"
        '"""drbdadm emulator of the hbd lab (see hbd/lab/drbdadm.py)."""\n'
        "import sys\n"
        "from hbd.lab.drbdadm import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    exe.chmod(0o755)
    drbd_state.initialise(layout.drbd_dir, RESOURCE, list(layout.nodes), image=loop)


def resource_text(layout: LabLayout, loop: str) -> str:
    medium = replication_medium(layout)
    hosts = "".join(
        f"  on {node} {{\n    address {layout.address(node, medium)}:{DRBD_PORT};\n  }}\n" for node in layout.nodes
    )
    return (
        f"# lab resource: {loop} stands for the replicated disk; {DEVICE} in every node is that loop device\n"
        f"resource {RESOURCE} {{\n  protocol C;\n  device {DEVICE} minor {MINOR};\n  disk {loop};\n"
        f"  meta-disk internal;\n{hosts}}}\n"
    )


def write_node_config(layout: LabLayout, node: str, loop: str) -> None:
    (layout.path(node, "/etc/drbd.d") / f"{RESOURCE}.res").write_text(resource_text(layout, loop))
