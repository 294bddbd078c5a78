"""Peak resident memory during a block of code (Linux: sampled from /proc/self/statm)."""

from __future__ import annotations

import os
import threading
from types import TracebackType


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


class PeakRSS:
    """`with PeakRSS() as m: ...` then `m.extra_bytes`: peak RSS above the level at entry.

    Sampled every `interval` seconds by a thread, so very short spikes can be missed; None where
    /proc is not available.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.extra_bytes: int | None = None
        self._stop = threading.Event()
        self._base: int | None = None
        self._peak = 0

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_bytes()
            if rss is not None:
                self._peak = max(self._peak, rss)

    def __enter__(self) -> PeakRSS:
        self._base = _rss_bytes()
        self._peak = self._base or 0
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        end = _rss_bytes()
        if self._base is not None and end is not None:
            self.extra_bytes = max(self._peak, end) - self._base
