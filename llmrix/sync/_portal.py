"""The private event-loop thread a sync client runs the async core on.

Why a thread with its own loop, and not the alternatives:

- ``asyncio.run()`` per call would make a new loop, hence a new aiohttp session and
  new connections, for every call; a stream cannot outlive one ``run()`` either.
- One loop driven from the caller's thread (``loop.run_until_complete`` per call)
  breaks when the caller already runs an event loop (Jupyter, an async web app
  calling sync code) and cannot serve calls from several threads at once.
- A second, blocking HTTP stack (httpx, urllib3) would copy the resources,
  decoding, retries and error mapping: two SDKs to keep in step.

So every sync client owns one daemon thread running one loop; calls are handed to
it with ``asyncio.run_coroutine_threadsafe``, which is thread safe, so any number
of caller threads may share the client. ``close()`` cancels what still runs,
closes the async client, stops the loop and joins the thread.

Two edges of a process's life:

- At interpreter exit (the finalizer of a client left open) no new thread may be
  started (Python 3.12+), and ``loop.shutdown_default_executor()`` starts one. The
  loop gets its own executor instead, which closing shuts down in place.
- A child forked after the parent used a client (gunicorn pre-fork,
  ``multiprocessing`` with fork) has the loop object but not its thread: the child
  marks every such loop left behind, so the child's calls fail clearly, its exit
  does not wait for a thread that is not there, and it can build its own client.
  Nothing of a loop left behind may ever run, not even a finalizer: its selector
  (an epoll instance) and its sockets are shared with the parent, and a
  connection closed in the child is unregistered from the parent's loop, which
  then waits forever on that socket. So the child keeps the loop and the async
  client for good, with a reference no teardown drops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar

from ..errors import ClientClosedError

T = TypeVar("T")

CLOSED_MESSAGE = "the client is closed"
FORKED_MESSAGE = (
    "this sync client was made in the parent process before os.fork(); "
    "create a new client in this process"
)


class Portal:
    """What a sync client and its streams hold: the loop, closed when the last is gone.

    Closing on garbage collection (and at interpreter exit) is a safety net;
    ``close()`` is the way. The finalizer holds the `Loop`, never the portal.
    """

    def __init__(
        self, last: Callable[[], Awaitable[None]], new_loop: Callable[[], asyncio.AbstractEventLoop]
    ) -> None:
        self.core: Final = Loop(new_loop)
        self.thread: Final = self.core.thread
        self.run: Final = self.core.run
        self.call_soon: Final = self.core.call_soon
        self._finalizer = weakref.finalize(self, self.core.close, last)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self.core.closed

    def close(self) -> None:
        """Cancel running work, close the async client, stop the loop, join its thread."""
        self._finalizer()
        self.core.join()


class Loop:
    """One event loop in one thread, and the way in from other threads."""

    def __init__(self, new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self.loop: asyncio.AbstractEventLoop = new_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="llmrix-resolver")
        self.loop.set_default_executor(self._executor)
        self._lock = threading.Lock()
        self.closed: bool = False
        self._closed_message = CLOSED_MESSAGE
        self.thread: threading.Thread = threading.Thread(
            target=_serve, args=(self.loop,), daemon=True
        )
        self.thread.name = f"llmrix-sync-{self.thread.name}"
        self.thread.start()
        _LOOPS.add(self)

    def left_behind(self) -> None:
        """In a forked child: the loop's thread stayed in the parent; never touch it."""
        self._lock = threading.Lock()
        self.closed = True
        self._closed_message = FORKED_MESSAGE
        _keep_for_good(self)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result in the calling thread."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("a sync llmrix client cannot be called from its own loop thread")
        with self._lock:
            if self.closed:
                coro.close()
                raise ClientClosedError(self._closed_message)
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self.closed:
                raise ClientClosedError(self._closed_message) from None
            raise
        except BaseException:
            future.cancel()
            raise

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Schedule ``callback`` on the loop; `ClientClosedError` once closed."""
        with self._lock:
            if self.closed:
                raise ClientClosedError(self._closed_message)
            self.loop.call_soon_threadsafe(callback)

    def close(self, last: Callable[[], Awaitable[None]]) -> None:
        """Cancel running work, await ``last()``, stop the loop and join its thread.

        Called on the loop's own thread (a finalizer may run there), it only
        schedules all that; the thread then ends by itself.
        """
        with self._lock:
            if self._closed_message is FORKED_MESSAGE:
                _keep_for_good(last)
            if self.closed:
                return
            self.closed = True
            if threading.current_thread() is self.thread:
                task = self.loop.create_task(_shutdown(last, self._executor))
                task.add_done_callback(lambda _: self.loop.stop())
                return
            done = asyncio.run_coroutine_threadsafe(_shutdown(last, self._executor), self.loop)
        try:
            done.result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.join()

    def join(self) -> None:
        """Wait until the loop's thread has ended (not from that thread)."""
        if threading.current_thread() is not self.thread:
            self.thread.join()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


async def _shutdown(
    last: Callable[[], Awaitable[None]], executor: concurrent.futures.Executor
) -> None:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    try:
        await last()
    finally:
        await asyncio.get_running_loop().shutdown_asyncgens()
        executor.shutdown(wait=True)


_LOOPS: weakref.WeakSet[Loop] = weakref.WeakSet()
"""Every loop not yet collected, for the fork hook."""


def _keep_for_good(item: object) -> None:
    """Never free ``item``, even at interpreter teardown (a reference nobody drops)."""
    import ctypes  # only ever needed in a forked child

    ctypes.pythonapi.Py_IncRef(ctypes.py_object(item))


def _leave_behind_after_fork() -> None:
    for core in list(_LOOPS):
        core.left_behind()
    _LOOPS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_leave_behind_after_fork)
