"""``with_raw_response``: the HTTP facts behind a call's parsed answer."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .errors import request_id_of

__all__ = ["RawResponse", "with_raw_response"]

T = TypeVar("T")


@dataclass
class ResponseFacts:
    """What the transport saw of a call's last answer."""

    method: str = ""
    url: str = ""
    status_code: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    retries: int = 0


_capture: contextvars.ContextVar[ResponseFacts | None] = contextvars.ContextVar(
    "llmrix_raw_response", default=None
)


def record(facts: ResponseFacts) -> None:
    """Hand a call's answer to an enclosing `with_raw_response`, if any."""
    holder = _capture.get()
    if holder is not None:
        holder.__dict__.update(facts.__dict__)


@dataclass(frozen=True)
class RawResponse(Generic[T]):
    """A call's parsed answer with the HTTP response it came from."""

    parsed: T
    method: str
    url: str
    status_code: int
    headers: Mapping[str, str]
    elapsed: float
    """Seconds from the first attempt's start to the answer."""
    retries: int

    @property
    def request_id(self) -> str | None:
        """The server's id for the request, from an ``x-request-id``-style header."""
        return request_id_of(self.headers)


async def with_raw_response(call: Awaitable[T]) -> RawResponse[T]:
    """Await a REST call and return its answer with status, headers and timing.

    ```python
    raw = await llmrix.with_raw_response(client.conversations.get(cid))
    print(raw.status_code, raw.request_id, raw.parsed.title)
    ```
    """
    holder = ResponseFacts()
    token = _capture.set(holder)
    try:
        parsed = await call
    finally:
        _capture.reset(token)
    if not holder.method:
        raise TypeError("with_raw_response() takes a pending llmrix REST call")
    return RawResponse(
        parsed=parsed,
        method=holder.method,
        url=holder.url,
        status_code=holder.status_code,
        headers=holder.headers,
        elapsed=holder.elapsed,
        retries=holder.retries,
    )
