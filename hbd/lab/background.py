"""Base of the lab's background observers (probes, captures, watchers): a daemon thread with start/stop."""
from __future__ import annotations

import threading
from typing import TypeVar

JOIN_TIMEOUT = 10.0
B = TypeVar("B", bound="BackgroundLoop")


class BackgroundLoop:
    """Subclasses implement `_run()`, which must return soon after `self._stop` is set."""

    thread_name = "lab-observer"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self: B) -> B:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self: B) -> B:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)
        return self

    def __enter__(self: B) -> B:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        raise NotImplementedError
