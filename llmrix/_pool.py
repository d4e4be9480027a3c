"""``SessionPool``: a client's connections, kept as one `LoopPool` per event loop.

Everything that belongs to one event loop (the aiohttp session and its
connector, the connection slots, the open streams, the retry sleeps) is one
`LoopPool`, which ends with its loop. A slot goes back to the `LoopPool` it
was taken from, so nothing from an ended loop reaches the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import weakref
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Protocol

import aiohttp

from .errors import ClientClosedError, LlmrixError

__all__ = ["CONTROL_HEADROOM", "Closable", "LoopPool", "SessionPool"]

CONTROL_HEADROOM = 4
"""Connections beyond ``max_connections`` kept for ``stop`` and ``decide``."""


class Closable(Protocol):
    """Something in flight that ending its `LoopPool` must end (an open stream)."""

    def abort(self, error: LlmrixError) -> None:
        """End it at once with ``error``: the client is closing or its loop ended."""


def _client_closed() -> LlmrixError:
    return ClientClosedError("the client was closed")


def _loop_ended() -> LlmrixError:
    return LlmrixError("the event loop this call or stream ran in has ended")


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


class LoopPool:
    """One event loop's share of a client: session, slots, open streams, sleeps.

    Made on the loop's first use, it ends with the loop: a watcher (an async
    generator the loop closes in ``shutdown_asyncgens``, as ``asyncio.run``
    does before closing the loop) ends the open streams and closes the
    session while the loop still runs, so its sockets are really closed.
    After a fork the child leaves it untouched: sockets and loop are the
    parent's.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        session: aiohttp.ClientSession,
        *,
        owned: bool,
        max_connections: int,
    ) -> None:
        self.loop = loop
        self.session = session
        self._owned = owned
        self._slots = _Slots(max_connections)
        self._open: weakref.WeakSet[Closable] = weakref.WeakSet()
        self._sleepers: set[asyncio.Future[None]] = set()
        self.ended: bool = False
        """Whether it was closed, its loop ended, or it was left to the parent of a fork."""
        self.inherited: bool = False
        """Whether this process is a fork child that must leave it to its parent."""
        self._kept: list[Closable] = []
        self._watch = _watch(self)
        self._watching = True
        _start(self._watch, finalizer=self._watch_dropped)

    def in_use_outside(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether another loop than ``loop`` still runs with this pool."""
        return self.loop is not loop and not (self.ended or self.loop.is_closed())

    async def take_slot(self) -> None:
        """Wait for one of the ``max_connections`` slots."""
        if self.ended:
            raise _client_closed()
        await self._slots.acquire()

    def give_slot(self) -> None:
        """Return a slot taken with `take_slot` (harmless once the pool has ended)."""
        self._slots.release()

    def register(self, item: Closable) -> None:
        """Track an open stream, weakly, so that ending this pool ends it."""
        self._open.add(item)

    def finish(self, item: Closable, response: aiohttp.ClientResponse, *, reuse: bool) -> None:
        """A stream is over: release (``reuse``) or close its response, give its slot back."""
        if not self.inherited:
            if reuse:
                response.release()
            else:
                response.close()
        self._open.discard(item)
        self._slots.release()

    def finish_dropped(self, response: aiohttp.ClientResponse) -> None:
        """A stream was dropped unclosed (from any thread): close it on this pool's loop."""
        if self.ended:
            return
        with contextlib.suppress(RuntimeError):  # raised once the loop is closed
            self.loop.call_soon_threadsafe(self._close_dropped, response)

    def _close_dropped(self, response: aiohttp.ClientResponse) -> None:
        response.close()
        self._slots.release()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but end at once with `ClientClosedError` if the client closes."""
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._sleepers.add(waiter)
        handle = self.loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._sleepers.discard(waiter)

    def end(self, error: Callable[[], LlmrixError]) -> None:
        """Fail slot waiters, sleeps and open streams with ``error()``; idempotent.

        Runs on this pool's loop (or once that loop is closed).
        """
        if self.ended:
            return
        self.ended = True
        self._slots.fail_waiters(error())
        for waiter in self._sleepers:
            if not waiter.done():
                waiter.set_exception(error())
        for item in list(self._open):
            item.abort(error())
        self._open.clear()
        self._stop_watch()

    def _stop_watch(self) -> None:
        if self._watching:
            self._watching = False
            _finish(self._watch.aclose())

    async def aclose(self, error: Callable[[], LlmrixError]) -> None:
        """`end`, then close the session if the client created it (on the running loop)."""
        self.end(error)
        if self._owned and not self.session.closed:
            await self.session.close()

    def abandon(self) -> None:
        """The loop closed without ``shutdown_asyncgens``: forget what is left.

        aiohttp cannot close sockets once their loop is closed; it marks the
        connector closed and leaves the sockets to the garbage collector.
        """
        if self.inherited:
            return
        self.end(_loop_ended)
        if self._owned and not self.session.closed:
            if self.session.connector is not None:
                _finish(self.session.connector.close())
            self.session.detach()

    def leave_to_parent(self) -> None:
        """In a fork child: never touch this pool's sockets or loop again."""
        self.inherited = self.ended = True
        self._kept = list(self._open)
        _keep_for_good(self)

    def _watch_dropped(self, watch: AsyncGenerator[None, None]) -> None:
        """The pool was dropped unclosed: end the watcher without its loop."""
        self.ended = True
        self._stop_watch()


async def _watch(pool: LoopPool) -> AsyncGenerator[None, None]:
    """Suspended for the loop's lifetime; the loop closes it as it shuts down."""
    try:
        yield
    finally:
        pool._watching = False
        if not pool.ended:
            await pool.aclose(_loop_ended)


def _start(
    watch: AsyncGenerator[None, None], finalizer: Callable[[AsyncGenerator[None, None]], None]
) -> None:
    """Run ``watch`` to its first ``yield`` so that the running loop tracks it.

    Its finalizer is ours, not the loop's: dropping an unclosed pool must not
    schedule work on a loop that may be closed.
    """
    hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=finalizer)
    try:
        _finish(watch.__anext__())
    finally:
        sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=hooks.finalizer)


