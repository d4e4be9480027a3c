"""``ChatStream``: one chat turn as an async context manager and async iterator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeAlias

import msgspec

from ._undecided import warn_if_undecided
from .errors import LlmrixError, RunPausedError, StreamError
from .events import HitlInterruptEvent, MessageChunkEvent, StreamEvent
from .models import ChatRequest, HitlDecision
from .snapshot import RunSnapshot, SnapshotUpdater

if TYPE_CHECKING:
    from ._eventsource import EventSource

__all__ = ["ChatStream", "EventBatches"]

PAUSE_GRACE = 0.1
"""Seconds ``decide()`` waits at an interrupt to see whether the server ends the stream."""

Connect: TypeAlias = "Callable[[ChatRequest], Awaitable[EventSource]]"
"""Sends a chat request and returns the open stream of its turn."""


class ChatStream:
    """A chat turn in flight.

    Entering the context sends the request (an error status raises there);
    iterating yields typed events, heartbeats dropped, up to and including the
    terminal event. ``stop()`` and ``decide()`` work from inside the loop.
    Leaving the context, however it happens, releases the connection.

    ``snapshot`` is the run as read so far (a `RunSnapshot`: text, tool calls,
    sub-agents, interrupt, error), up to date with every event handed out (the
    events are applied in bulk when it is read, so iterating costs nothing
    extra); ``until_done()`` reads to the end and returns it. ``batches()``
    hands out the events of each read as one list, for throughput.

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
        keep_text: bool = True,
        undecided_warning: float | None = None,
    ) -> None:
        self._request = request
        self._undecided_warning = undecided_warning
        self._connect = connect
        self._stop = stop
        self._decide = decide
        self._source: EventSource | None = None
        self._batch: list[StreamEvent] = []
        self._pos = 0
        self._applied = 0
        self._updater = SnapshotUpdater(keep_text=keep_text)
        self._exhausted = False
        self._failed = False
        self._end_error: StreamError | None = None
        self._last_decoded: StreamEvent | None = None
        self._answered: StreamEvent | None = None
        self._entered = False

    @property
    def request(self) -> ChatRequest:
        """The request this stream sent."""
        return self._request

    @property
    def response_headers(self) -> Mapping[str, str]:
        """The headers of the stream's HTTP response (empty before it opens)."""
        return self._source.headers if self._source is not None else {}

    @property
    def run_id(self) -> str | None:
        """The run's id, once ``run_start`` has been yielded."""
        return self.snapshot.run_id or None

    @property
    def snapshot(self) -> RunSnapshot:
        """The run as read so far; the same object, kept up to date, for the whole turn."""
        return self._sync()

    def _sync(self) -> RunSnapshot:
        """Apply the events handed out since the last call to the snapshot."""
        applied, pos = self._applied, self._pos
        if applied < pos:
            batch = self._batch
            self._updater.apply(batch if pos - applied == len(batch) else batch[applied:pos])
            self._applied = pos
        return self._updater.snapshot

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

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[StreamEvent]:
        """What ``async for`` runs: the events batch by batch (an async generator is
        cheaper per event than ``__anext__``). ``_pos`` always counts the events
        handed out; if a call made while suspended moved it, the loop picks up there."""
        while True:
            batch = self._batch
            pos = self._pos
            if pos >= len(batch):
                try:
                    await self._advance()
                except StopAsyncIteration:
                    return
                batch = self._batch
                pos = 0
            for index in range(pos + 1, len(batch) + 1):
                self._pos = index
                yield batch[index - 1]
                if self._pos != index or self._batch is not batch:
                    break

    async def __anext__(self) -> StreamEvent:
        pos = self._pos
        batch = self._batch
        if pos < len(batch):
            self._pos = pos + 1
            return batch[pos]
        await self._advance()
        self._pos = 1
        return self._batch[0]

    def batches(self) -> EventBatches:
        """Iterate lists of events, one per read from the connection.

        Same events and rules as ``async for event in stream`` (keep-alives
        dropped, ends after the terminal event, ``stop()``/``decide()`` usable
        inside, ``snapshot`` up to date with each list handed out), with a
        fraction of the per-event cost. The two loops can be mixed: a list
        starts after the last event the other loop yielded.
        """
        return EventBatches(self)

    async def _take_batch(self) -> list[StreamEvent]:
        """The events of the current read not yet handed out, else those of the next."""
        pos = self._pos
        batch = self._batch
        if pos >= len(batch):
            await self._advance()
            batch = self._batch
        elif pos:
            batch = batch[pos:]
        self._pos = len(self._batch)
        self._sync()
        return batch

    async def _advance(self) -> None:
        """Make the next read's events current, or end the iteration."""
        self._sync()
        while True:
            if self._exhausted:
                if self._end_error is not None:
                    error, self._end_error = self._end_error, None
                    raise error
                raise StopAsyncIteration
            events = await self._read()
            if events:
                self._batch, self._pos, self._applied = events, 0, 0
                return

    async def _read(self) -> list[StreamEvent]:
        """The next read's events; ``[]`` once the stream is over (marked so)."""
        source = self._source
        if source is None:
            raise RuntimeError("use the ChatStream inside 'async with' before iterating it")
        last = self._last_decoded
        watch = (
            warn_if_undecided(last, self._undecided_warning)
            if type(last) is HitlInterruptEvent
            else None
        )
        try:
            events = await source.next_batch()
        except BaseException as exc:
            self._exhausted = self._failed = True
            if isinstance(exc, LlmrixError):
                self._updater.cut_off()
            source.close()
            raise
        finally:
            if watch is not None:
                watch.cancel()
        if events:
            self._last_decoded = events[-1]
            return events
        self._exhausted = True
        if not source.saw_terminal and not isinstance(self._last_decoded, HitlInterruptEvent):
            self._failed = True
            self._updater.cut_off()
            self._end_error = StreamError(
                "stream ended before the run finished (no terminal event)"
            )
        return events

    @property
    def interrupt(self) -> HitlInterruptEvent | None:
        """The interrupt awaiting a decision, if the last event yielded is one."""
        pos = self._pos
        event = self._batch[pos - 1] if pos else None
        if type(event) is HitlInterruptEvent and event is not self._answered:
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
        interrupt = self.interrupt
        if interrupt is not None and not self._exhausted and self._pos >= len(self._batch):
            await self._notice_pause()
        if self._exhausted and interrupt is not None and not self._failed:
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
        self._sync()
        if interrupt is not None:
            self._answered = interrupt
            self._updater.answered()
        self._last_decoded = None

    async def _notice_pause(self) -> None:
        """At an interrupt, see whether the server ended the stream there (a pause).

        The end may not have been read yet when the caller decides straight
        after the interrupt: wait `PAUSE_GRACE` seconds at most for it.
        """
        assert self._source is not None
        rest = await self._source.rest_if_ended(PAUSE_GRACE)
        if rest is None:
            return
        self._sync()
        if rest:
            self._batch, self._pos, self._applied = rest, 0, 0
            self._last_decoded = rest[-1]
        else:
            self._exhausted = True

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The assistant's text pieces only, as they arrive.

        Raises `RunPausedError` where the run waits for a decision. It reads
        whole batches: after leaving it early, the per-event loop goes on
        after the batch it was in.
        """
        return self._iter_text()

    async def _iter_text(self) -> AsyncIterator[str]:
        async for events in self.batches():
            for event in events:
                if type(event) is MessageChunkEvent and event.content:
                    yield event.content
            if self.interrupt is not None:
                raise RunPausedError(self.interrupt)

    async def until_done(self) -> RunSnapshot:
        """Read the run to its end and return its final `RunSnapshot`.

        The snapshot covers the whole run, whatever was read before. Raises
        `StreamError` (with the server's ``ErrorEvent``) if the run failed,
        and `RunPausedError` where it waits for a human decision (decide,
        then call this again to read on). A cancelled run is returned with
        status ``"cancelled"``.
        """
        batches = self.batches()
        while self.interrupt is None:
            try:
                await batches.__anext__()
            except StopAsyncIteration:
                break
        snapshot = self.snapshot
        if snapshot.error is not None:
            raise StreamError(snapshot.error.message or "the run failed", event=snapshot.error)
        if self.interrupt is not None:
            raise RunPausedError(self.interrupt)
        return snapshot

    async def final_text(self) -> str:
        """Read to the end and return the assistant's whole text (see `until_done`).

        Needs the text kept (``keep_text=True``, the default): ``RuntimeError``
        otherwise.
        """
        if not self._updater.snapshot.keeps_text:
            raise RuntimeError("final_text() needs the stream's text: open it with keep_text=True")
        return (await self.until_done()).text


class EventBatches:
    """``async for events in stream.batches()``: the events of each read, as a list."""

    __slots__ = ("_stream",)

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream

    def __aiter__(self) -> EventBatches:
        return self

    async def __anext__(self) -> list[StreamEvent]:
        return await self._stream._take_batch()
