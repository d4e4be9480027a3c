"""``EventSource``: the wire side of one chat turn.

It owns the aiohttp response from the moment the headers arrive until it is
released, feeds the bytes to the SSE and event decoders, times each wait for
bytes, and turns every aiohttp or decoder failure into an `LlmrixError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp

from ._compat import deadline
from ._errormap import describe
from ._pool import LoopPool
from .chunks import ChunkDecoder
from .decoding import DEFAULT_DECODER, EventDecoder
from .errors import APITimeoutError, ClientClosedError, LlmrixError, StreamError
from .events import StreamEvent

__all__ = ["READ_SIZE", "EventSource"]

READ_SIZE = 64 * 1024
"""Most bytes one socket read of a stream asks for, on asyncio's own loop.

Its selector transport asks ``recv`` for 256 KiB and shrinks the result to the
bytes that came. On a live stream that is one small frame per read, and glibc
then grows and trims the top of its heap on every read, about two page faults
each, depending on the heap's history. A 64 KiB buffer fits inside the heap's
spare top, so it costs none. Other loops (uvloop) keep their own sizes.
"""


class EventSource:
    """Batches of events from one open ``text/event-stream`` response.

    ``next_batch`` returns the events decoded from the next read (keep-alives
    dropped, nothing after a terminal event) and ``[]`` once the stream is
    over; ``saw_terminal`` then tells a finished run from a stream that
    stopped. Bytes already received are always handed over: the idle timer
    only runs while nothing is buffered. A bad frame raises on the call after
    the one that returned the events before it.

    The idle timer is one loop timer per stream, not one per read: each wait
    for bytes sets its deadline (``idle_timeout`` from the wait's start) and
    arms the timer only when none is armed. When it fires, a later wait's
    deadline re-arms it; the current wait's deadline fails that wait (unless
    bytes came in the same loop iteration, which the read then returns).
    So a wait fails exactly when ``asyncio.timeout`` around it would, while a
    busy stream costs no timer handle per read (which, on asyncio's loop,
    churned the timer heap with one cancelled handle per read per stream).
    """

    __slots__ = (
        "__weakref__",
        "_aborted",
        "_awaiting_end",
        "_content",
        "_decoder",
        "_error",
        "_idle_bytes",
        "_idle_deadline",
        "_idle_timeout",
        "_idle_timer",
        "_loop",
        "_pool",
        "_response",
        "headers",
        "saw_terminal",
    )

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        *,
        pool: LoopPool,
        idle_timeout: float | None,
        max_frame_bytes: int,
        events: EventDecoder = DEFAULT_DECODER,
    ) -> None:
        self._response: aiohttp.ClientResponse | None = response
        self._content = response.content
        self._pool = pool
        self._idle_timeout = idle_timeout
        self._idle_deadline: float | None = None
        self._idle_bytes = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._decoder = ChunkDecoder(max_frame_bytes=max_frame_bytes, events=events)
        self._error: LlmrixError | None = None
        self._aborted = False
        self._awaiting_end = False
        self.headers: Mapping[str, str] = response.headers
        """The response headers."""
        self.saw_terminal = False
        """Whether a terminal event (``run_end``, ``error``, ``cancelled``) came."""
        _limit_read_size(response)
        pool.register(self)

    async def next_batch(self) -> list[StreamEvent]:
        """The next events; ``[]`` when the stream is over."""
        events: list[StreamEvent] = []
        while not events:
            if self._response is None:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                return events
            chunk = await self._read()
            try:
                self.saw_terminal = self._decoder.feed(chunk, events)
            except StreamError as exc:
                self.close()
                reason = str(exc)
                if not chunk:
                    reason = f"stream ended before the run finished, inside a frame: {reason}"
                self._error = StreamError(reason)
            else:
                if self.saw_terminal or not chunk:
                    self._release()
        return events

    async def rest_if_ended(self, grace: float) -> list[StreamEvent] | None:
        """The events left if the response ends within ``grace`` seconds, else None.

        A server may end the stream right after an interrupt (a pause); this
        tells that apart from a stream kept open for a decision, without
        blocking on a stream that goes on. A second task asking while one
        waits gets an `LlmrixError`.
        """
        if self._response is None:
            return []
        content = self._content
        if not content.is_eof():
            if self._awaiting_end:
                raise LlmrixError("another task is already waiting for this stream to end")
            self._awaiting_end = True
            try:
                async with deadline(grace):
                    await content.wait_eof()
            except asyncio.TimeoutError:
                return None
            except (aiohttp.ClientError, LlmrixError):
                pass  # next_batch raises it, translated
            finally:
                self._awaiting_end = False
        events: list[StreamEvent] = []
        while self._response is not None:
            try:
                events += await self.next_batch()
            except LlmrixError as exc:
                if not events:
                    raise
                self._error = exc  # raised by the next call, after these events
        return events

    async def _read(self) -> bytes:
        """Bytes already buffered, else the next bytes to arrive (b"" at the end)."""
        content = self._content
        try:
            chunk = content.read_nowait()
            if chunk or content.at_eof():
                return chunk
            if self._idle_timeout is None:
                return await content.readany()
            self._watch_idle(self._idle_timeout)
            try:
                return await content.readany()
            finally:
                self._idle_deadline = None
        except LlmrixError as exc:
            error: LlmrixError = exc
        except aiohttp.ClientError as exc:
            error = self._translate(exc)
        except BaseException:
            self.close()
            raise
        self.close()
        self._error = None
        raise error  # outside the handlers: nothing foreign in its __context__

    def _translate(self, exc: aiohttp.ClientError) -> LlmrixError:
        """The error a failed read raises (an abort's own error, else a `StreamError`)."""
        if self._aborted or self._pool.ended:
            return ClientClosedError("the client was closed while the stream was open")
        failure = describe(exc)
        reason = failure.reason if failure is not None else type(exc).__name__
        return StreamError(f"stream ended before the run finished: {reason}")

    def _watch_idle(self, timeout: float) -> None:
        """A wait for bytes starts: it fails if none come within ``timeout`` seconds."""
        deadline = self._loop.time() + timeout
        self._idle_deadline = deadline
        self._idle_bytes = self._content.total_bytes
        if self._idle_timer is None:
            self._idle_timer = self._loop.call_at(deadline, self._idle_check, deadline)

    def _idle_check(self, armed_for: float) -> None:
        """The idle timer fired: re-arm it for a later wait, or fail the current one."""
        self._idle_timer = None
        deadline = self._idle_deadline
        if deadline is None or self._response is None:
            return  # no wait in progress: the next one arms the timer again
        if deadline > armed_for:
            self._idle_timer = self._loop.call_at(deadline, self._idle_check, deadline)
            return
        content = self._content
        if content.total_bytes != self._idle_bytes or content.is_eof():
            return  # bytes came in this loop iteration: the read returns them
        content.set_exception(
            APITimeoutError(
                f"no data from the server for {self._idle_timeout} s (stream_idle_timeout)"
            )
        )

    def _stop_idle_timer(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None:
            timer.cancel()

    def _release(self) -> None:
        """The stream is over: hand the connection back to the pool."""
        self._stop_idle_timer()
        response, self._response = self._response, None
        if response is not None:
            self._pool.finish(self, response, reuse=True)

    def close(self) -> None:
        """Drop the connection now (idempotent)."""
        self._stop_idle_timer()
        response, self._response = self._response, None
        if response is not None:
            self._pool.finish(self, response, reuse=False)

    def abort(self, error: LlmrixError) -> None:
        """The client is closing or the loop ended: fail the read in progress with ``error``,
        then drop the connection."""
        if self._response is not None:
            self._aborted = True
            self._error = error
            self._content.set_exception(error)
            self.close()

    def __del__(self) -> None:
        if self._response is not None:  # dropped unclosed: its loop closes it
            self._pool.finish_dropped(self._response)


def _limit_read_size(response: aiohttp.ClientResponse) -> None:
    """Ask at most `READ_SIZE` bytes per read where the transport reads with ``max_size``."""
    connection = response.connection
    transport = connection.transport if connection is not None else None
    current = getattr(transport, "max_size", None)
    if isinstance(current, int) and current > READ_SIZE:
        transport.max_size = READ_SIZE  # type: ignore[union-attr]
