"""``SyncIterator``: an async iterator read on the portal's loop, consumed from any thread.

The loop side, a *pump* task, awaits the source's ``__anext__`` and puts each item on
a ``queue.SimpleQueue``; the caller's ``__next__`` takes them off. A queue is made for
two threads: nothing the pump hands over can be lost between a look and a clear.
Handing items over one at a time (a cross-thread round trip per item) would cost tens
of microseconds each, so a pump reads ahead, up to ``read_ahead`` (counted by
``weigh``), then ends. Invariants:

- The caller alone decides when a pump starts: only after it has taken the previous
  pump's end marker off the queue, so at most one pump runs, and none runs while
  the caller holds an item the source must not read past (``pause_after`` says so:
  a HITL interrupt, where the run waits for the caller's decision).
- Every pump puts exactly one end marker, last, from its task's done callback, so
  even a pump cancelled before it started (the client closing) wakes the caller.
- An exception or the end of the source is delivered after every item read before it.
- ``aclose()`` (on the loop) cancels a running pump; cancelling a read releases the
  source's connection (that is the async core's rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

from ..errors import ClientClosedError
from ._portal import Portal

T = TypeVar("T")

CLOSED_MID_STREAM = "the client was closed while the stream was open"


class _PumpEnd:
    """A pump's last item: read on (``outcome`` None) or how the source ended."""

    __slots__ = ("outcome",)

    def __init__(self, outcome: BaseException | None) -> None:
        self.outcome = outcome


def _one(item: object) -> int:
    return 1


class SyncIterator(Iterator[T], Generic[T]):
    """A blocking iterator over an async iterator that lives on ``portal``'s loop."""

    def __init__(
        self,
        portal: Portal,
        source: AsyncIterator[T],
        *,
        read_ahead: int = 1,
        weigh: Callable[[T], int] = _one,
        pause_after: Callable[[T], bool] | None = None,
    ) -> None:
        self._portal = portal
        self._source = source
        self._read_ahead = read_ahead
        self._weigh = weigh
        self._pause_after = pause_after
        self._queue: queue.SimpleQueue[T | _PumpEnd] = queue.SimpleQueue()
        self._pumping = False
        self._task: asyncio.Task[None] | None = None

    def __iter__(self) -> SyncIterator[T]:
        return self

    def __next__(self) -> T:
        get = self._queue.get
        while True:
            if not self._pumping:
                self._portal.call_soon(self._start)
                self._pumping = True
            item = get()
            if type(item) is not _PumpEnd:
                return item  # type: ignore[return-value]
            self._pumping = False
            outcome = item.outcome
            if outcome is not None:
                raise outcome

    def _start(self) -> None:
        task = asyncio.get_running_loop().create_task(self._pump())
        self._task = task
        task.add_done_callback(self._pumped)

    async def _pump(self) -> None:
        put, source, weigh, pause_after = (
            self._queue.put,
            self._source,
            self._weigh,
            self._pause_after,
        )
        left = self._read_ahead
        while left > 0:
            item = await source.__anext__()
            put(item)
            left -= weigh(item)
            if pause_after is not None and pause_after(item):
                return

    def _pumped(self, task: asyncio.Task[None]) -> None:
        """The pump's done callback: put its end marker (what the caller sees next)."""
        self._task = None
        if task.cancelled():
            closed = self._portal.closed
            outcome: BaseException | None = (
                ClientClosedError(CLOSED_MID_STREAM) if closed else StopIteration()
            )
        else:
            outcome = task.exception()
            if isinstance(outcome, StopAsyncIteration):
                outcome = StopIteration()
        self._queue.put(_PumpEnd(outcome))

    async def aclose(self) -> None:
        """On the loop: cancel a running pump and wait for it to finish."""
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
