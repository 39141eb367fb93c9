"""The login rate limit: failed sign-ins per client address and per user name."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    """Failed logins per client address and per username in a sliding window.

    Past `per_user` failures for one name, or `per_ip` from one address, within `window_s`,
    logins are refused (429, Retry-After) until the oldest failure leaves the window. A
    success clears the name's failures, not the address's (one valid account must not
    launder guessing at the others).
    """

    def __init__(self, per_user: int = 5, per_ip: int = 20, window_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_user, self.per_ip, self.window_s, self.clock = per_user, per_ip, window_s, clock
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        horizon = self.clock() - self.window_s
        while q and q[0] <= horizon:
            q.popleft()
        return q

    def retry_after(self, username: str, ip: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        waits = []
        for key, limit in ((f"u:{username.lower()}", self.per_user), (f"ip:{ip}", self.per_ip)):
            q = self._recent(key)
            if len(q) >= limit:
                waits.append(q[0] + self.window_s - self.clock())
        return max(waits, default=0.0)

    def failed(self, username: str, ip: str) -> None:
        now = self.clock()
        for key in (f"u:{username.lower()}", f"ip:{ip}"):
            self._recent(key).append(now)
        if len(self._fails) > 10_000:  # bounded memory under a spray of names
            for k in [k for k, q in self._fails.items() if not q][:5000]:
                del self._fails[k]

    def succeeded(self, username: str) -> None:
        self._fails.pop(f"u:{username.lower()}", None)
