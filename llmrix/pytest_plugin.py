"""pytest plugin: ``llmrix_server`` (a running dev server) and ``llmrix_client``.

Registered through the ``pytest11`` entry point, so installing llmrix is enough::

    async def test_reply(llmrix_client):
        conversation = await llmrix_client.conversations.create("t")
        assert "hi" in await llmrix_client.chat(conversation.id).complete("hi")

The fixtures are async and need pytest-asyncio (or another plugin that runs
async fixtures). The server binds 127.0.0.1 on a free port; heartbeats come
every 0.5 s so tests see them without waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

import pytest

from ._client import LlmrixClient
from .devserver import DevServer

F = TypeVar("F", bound=Callable[..., Any])

try:
    import pytest_asyncio

    _register: Any = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - depends on the user's environment
    _register = pytest.fixture


def _fixture(func: F) -> F:
    return cast(F, _register(func))


@_fixture
async def llmrix_server() -> AsyncIterator[DevServer]:
    """A dev server on 127.0.0.1 for the duration of one test."""
    async with DevServer(heartbeat_interval=0.5) as server:
        yield server


@_fixture
async def llmrix_client(llmrix_server: DevServer) -> AsyncIterator[LlmrixClient]:
    """An `llmrix.LlmrixClient` bound to ``llmrix_server``; closed afterwards."""
    async with LlmrixClient(
        llmrix_server.base_url, api_key=llmrix_server.settings.api_key
    ) as client:
        yield client
