"""``with_raw_response``: the HTTP facts behind a call's parsed answer."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from .errors import request_id_of

__all__ = ["RawResponse", "with_raw_response"]

T = TypeVar("T")


class ResponseFacts(NamedTuple):
    """What the transport saw of a call's answer."""

    method: str
    url: str
    status_code: int
    headers: Mapping[str, str]
    elapsed: float
    retries: int


_capture: contextvars.ContextVar[list[ResponseFacts] | None] = contextvars.ContextVar(
    "llmrix_raw_response", default=None
)


def record(facts: ResponseFacts) -> None:
    """Hand a call's answer to an enclosing `with_raw_response`, if any."""
    answers = _capture.get()
    if answers is not None:
        answers.append(facts)


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
    answers: list[ResponseFacts] = []
    token = _capture.set(answers)
    try:
        parsed = await call
    finally:
        _capture.reset(token)
    if not answers:
        raise TypeError("with_raw_response() takes a pending llmrix REST call")
    return RawResponse(parsed, *answers[-1])
