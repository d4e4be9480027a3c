"""``SyncIterator``: an async iterator read on the portal's loop, consumed from any thread.

The loop side, a *pump* task, awaits the source's ``__anext__`` and appends each item
to a deque; the caller's ``__next__`` pops from it. Handing items over one at a
time (a cross-thread round trip per item) would cost tens of microseconds each, so
the pump reads ahead, up to ``read_ahead`` items, and ends; the caller starts a new
pump only when the deque runs dry. Invariants:

- At most one pump runs, and none runs while the caller holds an item the source
  must not read past: the pump ends after an item that is an instance of
  ``pause_on`` (a HITL interrupt: the run waits for the caller's decision), so
  ``decide()`` and friends never race a read in flight.
- An exception or the end of the source is delivered after every item read before it.
- Wake-ups: the caller sets ``_waiting`` under the lock *before* it looks at the
  deque; the pump, after an append, clears it and notifies once. So an item is
  never appended unseen by a caller about to sleep, and a burst costs one wake-up.
- ``aclose()`` (on the loop) cancels a running pump; cancelling a read releases the
  source's connection (that is the async core's rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Generic, TypeVar

from ..errors import StreamError
from ._portal import Portal

T = TypeVar("T")


class SyncIterator(Iterator[T], Generic[T]):
    """A blocking iterator over an async iterator that lives on ``portal``'s loop."""

    def __init__(
        self,
        portal: Portal,
        source: AsyncIterator[T],
        *,
        read_ahead: int = 1,
        pause_on: type | tuple[type, ...] = (),
    ) -> None:
        self._portal = portal
        self._source = source
        self._read_ahead = read_ahead
        self._pause_on = pause_on
        self._ready: deque[T] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._waiting = False
        self._running = False
        self._outcome: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self.last: T | None = None
        """The item ``__next__`` returned last."""

    def __iter__(self) -> SyncIterator[T]:
        return self

    def __next__(self) -> T:
        try:
            self.last = item = self._ready.popleft()
        except IndexError:
            self.last = item = self._refill()
        return item

    def take_ready(self) -> list[T]:
        """Every item already read ahead, without waiting (updates ``last``)."""
        items = list(self._ready)
        self._ready.clear()
        if items:
            self.last = items[-1]
        return items

    def _refill(self) -> T:
        with self._cond:
            try:
                while True:
                    self._waiting = True
                    if self._ready:
                        return self._ready.popleft()
                    if self._outcome is not None:
                        outcome, self._outcome = self._outcome, None
                        raise self._translate(outcome)
                    if not self._running:
                        self._running = True
                        try:
                            self._portal.call_soon(self._start)
                        except BaseException:
                            self._running = False
                            raise
                    self._cond.wait()
            finally:
                self._waiting = False

    def _translate(self, outcome: BaseException) -> BaseException:
        if isinstance(outcome, asyncio.CancelledError):
            if self._portal.closed:
                return StreamError("the client was closed while the stream was open")
            return StopIteration()
        if isinstance(outcome, StopAsyncIteration):
            return StopIteration()
        return outcome

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        ready, source, pause_on, limit = self._ready, self._source, self._pause_on, self._read_ahead
        outcome: BaseException | None = None
        try:
            while True:
                item = await source.__anext__()
                ready.append(item)
                if self._waiting:
                    self._waiting = False
                    with self._cond:
                        self._cond.notify()
                if len(ready) >= limit or isinstance(item, pause_on):
                    return
        except BaseException as exc:
            outcome = exc
            if not isinstance(exc, (Exception, asyncio.CancelledError)):
                raise
        finally:
            with self._cond:
                self._outcome = outcome
                self._running = False
                self._task = None
                self._cond.notify()

    async def aclose(self) -> None:
        """On the loop: cancel a running pump and wait for it to finish."""
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with self._cond:
            self._outcome = None
            self._ready.clear()
