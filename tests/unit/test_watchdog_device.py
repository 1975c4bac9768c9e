"""ha.cf `watchdog DEVICE`: Heartbeat's timeout rule, kicks, the magic close, an unopenable device."""
from __future__ import annotations

from pathlib import Path

from hbd.runtime.watchdog_device import MAGIC_CLOSE, WatchdogDevice, timeout_for


def test_timeout_is_heartbeats_rule() -> None:
    assert timeout_for(1000) == 2 and timeout_for(990) == 1 and timeout_for(30_000) == 31 and timeout_for(0) == 1


def test_kicks_then_the_magic_close(tmp_path: Path) -> None:
    dev = tmp_path / "watchdog"
    dev.touch()
    wd = WatchdogDevice(str(dev), 2)
    lines = wd.open()
    # a regular file refuses the timeout ioctl: the device's own timeout is kept, and said so
    assert lines[0][0] == "info" and "armed: its own timeout (it refused 2 s" in lines[0][1]
    wd.kick()
    wd.kick()
    assert dev.read_bytes() == b"\0\0\0" and wd.kicks == 3
    wd.close()
    assert dev.read_bytes().endswith(MAGIC_CLOSE) and wd.fd is None
    wd.close()  # twice: nothing more written
    assert dev.read_bytes() == b"\0\0\0V"


def test_an_unopenable_device_is_logged_and_the_daemon_goes_on(tmp_path: Path) -> None:
    wd = WatchdogDevice(str(tmp_path / "nonexist"), 2)
    assert wd.open() == [("ERROR", f"Cannot open watchdog device: {tmp_path}/nonexist (No such file or directory)")]
    wd.kick()
    wd.close()
    assert wd.fd is None and wd.kicks == 0
