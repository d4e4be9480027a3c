"""``ChatStream``: one chat turn as an async context manager and async iterator."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp
import msgspec

from .errors import APITimeoutError, RunPausedError, StreamError
from .events import (
    ErrorEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    RunStartEvent,
    StreamEvent,
    decode_frames,
)
from .models import ChatRequest, HitlDecision
from .sse import SSEDecoder

if TYPE_CHECKING:
    from .resources.chat import Chat

__all__ = ["ChatStream"]


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

    def __init__(self, chat: Chat, request: ChatRequest, *, idle_timeout: float | None) -> None:
        self._chat = chat
        self._request = request
        self._idle_timeout = idle_timeout
        self._response: aiohttp.ClientResponse | None = None
        self._decoder = SSEDecoder(max_frame_bytes=chat._transport.max_frame_bytes)
        self._pending: deque[StreamEvent] = deque()
        self._exhausted = False
        self._end_error: StreamError | None = None
        self._last_decoded: StreamEvent | None = None
        self._text: list[str] | None = None
        self._entered = False
        self.run_id: str | None = None
        """The run's id, once ``run_start`` has been yielded."""
        self._last_yielded: StreamEvent | None = None
        self._answered: StreamEvent | None = None

    @property
    def request(self) -> ChatRequest:
        """The request this stream sent."""
        return self._request

    async def __aenter__(self) -> ChatStream:
        if self._response is not None or self._exhausted:
            raise RuntimeError("a ChatStream can be entered only once")
        self._response = await self._open(self._request)
        self._entered = True
        return self

    async def _open(self, request: ChatRequest) -> aiohttp.ClientResponse:
        return await self._chat._transport.open_stream(
            self._chat._path("chat"), request, idle_timeout=self._idle_timeout
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered = False
        self.close()

    def close(self) -> None:
        """Drop the connection now; iteration then ends."""
        response, self._response = self._response, None
        self._exhausted = True
        if response is not None:
            response.close()

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
            await self._read()
        event = pending.popleft()
        kind = type(event)
        if kind is MessageChunkEvent:
            if self._text is not None:
                self._text.append(event.content)  # type: ignore[union-attr]
        elif kind is RunStartEvent:
            self.run_id = event.run_id or self.run_id  # type: ignore[union-attr]
        self._last_yielded = event
        return event

    @property
    def interrupt(self) -> HitlInterruptEvent | None:
        """The interrupt awaiting a decision, if the last event yielded is one."""
        event = self._last_yielded
        if isinstance(event, HitlInterruptEvent) and event is not self._answered:
            return event
        return None

    async def _read(self) -> None:
        response = self._response
        if response is None:
            raise RuntimeError("use the ChatStream inside 'async with' before iterating it")
        if self._chat._transport.is_closed:
            self.close()
            raise StreamError("the client was closed while the stream was open")
        chunk: bytes | None = None
        try:
            chunk = await response.content.readany()
            names, datas = self._decoder.feed_split(chunk) if chunk else self._decoder.flush_split()
            queued = len(self._pending)
            terminal = decode_frames(names, datas, self._pending)
            if len(self._pending) > queued:
                self._last_decoded = self._pending[-1]
            if terminal:
                self._finish()
                return
        except asyncio.TimeoutError as exc:
            self.close()
            raise APITimeoutError(
                f"no data from the server for {self._idle_timeout} s (stream_idle_timeout)"
            ) from exc
        except StreamError as exc:
            self.close()
            if chunk == b"":
                exc = StreamError(f"stream ended before the run finished, inside a frame: {exc}")
            self._end_error = exc
            return
        except aiohttp.ClientError as exc:
            self.close()
            if self._chat._transport.is_closed:
                raise StreamError("the client was closed while the stream was open") from exc
            raise StreamError(f"stream ended before the run finished: {exc}") from exc
        except BaseException:
            self.close()
            raise
        if not chunk:
            if not isinstance(self._last_decoded, HitlInterruptEvent):
                self._end_error = StreamError(
                    "stream ended before the run finished (no terminal event)"
                )
            self._finish()

    def _finish(self) -> None:
        """The run is over: hand the connection back to the pool."""
        response, self._response = self._response, None
        self._exhausted = True
        if response is not None:
            response.release()

    async def stop(self) -> None:
        """Ask the server to cancel the run; the loop then receives ``cancelled``."""
        await self._chat.stop()

    async def decide(self, decisions: Sequence[HitlDecision]) -> None:
        """Answer the pending interrupt; the resumed run's events follow in the loop.

        On a paused stream (the server ended it at the interrupt) this sends the
        chat request again with ``hitl_decisions`` and reopens the stream.
        """
        if not decisions:
            raise ValueError("decide() needs at least one HitlDecision")
        if self._exhausted and self.interrupt is not None and self._end_error is None:
            if not self._entered:
                raise RuntimeError(
                    "the stream is closed; resume with chat.stream(..., hitl_decisions=...)"
                )
            request = msgspec.structs.replace(self._request, hitl_decisions=list(decisions))
            self._response = await self._open(request)
            self._request = request
            self._decoder = SSEDecoder(max_frame_bytes=self._chat._transport.max_frame_bytes)
            self._exhausted = False
        else:
            await self._chat.decide(decisions)
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
