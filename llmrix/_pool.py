"""``SessionPool``: the aiohttp session, its connection slots, and closing it."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import Protocol

import aiohttp

from .errors import ClientClosedError, LlmrixError

__all__ = ["CONTROL_HEADROOM", "Closable", "SessionPool"]

CONTROL_HEADROOM = 4
"""Connections beyond ``max_connections`` kept for ``stop`` and ``decide``."""


class Closable(Protocol):
    """Something in flight that closing the client must end (an open stream)."""

    def abort(self) -> None:
        """End it at once: the client is closing."""


class _Slots:
    """A FIFO counting semaphore whose waiters closing can fail at once."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def fail_waiters(self, exc: BaseException) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)


class SessionPool:
    """The session a client and its ``with_options`` copies share.

    The session is created on first use inside the running event loop, with a
    connector of ``max_connections`` plus `CONTROL_HEADROOM` sockets: calls and
    streams take one of ``max_connections`` slots, while ``stop``/``decide``
    skip the slots so they work even when every slot holds a stream. Closing
    fails slot waiters and aborts every registered stream at once.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        trust_env: bool,
        session: aiohttp.ClientSession | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(f"session must be an aiohttp.ClientSession, got {session!r}")
        if not all(isinstance(trace, aiohttp.TraceConfig) for trace in trace_configs):
            raise TypeError("trace_configs must be aiohttp.TraceConfig objects")
        if trace_configs and session is not None:
            raise TypeError(
                "trace_configs apply to the session the client creates; add them to yours"
            )
        self._session = session
        self._trace_configs = list(trace_configs)
        self._owned = session is None
        self._max_connections = max_connections
        self._trust_env = trust_env
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = _Slots(max_connections)
        self._open: set[Closable] = set()
        self._closed_waiters: set[asyncio.Future[None]] = set()
        self.closed: bool = False

    @property
    def max_connections(self) -> int:
        """How many calls and streams may hold a connection at once."""
        return self._max_connections

    @property
    def session_or_none(self) -> aiohttp.ClientSession | None:
        """The session if one exists yet."""
        return self._session

    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use; fails once the client is closed."""
        if self.closed:
            raise ClientClosedError("the client is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                self._leave_finished_loop()
            self._loop = loop
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections + CONTROL_HEADROOM)
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=self._trust_env,
                trace_configs=self._trace_configs or None,
            )
        return self._session

    def _leave_finished_loop(self) -> None:
        """Drop the session of an event loop that has ended (as after ``asyncio.run``)."""
        assert self._loop is not None
        if not self._loop.is_closed() or not self._owned:
            raise LlmrixError(
                "this LlmrixClient is in use in another event loop; create one client per "
                "event loop (for example inside the coroutine given to asyncio.run)"
            )
        session, self._session = self._session, None
        if session is not None:
            if session.connector is not None:
                _finish_now(session.connector.close())
            session.detach()
        self._slots = _Slots(self._max_connections)
        self._open.clear()

    async def take_slot(self) -> None:
        """Wait for one of the ``max_connections`` slots."""
        if self.closed:
            raise ClientClosedError("the client is closed")
        await self._slots.acquire()

    def give_slot(self) -> None:
        """Return a slot taken with `take_slot`."""
        self._slots.release()

    def register(self, item: Closable) -> None:
        """Track an open stream so `close` can end it."""
        self._open.add(item)

    def unregister(self, item: Closable) -> None:
        """Stop tracking a stream that has ended."""
        self._open.discard(item)

    async def sleep(self, seconds: float) -> None:
        """Sleep, but end at once with `ClientClosedError` if the client closes."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed_waiters.add(waiter)
        handle = waiter.get_loop().call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._closed_waiters.discard(waiter)

    async def close(self) -> None:
        """End everything in flight; close the session if this pool created it."""
        if self.closed:
            return
        self.closed = True
        closed = ClientClosedError("the client was closed")
        self._slots.fail_waiters(closed)
        for waiter in self._closed_waiters:
            if not waiter.done():
                waiter.set_exception(closed)
        for item in list(self._open):
            item.abort()
        self._open.clear()
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            self._leave_finished_loop()
        session, self._session = self._session, None
        if session is not None and self._owned:
            await session.close()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _finish_now(closing: Awaitable[None]) -> None:
    """Run a close coroutine whose loop has ended.

    With the loop closed, aiohttp only marks the connector closed and forgets
    its sockets, so the coroutine completes without suspending.
    """
    steps = closing.__await__()
    try:
        next(steps)
    except StopIteration:
        return
    steps.close()
