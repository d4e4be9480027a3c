"""Sync ``ChatStream``: one chat turn as a context manager and a blocking iterator."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, ParamSpec

from .. import streaming as aio
from ..errors import ClientClosedError, RunPausedError
from ..events import HitlInterruptEvent, MessageChunkEvent, StreamEvent
from ..models import ChatRequest, HitlDecision
from ..snapshot import RunSnapshot
from ..streaming import settled
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
    however it happens, releases the connection.

    The client's loop thread reads the async stream's lists of events (its
    ``batches()``), a few thousand events ahead, never past a HITL interrupt,
    and hands each list over whole through a queue. This stream keeps one
    cursor over those lists (the current list and the count handed out of
    it): ``for``, ``next()``, ``batches()``, ``text_stream`` and
    ``until_done()`` all read through it. Use a stream from one thread at a
    time; ``stop()``, ``decide()`` and ``close()`` may come from any thread.
    """

    def __init__(self, portal: Portal, stream: aio.ChatStream) -> None:
        self._portal = portal
        self._stream = stream
        self._lists = SyncIterator(
            portal,
            stream.batches(),
            read_ahead=READ_AHEAD,
            weigh=len,
            pause_after=lambda _: stream.interrupt is not None,
        )
        self._current: list[StreamEvent] = []
        self._index = 0
        self._answered: StreamEvent | None = None

    @property
    def request(self) -> ChatRequest:
        """The request this stream sent."""
        return self._stream.request

    @property
    def state(self) -> aio.Turn:
        """Where the turn stands (see `llmrix.streaming.Turn`)."""
        return self._stream.state

    @property
    def response_headers(self) -> Mapping[str, str]:
        """The headers of the stream's HTTP response (empty before it opens)."""
        return self._stream.response_headers

    @property
    def run_id(self) -> str | None:
        """The run's id, once ``run_start`` has been read (see `snapshot`)."""
        return self.snapshot.run_id or None

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
        """Drop the connection now; iteration then ends, after the events already read.

        Harmless once the client is closed.
        """
        try:
            self._portal.run(self._aclose())
        except ClientClosedError:
            if not self._portal.closed:
                raise

    async def _aclose(self) -> None:
        await self._stream.aclose()
        await self._lists.aclose()

    def __iter__(self) -> Iterator[StreamEvent]:
        return self

    def __next__(self) -> StreamEvent:
        index = self._index
        current = self._current
        if index < len(current):
            self._index = index + 1
            return current[index]
        self._current = current = next(self._lists)
        self._index = 1
        return current[0]

    def batches(self) -> Iterator[list[StreamEvent]]:
        """The events as lists: the rest of the current one, then one per read."""
        while True:
            index, current = self._index, self._current
            if index >= len(current):
                try:
                    current = next(self._lists)
                except StopIteration:
                    return
                self._current, index = current, 0
            self._index = len(current)
            yield current[index:] if index else current

    @property
    def interrupt(self) -> HitlInterruptEvent | None:
        """The interrupt awaiting a decision, if the last event handed out is one."""
        index = self._index
        event = self._current[index - 1] if index else None
        if type(event) is HitlInterruptEvent and event is not self._answered:
            return event
        return None

    def stop(self) -> None:
        """Ask the server to cancel the run; the loop then receives ``cancelled``."""
        self._portal.run(self._stream.stop())

    def decide(self, decisions: Sequence[HitlDecision]) -> None:
        """Answer the pending interrupt; the resumed run's events follow in the loop.

        On a paused stream (the server ended it at the interrupt) this sends the
        chat request again with ``hitl_decisions``; iterate again to read on.
        Decided once, like `llmrix.ChatStream.decide`: a second call at the same
        interrupt raises `LlmrixError`.
        """
        interrupt = self.interrupt
        self._portal.run(self._stream.decide(decisions))
        if interrupt is not None:
            self._answered = interrupt

    @property
    def snapshot(self) -> RunSnapshot:
        """The run as read so far (a `RunSnapshot`).

        Only the loop thread applies events to it, as it reads them, so inside
        your loop it holds every event handed to you and may run ahead by the
        events read but not yet handed out (never past an interrupt); at the
        end of the run, at an interrupt and after ``until_done()`` it is
        exact. Reading it (``text`` too) from your thread is safe.
        """
        return self._stream._updater.snapshot

    def until_done(self) -> RunSnapshot:
        """Read the run to its end and return its final `RunSnapshot`.

        Raises `StreamError` if the run failed and `RunPausedError` at an
        interrupt awaiting a decision, like `llmrix.ChatStream.until_done`.
        """
        if self.interrupt is None:
            for _ in self.batches():
                if self.interrupt is not None:
                    break
        return settled(self.snapshot, self.interrupt)

    @property
    def text_stream(self) -> Iterator[str]:
        """The assistant's text pieces only, as they arrive."""
        return self._iter_text()

    def _iter_text(self) -> Iterator[str]:
        for events in self.batches():
            for event in events:
                if type(event) is MessageChunkEvent and event.content:
                    yield event.content
            interrupt = self.interrupt
            if interrupt is not None:
                raise RunPausedError(interrupt)

    def final_text(self) -> str:
        """Read to the end and return the assistant's whole text (see `until_done`)."""
        if not self.snapshot.keeps_text:
            raise RuntimeError("final_text() needs the stream's text: open it with keep_text=True")
        return self.until_done().text


class streaming(Wrapper[P, ChatStream]):
    """A method returning an async `llmrix.ChatStream` made to return a sync one."""

    def __init__(self, method: Callable[P, aio.ChatStream]) -> None:
        super().__init__(method)

    def invoke(self, portal: Portal, method: Any, args: Any, kwargs: Any) -> ChatStream:
        """Wrap the async stream the method returns (nothing is sent until ``with``)."""
        return ChatStream(portal, method(*args, **kwargs))