class SessionPool:
    """The connections a client and its ``with_options`` copies share.

    Each event loop that uses the client gets its own `LoopPool` (session,
    connector of ``max_connections`` plus `CONTROL_HEADROOM` sockets, slots,
    open streams); the pool of a loop that has ended is dropped when the
    next one starts. Calls and streams take one of ``max_connections``
    slots; ``stop``/``decide`` skip them so they work even when every slot
    holds a stream. Closing fails slot waiters and aborts every open stream.
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
        self._user_session = session
        self._trace_configs = list(trace_configs)
        self._max_connections = max_connections
        self._trust_env = trust_env
        self._current: LoopPool | None = None
        self.closed: bool = False
        _POOLS.add(self)

    @property
    def max_connections(self) -> int:
        """How many calls and streams may hold a connection at once."""
        return self._max_connections

    @property
    def session_or_none(self) -> aiohttp.ClientSession | None:
        """The session of the current loop, if one exists yet."""
        current = self._current
        if current is not None and not current.ended:
            return current.session
        return self._user_session

    def current(self) -> LoopPool:
        """The running loop's `LoopPool`, made on first use; fails once the client is closed."""
        if self.closed:
            raise ClientClosedError("the client is closed")
        current = self._current
        loop = asyncio.get_running_loop()
        if current is None or current.loop is not loop or current.ended:
            current = self._switch(loop)
        return current

    def session(self) -> aiohttp.ClientSession:
        """The running loop's session, created on first use."""
        return self.current().session

    def _switch(self, loop: asyncio.AbstractEventLoop) -> LoopPool:
        """Start a `LoopPool` for ``loop``, dropping the one of a loop that has ended."""
        old = self._current
        if old is not None and old.loop is not loop:
            if old.in_use_outside(loop):
                raise LlmrixError(
                    "this LlmrixClient is in use in another event loop; create one client per "
                    "event loop (for example inside the coroutine given to asyncio.run)"
                )
            if self._user_session is not None:
                raise LlmrixError(
                    "the aiohttp session given to this LlmrixClient belongs to another event loop"
                )
            old.abandon()
        session = self._user_session
        if session is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections + CONTROL_HEADROOM),
                trust_env=self._trust_env,
                trace_configs=self._trace_configs or None,
            )
        self._current = LoopPool(
            loop,
            session,
            owned=self._user_session is None,
            max_connections=self._max_connections,
        )
        return self._current

    async def close(self) -> None:
        """End everything in flight; close the session if this pool created it.

        Raises `LlmrixError`, changing nothing, when called from another loop
        than the one still using the client.
        """
        if self.closed:
            return
        current = self._current
        running = asyncio.get_running_loop()
        if current is not None and current.in_use_outside(running):
            raise LlmrixError(
                "close this LlmrixClient in the event loop that uses it "
                "(it is in use in another event loop)"
            )
        self.closed = True
        self._current = None
        if current is None:
            return
        if current.loop is running:
            await current.aclose(_client_closed)
        else:
            current.abandon()

    def _leave_to_parent(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.leave_to_parent()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _finish(step: Awaitable[object]) -> None:
    """Run an awaitable that completes without suspending (a finished watcher's
    close, aiohttp's close of a connector whose loop is closed)."""
    steps = step.__await__()
    try:
        next(steps)
    except StopIteration:
        return
    steps.close()


_POOLS: weakref.WeakSet[SessionPool] = weakref.WeakSet()


def _keep_for_good(item: object) -> None:
    """Never free ``item``, not even at interpreter teardown.

    Freeing an inherited pool in a fork child would let aiohttp's connector
    finalizer close its transports, which unregisters their sockets from the
    epoll set the child shares with the parent: the parent's loop would
    never hear from them again.
    """
    import ctypes  # only ever needed in a fork child

    ctypes.pythonapi.Py_IncRef(ctypes.py_object(item))


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool._leave_to_parent()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
