"""What step 4's sender needs around each request: a rate limit, whether a failed request may have reached the
model, and SIGTERM handled like Ctrl-C."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads (evenly spaced slots)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def _reached_model(error: BaseException) -> bool:
    """Whether a failed request may have reached the model (and been captured): all but a 4xx refusal."""
    status = getattr(error, "status", None)
    return not (isinstance(status, int) and 400 <= status < 500)


@contextmanager
def _sigterm_as_interrupt(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (a Job stopped, ``kill``) stops sending the way Ctrl-C does; only the main thread can set it.
    ``stop`` is set first: an exception raised by a signal handler is lost when it lands in a finaliser
    (``__del__``, a weakref callback), so the caller also checks ``stop`` when its loop ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
