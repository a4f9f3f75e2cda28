"""Failed-login limits: after repeated failures, a user or an address must wait."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from blockpost.errors import BlockpostError

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0
MAX_KEYS = 100_000


class TooManyAttempts(BlockpostError):
    """Too many failed logins lately; `retry_after` says how long to wait (seconds)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class LoginLimiter:
    """Per process: each replica counts the failures it sees (an attacker spreading over N
    replicas gets N times the attempts, still a handful a minute)."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.get(key, deque())
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def check(self, *keys: str) -> None:
        """Raises TooManyAttempts while any key has had too many failures in the window."""
        for key in keys:
            times = self._recent(key)
            if len(times) >= self.max_failures:
                wait = times[0] + self.window - self.clock()
                raise TooManyAttempts(max(1, math.ceil(wait)))

    def failed(self, *keys: str) -> None:
        if len(self._failures) >= MAX_KEYS:
            self._failures.clear()
        now = self.clock()
        for key in keys:
            times = self._recent(key)
            times.append(now)
            self._failures[key] = times

    def succeeded(self, user_key: str) -> None:
        self._failures.pop(user_key, None)
