"""``RetryPolicy``: which failed attempts are tried again, and after how long."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

__all__ = ["RetryPolicy", "retry_after_seconds"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


def retry_after_seconds(value: str | None) -> float | None:
    """Read a ``Retry-After`` header (seconds or an HTTP date), at least 0."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a failed call again.

    Idempotent calls (GET, PUT, PATCH, DELETE, and ``stop``) are retried after a
    connection failure, a timeout, a cut-off body or a status in
    ``retry_statuses``. Other calls are retried only when the request never
    reached the server, or when a 429/503 carries ``Retry-After`` (the server
    says it did not act). A ``Retry-After`` longer than ``max_retry_after``
    seconds is not waited for: the error is raised at once.

    A 503 without ``Retry-After`` is never retried: deployments answer it for
    what waiting does not fix (agent endpoints where there are no agents, auth
    not configured), and it raises `ServiceUnavailableError` at once.
    """

    max_retries: int = 2
    retry_statuses: frozenset[int] = field(default=frozenset({408, 429, 500, 502, 503, 504}))
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"max_retries must be an int, got {self.max_retries!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter for retry number ``attempt`` (from 0)."""
        delay = min(self.initial_backoff * 2.0**attempt, self.max_backoff)
        return delay * random.uniform(0.75, 1.0)

    def after_failure(self, attempt: int, *, idempotent: bool, never_sent: bool) -> float | None:
        """Seconds to wait before retrying a call that got no answer, or None."""
        if attempt >= self.max_retries or not (idempotent or never_sent):
            return None
        return self.backoff(attempt)

    def after_status(
        self, attempt: int, status: int, retry_after: float | None, *, idempotent: bool
    ) -> float | None:
        """Seconds to wait before retrying a call answered with ``status``, or None."""
        if attempt >= self.max_retries or status not in self.retry_statuses:
            return None
        if status == 503 and retry_after is None:
            return None
        not_acted = status in (429, 503) and retry_after is not None
        if not (idempotent or not_acted):
            return None
        if retry_after is None:
            return self.backoff(attempt)
        return retry_after if retry_after <= self.max_retry_after else None
