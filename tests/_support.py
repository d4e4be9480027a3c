"""Helpers shared by the tests."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from llmrix import LlmrixClient

ServeApp = Callable[[web.Application], Awaitable[str]]


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
