"""``LlmrixClient``: the entry point."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp

from ._transport import SessionPool, Transport, parse_base_url
from .resources import Agents, Chat, Conversations, Cron
from .sse import DEFAULT_MAX_FRAME_BYTES

__all__ = ["LlmrixClient"]


class LlmrixClient:
    """Async client for the llmrix Open API v1.

    ``base_url`` and ``api_key`` default to ``LLMRIX_BASE_URL`` and
    ``LLMRIX_API_KEY``. One aiohttp session, created on first use, serves every
    call; pass ``session`` to use your own (the client will not close it).
    ``timeout`` bounds each attempt of a non-streaming call; a stream has no total limit but
    fails after ``stream_idle_timeout`` seconds without a byte. A stream frame
    larger than ``max_frame_bytes`` is refused. ``max_connections`` caps the
    pool (each open stream holds one; ``stop()``/``decide()`` need another).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = 60.0,
        connect_timeout: float | None = 10.0,
        stream_idle_timeout: float | None = 60.0,
        max_retries: int = 2,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("LLMRIX_BASE_URL")
        if not base_url:
            raise ValueError("no base_url given and LLMRIX_BASE_URL is not set")
        if api_key is None:
            api_key = os.environ.get("LLMRIX_API_KEY") or None
        self._bind(
            Transport(
                base_url=parse_base_url(base_url),
                api_key=api_key,
                timeout=timeout,
                connect_timeout=connect_timeout,
                stream_idle_timeout=stream_idle_timeout,
                max_retries=max_retries,
                max_frame_bytes=max_frame_bytes,
                pool=SessionPool(session, max_connections),
                headers=headers,
            )
        )

    def _bind(self, transport: Transport) -> None:
        self._transport = transport
        self.conversations = Conversations(transport)
        self.cron = Cron(transport)
        self.agents = Agents(transport)

    def with_options(self, **options: Any) -> LlmrixClient:
        """A client with some settings changed, sharing this client's session.

        Accepts ``api_key``, ``timeout``, ``connect_timeout``,
        ``stream_idle_timeout``, ``max_retries``, ``max_frame_bytes`` and
        ``headers`` (merged with the current ones)::

            await client.with_options(max_retries=5, timeout=120).cron.list()
        """
        clone = object.__new__(LlmrixClient)
        clone._bind(self._transport.copy(**options))
        return clone

    @property
    def base_url(self) -> str:
        """The server root the client talks to (without any user info)."""
        return str(self._transport.base_url.with_user(None))

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use, once one exists."""
        return self._transport.session_or_none

    def chat(self, conversation_id: str) -> Chat:
        """Chat operations on one conversation."""
        return Chat(self._transport, conversation_id)

    async def close(self) -> None:
        """Close the session this client created; later calls fail."""
        await self._transport.close()

    async def __aenter__(self) -> LlmrixClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"LlmrixClient(base_url={self.base_url!r})"
