"""``ChatStream``: one chat turn as an async context manager and async iterator."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeAlias

import msgspec

from .errors import RunPausedError, StreamError
from .events import (
    ErrorEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    RunStartEvent,
    StreamEvent,
)
from .models import ChatRequest, HitlDecision

if TYPE_CHECKING:
    from ._eventsource import EventSource

__all__ = ["ChatStream"]

Connect: TypeAlias = "Callable[[ChatRequest], Awaitable[EventSource]]"
"""Sends a chat request and returns the open stream of its turn."""


class ChatStream:
    """A chat turn in flight.

    Entering the context sends the request (an error status raises there);
    iterating yields typed events, heartbeats dropped, up to and including the
    terminal event. ``stop()`` and ``decide()`` work from inside the loop.
    Leaving the context, however it happens, releases the connection.

    A stream that ends right after a ``hitl_interrupt`` is paused: the loop
    ends, ``interrupt`` holds the event, and ``decide()`` (still inside the
    ``async with``) resumes the run on a new request; iterate again to read it.
    """

    def __init__(
        self,
        request: ChatRequest,
        *,
        connect: Connect,
        stop: Callable[[], Awaitable[None]],
        decide: Callable[[Sequence[HitlDecision]], Awaitable[None]],
    ) -> None:
        self._request = request
        self._connect = connect
        self._stop = stop
        self._decide = decide
        self._source: EventSource | None = None
        self._pending: deque[StreamEvent] = deque()
        self._exhausted = False
        self._failed = False
        self._end_error: StreamError | None = None
        self._last_decoded: StreamEvent | None = None
        self._last_yielded: StreamEvent | None = None
        self._answered: StreamEvent | None = None
        self._text: list[str] | None = None
        self._entered = False
        self.run_id: str | None = None
        """The run's id, once ``run_start`` has been yielded."""

    @property
    def request(self) -> ChatRequest:
        """The request this stream sent."""
        return self._request

    @property
    def response_headers(self) -> Mapping[str, str]:
        """The headers of the stream's HTTP response (empty before it opens)."""
        return self._source.headers if self._source is not None else {}

    async def __aenter__(self) -> ChatStream:
        if self._source is not None or self._exhausted:
            raise RuntimeError("a ChatStream can be entered only once")
        self._source = await self._connect(self._request)
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered = False
        await self.aclose()

    async def aclose(self) -> None:
        """Drop the connection now; iteration then ends."""
        self.close()

    def close(self) -> None:
        """Drop the connection now (the synchronous form of `aclose`)."""
        self._exhausted = True
        if self._source is not None:
            self._source.close()

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> StreamEvent:
        pending = self._pending
        while not pending:
            if self._exhausted:
                if self._end_error is not None:
                    error, self._end_error = self._end_error, None
                    raise error
                raise StopAsyncIteration
            await self._fill()
        event = pending.popleft()
        kind = type(event)
        if kind is MessageChunkEvent:
            if self._text is not None:
                self._text.append(event.content)  # type: ignore[union-attr]
        elif kind is RunStartEvent:
            self.run_id = event.run_id or self.run_id  # type: ignore[union-attr]
        self._last_yielded = event
        return event

    async def _fill(self) -> None:
        """Queue the next batch of events, or mark the stream as over."""
        source = self._source
        if source is None:
            raise RuntimeError("use the ChatStream inside 'async with' before iterating it")
        try:
            events = await source.next_batch()
        except BaseException:
            self._exhausted = self._failed = True
            source.close()
            raise
        if events:
            self._pending.extend(events)
            self._last_decoded = events[-1]
            return
        self._exhausted = True
        if not source.saw_terminal and not isinstance(self._last_decoded, HitlInterruptEvent):
            self._failed = True
            self._end_error = StreamError(
                "stream ended before the run finished (no terminal event)"
            )

    @property
    def interrupt(self) -> HitlInterruptEvent | None:
        """The interrupt awaiting a decision, if the last event yielded is one."""
        event = self._last_yielded
        if isinstance(event, HitlInterruptEvent) and event is not self._answered:
            return event
        return None

    async def stop(self) -> None:
        """Ask the server to cancel the run; the loop then receives ``cancelled``."""
        await self._stop()

    async def decide(self, decisions: Sequence[HitlDecision]) -> None:
        """Answer the pending interrupt; the resumed run's events follow in the loop.

        On a paused stream (the server ended it at the interrupt) this sends the
        chat request again with ``hitl_decisions`` and reopens the stream.
        """
        if not decisions:
            raise ValueError("decide() needs at least one HitlDecision")
        if self._exhausted and self.interrupt is not None and not self._failed:
            if not self._entered:
                raise RuntimeError(
                    "the stream is closed; resume with chat.stream(..., hitl_decisions=...)"
                )
            request = msgspec.structs.replace(self._request, hitl_decisions=list(decisions))
            self._source = await self._connect(request)
            self._request = request
            self._exhausted = False
        else:
            await self._decide(decisions)
        self._answered = self._last_yielded
        self._last_decoded = None

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The assistant's text pieces only, as they arrive."""
        return self._iter_text()

    async def _iter_text(self) -> AsyncIterator[str]:
        async for event in self:
            if isinstance(event, MessageChunkEvent) and event.content:
                yield event.content
            elif isinstance(event, HitlInterruptEvent):
                raise RunPausedError(event)

    async def final_text(self) -> str:
        """Read to the end and return the assistant text.

        The text is that of the events read since the first call (call it
        before iterating yourself to get the whole reply); nothing is kept
        while you iterate, so long streams stay flat in memory. Raises
        `StreamError` with the server's message if the run failed, and
        `RunPausedError` if it stops for a human decision (decide, then call
        this again to read on).
        """
        if self._text is None:
            self._text = []
        async for event in self:
            if isinstance(event, ErrorEvent):
                raise StreamError(event.message or "the run failed", event=event)
            if isinstance(event, HitlInterruptEvent):
                raise RunPausedError(event)
        return "".join(self._text)
