"""Sync ``ChatStream``: one chat turn as a context manager and a blocking iterator."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, ParamSpec

from .. import streaming as aio
from ..errors import LlmrixError, RunPausedError
from ..events import HitlInterruptEvent, MessageChunkEvent, StreamEvent
from ..models import ChatRequest, HitlDecision
from ..snapshot import RunSnapshot
from ._bridge import SyncIterator
from ._portal import Portal
from ._wrap import Wrapper

P = ParamSpec("P")

READ_AHEAD = 4096
"""Events the loop thread may read before the caller takes them (one batch)."""


class ChatStream:
    """A chat turn in flight, the blocking twin of `llmrix.ChatStream`.

    Entering the ``with`` sends the request (an error status raises there);
    iterating yields typed events, heartbeats dropped, up to the terminal event;
    ``stop()`` and ``decide()`` work from inside the loop; leaving the ``with``,
    however it happens, releases the connection. Events are read on the client's
    loop thread a batch ahead, never past a HITL interrupt.
    """

    def __init__(self, portal: Portal, stream: aio.ChatStream) -> None:
        self._portal = portal
        self._stream = stream
        self._events = SyncIterator(
            portal, stream, read_ahead=READ_AHEAD, pause_on=HitlInterruptEvent
        )
        self._answered: StreamEvent | None = None

    @property
    def request(self) -> ChatRequest:
        """The request this stream sent."""
        return self._stream.request

    @property
    def response_headers(self) -> Mapping[str, str]:
        """The headers of the stream's HTTP response (empty before it opens)."""
        return self._stream.response_headers

    @property
    def run_id(self) -> str | None:
        """The run's id, once ``run_start`` has been read."""
        return self._stream.run_id

    def __enter__(self) -> ChatStream:
        self._portal.run(self._stream.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Drop the connection now; iteration then ends. Harmless once the client is closed."""
        try:
            self._portal.run(self._aclose())
        except LlmrixError:
            if not self._portal.closed:
                raise

    async def _aclose(self) -> None:
        await self._events.aclose()
        await self._stream.__aexit__(None, None, None)

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._events

    def __next__(self) -> StreamEvent:
        return next(self._events)

    @property
    def interrupt(self) -> HitlInterruptEvent | None:
        """The interrupt awaiting a decision, if the last event yielded is one."""
        event = self._events.last
        if isinstance(event, HitlInterruptEvent) and event is not self._answered:
            return event
        return None

    def stop(self) -> None:
        """Ask the server to cancel the run; the loop then receives ``cancelled``."""
        self._portal.run(self._stream.stop())

    def decide(self, decisions: Sequence[HitlDecision]) -> None:
        """Answer the pending interrupt; the resumed run's events follow in the loop.

        On a paused stream (the server ended it at the interrupt) this sends the
        chat request again with ``hitl_decisions``; iterate again to read on.
        """
        self._portal.run(self._stream.decide(decisions))
        self._answered = self._events.last

    @property
    def snapshot(self) -> RunSnapshot:
        """The run as read so far (a `RunSnapshot`).

        Events are read on the loop thread a batch ahead of your loop, so the
        snapshot holds every event handed to you and may hold some not yet
        handed out; after the end of the run (or ``until_done()``) it is exact.
        """
        return self._stream.snapshot

    def batches(self) -> Iterator[list[StreamEvent]]:
        """The events as lists: each holds one event and all those already read after it."""
        for event in self:
            yield [event, *self._events.take_ready()]

    def until_done(self) -> RunSnapshot:
        """Read the run to its end and return its final `RunSnapshot`.

        Raises `StreamError` if the run failed and `RunPausedError` at an
        interrupt awaiting a decision, like `llmrix.ChatStream.until_done`.
        """
        if self.interrupt is None:
            for event in self:
                if isinstance(event, HitlInterruptEvent):
                    break
        return self._portal.run(self._stream.until_done())

    @property
    def text_stream(self) -> Iterator[str]:
        """The assistant's text pieces only, as they arrive."""
        return self._iter_text()

    def _iter_text(self) -> Iterator[str]:
        for event in self:
            if isinstance(event, MessageChunkEvent) and event.content:
                yield event.content
            elif isinstance(event, HitlInterruptEvent):
                raise RunPausedError(event)

    def final_text(self) -> str:
        """Read to the end and return the assistant's whole text (see `until_done`)."""
        if not self._stream.snapshot.keeps_text:
            raise RuntimeError("final_text() needs the stream's text: open it with keep_text=True")
        return self.until_done().text


class streaming(Wrapper[P, ChatStream]):
    """A method returning an async `llmrix.ChatStream` made to return a sync one."""

    def __init__(self, method: Callable[P, aio.ChatStream]) -> None:
        super().__init__(method)

    def invoke(self, portal: Portal, method: Any, args: Any, kwargs: Any) -> ChatStream:
        """Wrap the async stream the method returns (nothing is sent until ``with``)."""
        return ChatStream(portal, method(*args, **kwargs))
