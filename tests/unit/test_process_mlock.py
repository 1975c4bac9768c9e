"""The daemon's mlockall locks pages as they are touched (MCL_ONFAULT), not every mapped page at once:
the RSS of a daemon stays what it uses (38 MB instead of 55-58 MB, bench/README.md), and a kernel that
does not know the flag (EINVAL, Linux < 4.4) gets the former flags."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from hbd.runtime.process import MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, lock_memory


class FakeMlockall:
    def __init__(self, refuse: dict[int, int]):
        self.refuse = refuse  # flags -> errno
        self.calls: list[int] = []
        self.errno = 0

    def __call__(self, flags: int) -> int:
        self.calls.append(flags)
        if flags in self.refuse:
            self.errno = self.refuse[flags]
            return -1
        return 0


def test_on_fault_is_asked_first() -> None:
    fake = FakeMlockall({})
    assert lock_memory(fake, lambda: fake.errno) == ("info", "memory locked (mlockall, on fault)")
    assert fake.calls == [MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT]


def test_a_kernel_without_on_fault_gets_the_former_flags() -> None:
    fake = FakeMlockall({MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT: errno.EINVAL})
    assert lock_memory(fake, lambda: fake.errno) == ("info", "memory locked (mlockall)")
    assert fake.calls == [MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT, MCL_CURRENT | MCL_FUTURE]


def test_a_refusal_other_than_einval_is_reported_and_not_retried() -> None:
    fake = FakeMlockall({MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT: errno.EPERM})
    level, text = lock_memory(fake, lambda: fake.errno)
    assert level == "WARN" and os.strerror(errno.EPERM) in text
    assert len(fake.calls) == 1


def test_the_fallback_failing_too_reports_its_own_error() -> None:
    fake = FakeMlockall({MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT: errno.EINVAL,
                         MCL_CURRENT | MCL_FUTURE: errno.ENOMEM})
    assert lock_memory(fake, lambda: fake.errno) == ("WARN", f"mlockall failed: {os.strerror(errno.ENOMEM)}")


CHILD = r"""
import ctypes, json, mmap
from hbd.runtime import process
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
note = process.lock_memory(process._libc().mlockall, ctypes.get_errno)
before = rss_kb()
area = mmap.mmap(-1, 32 << 20)  # mapped after the lock (MCL_FUTURE), never touched
grown = rss_kb() - before
area[:4096] = b"x" * 4096  # touched: locked and resident
print(json.dumps({"note": note, "grown_kb": grown, "touched_kb": rss_kb() - before}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="mlockall of a 32 MB area needs root (RLIMIT_MEMLOCK)")
def test_a_mapping_made_after_the_lock_is_not_made_resident_until_touched() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60,
                         check=True)
    seen = json.loads(out.stdout)
    if seen["note"][0] != "info" or "on fault" not in seen["note"][1]:
        pytest.skip(f"kernel without MCL_ONFAULT: {seen['note']}")
    assert seen["grown_kb"] < 4096, seen  # all-pages locking makes the 32 MB resident at once
    assert seen["touched_kb"] >= 4, seen
