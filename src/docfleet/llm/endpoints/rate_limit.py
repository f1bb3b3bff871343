"""When to send the next request to a chat server: rate limits, backoff, Retry-After, rests.

Hosted APIs enforce their per-minute limits over shorter spans too, so ``RateLimit`` paces
evenly (a bucket holding one second's worth) rather than letting a minute's quota out at once.
``Rotation`` rests a server that keeps failing, so its share goes to the others meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

MAX_BACKOFF = 60.0  # seconds: the exponential backoff stops growing here
MAX_RETRY_AFTER = 300.0  # seconds: a longer Retry-After (a daily quota) is not worth a worker


class RateLimit:
    """At most ``per_minute`` units a minute, paced evenly, for the coroutines of one event loop.

    A token bucket that holds one second's worth (at least one unit). A cost larger than the
    bucket (a long prompt against a small token limit) waits for a full bucket and then borrows,
    so it is sent rather than starved; what it borrowed delays the requests after it.
    ``settle`` corrects an estimate once the real cost is known.

    >>> now = [0.0]
    >>> limit = RateLimit(120, clock=lambda: now[0])  # 2 a second, a burst of 2
    >>> limit.take(1); limit.take(1); limit.wait_time(1)
    0.5
    >>> now[0] = 0.5; limit.wait_time(1)
    0.0
    """

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be above 0 a minute, not {per_minute}")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._level = self.capacity
        self._stamp = clock()
        self._lock: asyncio.Lock | None = None  # made in the loop that first waits
        self._settled: asyncio.Event | None = None

    def wait_time(self, cost: float) -> float:
        """Seconds until ``cost`` units may go; 0.0 when they may go now."""
        self._refill()
        need = min(cost, self.capacity)
        return max(0.0, (need - self._level) / self.rate)

    def take(self, cost: float) -> None:
        """Spend ``cost`` units now (the level may go below zero: a debt)."""
        self._refill()
        self._level -= cost

    def settle(self, estimated: float, actual: float) -> None:
        """Correct a cost taken as ``estimated`` once it is known to be ``actual``."""
        self._refill()
        self._level = min(self.capacity, self._level + estimated - actual)
        if self._settled is not None:
            self._settled.set()  # a waiter may go sooner than it planned

    async def acquire(self, cost: float) -> None:
        """Wait until ``cost`` units may go, then spend them. Waiters go in arrival order."""
        if self._lock is None or self._settled is None:
            self._lock, self._settled = asyncio.Lock(), asyncio.Event()
        async with self._lock:  # first come, first served: a big cost is not overtaken forever
            while (wait := self.wait_time(cost)) > 0:
                self._settled.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._settled.wait(), wait)
            self.take(cost)

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now


class Rotation:
    """Whether an endpoint is in rotation: ``failures`` failed requests in a row rest it for
    ``cool_down`` seconds; any answer from it (even a refusal) breaks the streak.

    >>> now = [0.0]
    >>> rotation = Rotation(30.0, failures=2, clock=lambda: now[0])
    >>> rotation.failed(), rotation.failed(), rotation.resting()
    (False, True, True)
    >>> now[0] = 30.0; rotation.resting(), rotation.rests, rotation.rested_seconds()
    (False, 1, 30.0)
    """

    def __init__(self, cool_down: float, *, failures: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.cool_down = cool_down
        self.failures = failures
        self.rests = 0  # times taken out of rotation
        self._clock = clock
        self._streak = 0
        self._back_at = float("-inf")
        self._rested = 0.0

    def answered(self) -> None:
        """The endpoint answered: it works, whatever it thought of the request."""
        self._streak = 0

    def failed(self) -> bool:
        """Count a failed request; True when this one takes the endpoint out of rotation."""
        if self.resting():  # sent before the rest began: the rest already covers it
            return False
        self._streak += 1
        if self._streak < self.failures:
            return False
        self._streak = 0
        self._back_at = self._clock() + self.cool_down
        self.rests += 1
        self._rested += self.cool_down
        return True

    def resting(self) -> bool:
        return self._clock() < self._back_at

    async def wait(self) -> None:
        """Return once the endpoint is back in rotation."""
        while (left := self._back_at - self._clock()) > 0:
            await asyncio.sleep(left)

    def rested_seconds(self) -> float:
        """Seconds spent out of rotation so far."""
        return self._rested - max(0.0, self._back_at - self._clock())


def backoff_delay(base: float, failures: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, base * 2^(failures-1)], capped.

    Full jitter spreads the retries of many requests that failed together (a server restart)
    instead of sending them back in one wave.
    """
    return rng.uniform(0.0, min(MAX_BACKOFF, base * 2.0 ** max(0, failures - 1)))


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds a server asked us to wait (Retry-After in seconds or as an HTTP date, or
    retry-after-ms), capped at ``MAX_RETRY_AFTER``; ``None`` when it did not ask.

    >>> retry_after({"retry-after": "2"})
    2.0
    >>> when = datetime(2026, 1, 1, 0, 0, 0, tzinfo=timezone.utc)
    >>> retry_after({"retry-after": "Thu, 01 Jan 2026 00:00:07 GMT"}, now=when)
    7.0
    >>> retry_after({"retry-after": "soon"}) is None
    True
    """
    seconds = _number(headers.get("retry-after-ms"))
    if seconds is not None:
        return min(MAX_RETRY_AFTER, seconds / 1000.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is None:
        try:
            date = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)
        seconds = (date - (now or datetime.now(timezone.utc))).total_seconds()
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 and number == number else None  # not negative, not NaN
