"""``ChatStream``: one chat turn as an async context manager and async iterator."""

from __future__ import annotations

import enum
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

__all__ = ["ChatStream", "EventBatches", "Turn"]

PAUSE_GRACE = 0.1
"""Seconds ``decide()`` waits at an interrupt to see whether the server ends the stream."""

Connect: TypeAlias = "Callable[[ChatRequest], Awaitable[EventSource]]"
"""Sends a chat request and returns the open stream of its turn."""


class Turn(enum.Enum):
    """Where a `ChatStream`'s turn stands; the stream checks it in one place.

    ``NEW`` (not entered; again if the request failed) → ``OPENING`` (request
    in flight) → ``OPEN`` (events flow) → ``ENDED`` (a terminal event, a
    failure or a cut-off) or ``PAUSED`` (the server ended the stream at an
    interrupt). ``DECIDING``
    lasts while ``decide()`` runs; ``CLOSED`` (``aclose()``, leaving the
    ``async with``) wins over every other state, from any task.
    """

    NEW = "new"
    OPENING = "opening"
    OPEN = "open"
    PAUSED = "paused"
    DECIDING = "deciding"
    ENDED = "ended"
    CLOSED = "closed"


_OPEN = Turn.OPEN
_CLOSED = Turn.CLOSED


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

    One cursor: ``async for``, ``__anext__``, ``batches()``, ``text_stream``
    and ``until_done()`` all hand out events from the same position (the
    current read's list and the count handed out of it), so they can be
    mixed and nothing is handed out twice. The stream belongs to one event
    loop; within it, it may be shared by tasks: a second enter, a second
    concurrent read and a second ``decide()`` at one interrupt are refused,
    and ``aclose()`` from any task ends the reading loop cleanly.
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
        self._state = Turn.NEW
        self._reading = False
        self._batch: list[StreamEvent] = []
        self._pos = 0
        self._applied = 0
        self._updater = SnapshotUpdater(keep_text=keep_text)
        self._end_error: StreamError | None = None
        self._last_decoded: StreamEvent | None = None
        self._answered: StreamEvent | None = None

    @property
    def request(self) -> ChatRequest:
        """The request this stream sent."""
        return self._request

    @property
    def state(self) -> Turn:
        """Where the turn stands (see `Turn`)."""
        return self._state

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
        if self._state is not Turn.NEW:
            raise RuntimeError("a ChatStream can be entered only once")
        self._state = Turn.OPENING
        try:
            source = await self._connect(self._request)
        except BaseException:
            if self._state is Turn.OPENING:
                self._state = Turn.NEW
            raise
        self._source = source
        if self._state is _CLOSED:
            source.close()
        else:
            self._state = _OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Drop the connection now; iteration then ends (from any task of the loop)."""
        self.close()

    def close(self) -> None:
        """Drop the connection now (the synchronous form of `aclose`)."""
        self._state = _CLOSED
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
            state = self._state
            if state is not _OPEN and state is not Turn.DECIDING:
                if state is Turn.NEW or state is Turn.OPENING:
                    raise RuntimeError("use the ChatStream inside 'async with' before iterating it")
                if self._end_error is not None:
                    error, self._end_error = self._end_error, None
                    raise error
                raise StopAsyncIteration
            events = await self._read()
            if events:
                self._batch, self._pos, self._applied = events, 0, 0
                return

    async def _read(self) -> list[StreamEvent]:
        """The next read's events; ``[]`` once the stream is over (its state says how)."""
        source = self._source
        assert source is not None
        if self._reading:
            raise RuntimeError("another task is already reading this ChatStream")
        self._reading = True
        last = self._last_decoded
        watch = (
            warn_if_undecided(last, self._undecided_warning)
            if type(last) is HitlInterruptEvent
            else None
        )
        try:
            events = await source.next_batch()
        except BaseException as exc:
            if self._state is _CLOSED and isinstance(exc, LlmrixError):
                return []
            self._end(Turn.ENDED)
            if isinstance(exc, LlmrixError):
                self._updater.cut_off()
            source.close()
            raise
        finally:
            self._reading = False
            if watch is not None:
                watch.cancel()
        if events:
            self._last_decoded = events[-1]
        elif source.saw_terminal:
            self._end(Turn.ENDED)
        elif isinstance(self._last_decoded, HitlInterruptEvent):
            self._end(Turn.PAUSED)
        elif self._state is not _CLOSED:
            self._end(Turn.ENDED)
            self._updater.cut_off()
            self._end_error = StreamError(
                "stream ended before the run finished (no terminal event)"
            )
        return events

    def _end(self, state: Turn) -> None:
        """The stream is over (``ENDED`` or ``PAUSED``), unless it was closed."""
        if self._state is not _CLOSED:
            self._state = state

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

        An interrupt is decided once: a second ``decide()`` while the first
        runs (two tasks, a double-clicked button), or after it answered the
        same interrupt, raises `LlmrixError` and sends nothing. A stream
        closed while ``decide()`` waits raises `StreamError` and sends nothing.
        """
        if not decisions:
            raise ValueError("decide() needs at least one HitlDecision")
        state = self._state
        if state is Turn.DECIDING:
            raise LlmrixError("decide() is already running for this stream's interrupt")
        pos = self._pos
        if pos and self._batch[pos - 1] is self._answered:
            raise LlmrixError("this interrupt has already been decided")
        interrupt = self.interrupt
        if interrupt is not None and state is _CLOSED:
            raise RuntimeError(
                "the stream is closed; resume with chat.stream(..., hitl_decisions=...)"
            )
        if state is _CLOSED or state is Turn.NEW or state is Turn.OPENING:
            await self._decide(decisions)
            return
        self._state = Turn.DECIDING
        try:
            await _Resumption(self, state, interrupt).send(decisions)
        finally:
            if self._state is Turn.DECIDING:
                self._state = state
        self._sync()
        if interrupt is not None:
            self._answered = interrupt
            self._updater.answered()
        self._last_decoded = None

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
        return settled(self.snapshot, self.interrupt)

    async def final_text(self) -> str:
        """Read to the end and return the assistant's whole text (see `until_done`).

        Needs the text kept (``keep_text=True``, the default): ``RuntimeError``
        otherwise.
        """
        if not self._updater.snapshot.keeps_text:
            raise RuntimeError("final_text() needs the stream's text: open it with keep_text=True")
        return (await self.until_done()).text


def settled(snapshot: RunSnapshot, interrupt: HitlInterruptEvent | None) -> RunSnapshot:
    """``until_done()``'s verdict on a run read as far as it goes: the snapshot, or why not."""
    if snapshot.error is not None:
        raise StreamError(snapshot.error.message or "the run failed", event=snapshot.error)
    if interrupt is not None:
        raise RunPausedError(interrupt)
    return snapshot


class EventBatches:
    """``async for events in stream.batches()``: the events of each read, as a list."""

    __slots__ = ("_stream",)

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream

    def __aiter__(self) -> EventBatches:
        return self

    async def __anext__(self) -> list[StreamEvent]:
        return await self._stream._take_batch()


class _Resumption:
    """How one ``decide()`` reaches the server: pause or not, then send once.

    At an interrupt that ended the last read, the server may have ended the
    stream there (a pause) without that end being read yet: wait `PAUSE_GRACE`
    seconds at most to see. A paused run is resumed by sending the chat
    request again with ``hitl_decisions`` on a new stream; a run whose stream
    goes on gets the decision on the control endpoint. A close from another
    task during the wait ends the stream, never reads as a pause.
    """

    __slots__ = ("_before", "_interrupt", "_stream")

    def __init__(
        self, stream: ChatStream, before: Turn, interrupt: HitlInterruptEvent | None
    ) -> None:
        self._stream = stream
        self._before = before
        self._interrupt = interrupt

    async def send(self, decisions: Sequence[HitlDecision]) -> None:
        """Deliver ``decisions`` once, resuming a paused stream."""
        stream = self._stream
        paused = self._before is Turn.PAUSED and self._interrupt is not None
        if (
            self._interrupt is not None
            and self._before is _OPEN
            and not stream._reading
            and stream._pos >= len(stream._batch)
        ):
            paused = await self._ended_at_interrupt()
        if stream._state is _CLOSED:
            raise StreamError("the stream was closed; the decision was not sent")
        if paused:
            await self._resume(decisions)
        else:
            await stream._decide(decisions)

    async def _ended_at_interrupt(self) -> bool:
        """Whether the server ended the stream at the interrupt (within the grace)."""
        stream = self._stream
        source = stream._source
        assert source is not None
        stream._reading = True
        try:
            rest = await source.rest_if_ended(PAUSE_GRACE)
        except LlmrixError:
            if stream._state is not _CLOSED:
                stream._end(Turn.ENDED)
                stream._updater.cut_off()
            raise
        finally:
            stream._reading = False
        if rest is None or stream._state is _CLOSED:
            return False
        stream._sync()
        if rest:
            stream._batch, stream._pos, stream._applied = rest, 0, 0
            stream._last_decoded = rest[-1]
            return False
        return True

    async def _resume(self, decisions: Sequence[HitlDecision]) -> None:
        """Send the turn again with the decisions and read on from the new stream."""
        stream = self._stream
        request = msgspec.structs.replace(stream._request, hitl_decisions=list(decisions))
        source = await stream._connect(request)
        if stream._state is _CLOSED:
            source.close()
            return
        stream._source, stream._request, stream._state = source, request, _OPEN
