"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from llmrix import LlmrixClient

ServeApp = Callable[[web.Application], Awaitable[str]]
T = TypeVar("T")


class ServerThread:
    """A loop in a thread, for the dev server and anything else that needs one."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-server")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def acquired(client: LlmrixClient) -> int:
    """Connections the client's pool has handed out and not got back."""
    session = client.session
    if session is None:
        return 0
    connector = session.connector
    assert connector is not None
    return len(connector._acquired)


def frame(obj: dict[str, Any], event: str | None = None) -> bytes:
    """One SSE frame carrying ``obj`` as JSON, with an ``event:`` line when named."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(obj)}\n\n".encode()


def chunk(text: str) -> bytes:
    """A ``message_chunk`` frame."""
    return frame({"channel": "messages", "type": "message_chunk", "content": text}, "messages")


RUN_START = frame({"type": "run_start", "run_id": "r1", "thread_id": "c1"})
RUN_END = frame({"type": "run_end", "run_id": "r1", "thread_id": "c1"})
