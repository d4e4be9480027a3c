"""Helpers shared by the tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from llmrix import LlmrixClient

ServeApp = Callable[[web.Application], Awaitable[str]]


def acquired(client: LlmrixClient) -> int:
    """Connections the client's pool has handed out and not got back."""
    session = client.session
    if session is None:
        return 0
    connector = session.connector
    assert connector is not None
    return len(connector._acquired)
