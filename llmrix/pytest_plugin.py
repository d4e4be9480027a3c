"""pytest plugin: ``llmrix_server`` (a running dev server) and ``llmrix_client``.

Registered through the ``pytest11`` entry point, so installing ``llmrix[pytest]``
(pytest and pytest-asyncio) is enough, plus this in ``pyproject.toml``::

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "function"

Then::

    async def test_reply(llmrix_client):
        conversation = await llmrix_client.conversations.create("t")
        assert "hi" in await llmrix_client.chat(conversation.id).complete_text("hi")

The server binds 127.0.0.1 on a free port; heartbeats come every 0.5 s so tests
see them without waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

import pytest

from ._client import LlmrixClient
from .devserver import DevServer

F = TypeVar("F", bound=Callable[..., Any])
MISSING_ASYNCIO = (
    "llmrix's pytest fixtures are async and need pytest-asyncio: install the pytest extra,"
    " pip install 'llmrix[pytest]' (from a checkout of llmrix: pip install '.[pytest]')"
)

_async_fixture: Callable[[Any], Any] | None
try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - depends on the user's environment
    _async_fixture = None


def _fixture(func: F) -> F:
    if _async_fixture is not None:
        return cast(F, _async_fixture(func))

    def unavailable() -> None:  # pragma: no cover - depends on the user's environment
        pytest.fail(MISSING_ASYNCIO, pytrace=False)

    unavailable.__name__ = func.__name__
    unavailable.__doc__ = func.__doc__
    return cast(F, pytest.fixture(name=func.__name__)(unavailable))


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
