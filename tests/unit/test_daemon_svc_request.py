"""`hbd svc` sent to the haresources daemon: answered as unavailable (nothing changed), never an internal error."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

from hbd.config import load
from hbd.core.service_outcome import AdminResult
from hbd.core.service_table import AdminOp
from hbd.runtime import control_messages as cm
from hbd.runtime.daemon import Daemon, Options
from heartbeat_files import write_dir

HERE = os.uname().nodename.lower()


def test_the_haresources_daemon_answers_hbd_svc_as_unavailable(tmp_path: Path) -> None:
    directory = write_dir(tmp_path, f"bcast lo\nnode {HERE} n2\nkeepalive 1\ndeadtime 10\nlogfacility none\n"
                                    "auto_failback on\n", haresources="# none\n")
    daemon = Daemon(load(directory, HERE), Options(directory, HERE, tmp_path / "sock", tmp_path / "state"))
    daemon.membership = daemon.driver = object()  # type: ignore[assignment]  # the request needs neither
    answer = asyncio.run(daemon._request(cm.ServiceAdminRequest(AdminOp.RELOCATE, "database", "n2")))
    reply = cm.ServiceAdminReply.from_wire(answer)
    assert reply.result is AdminResult.UNAVAILABLE and not reply.ok
    assert "needs the cluster.conf daemon" in reply.text
