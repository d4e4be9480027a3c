"""``LlmrixClient``: the entry point."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from ._logs import setup_from_env
from ._options import DEFAULT_MAX_RESPONSE_BYTES, ClientOptions, OptionChanges
from ._otel import telemetry_for
from ._pool import SessionPool
from ._retry import RetryPolicy
from ._suggest import checked_keywords
from ._transport import Transport
from .events import Event
from .resources import Agents, Chat, Conversations, Cron
from .sse import DEFAULT_MAX_FRAME_BYTES

if TYPE_CHECKING:
    import aiohttp
    from typing_extensions import Unpack

__all__ = ["LlmrixClient"]


class LlmrixClient:
    """Async client for the llmrix Open API v1.

    ``base_url`` and ``api_key`` default to ``LLMRIX_BASE_URL`` and
    ``LLMRIX_API_KEY``. One aiohttp session, created on first use, serves every
    call; pass ``session`` to use your own (the client will not close it).

    ``timeout`` bounds each attempt of a call, from waiting for a free connection to
    the last byte of the answer, and the opening of a stream up to its headers;
    ``connect_timeout`` bounds establishing one socket. A stream has no total limit:
    it fails after ``stream_idle_timeout`` seconds of waiting for a byte (time the
    caller spends between events does not count). A stream waiting
    ``undecided_warning`` seconds at an interrupt nobody answered logs one warning
    (``None``: never). ``max_connections`` caps the calls and streams that hold a
    connection at once; more wait their turn within ``timeout``. ``stop()`` and
    ``decide()`` have a few connections of their own, so they work while every slot
    holds a stream. ``retry`` (or just ``max_retries``) says which failures are
    retried; ``max_frame_bytes`` and ``max_response_bytes`` cap a stream frame and a
    call's answer. Proxy environment variables (``HTTPS_PROXY``, ``NO_PROXY``...)
    are honoured unless ``trust_env=False``. ``trace_configs`` (aiohttp
    ``TraceConfig`` objects) are given to the session the client creates, for
    tracing. ``LLMRIX_LOG=info`` (or ``debug``) prints the ``llmrix`` logger: one
    line per call with its status, time and retries.
    """

    conversations: Conversations
    """Conversations and their message history."""
    cron: Cron
    """Scheduled prompts."""
    agents: Agents
    """Agents and team mates (cloud deployments)."""

    @checked_keywords("LlmrixClient option")
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = 60.0,
        connect_timeout: float | None = 10.0,
        stream_idle_timeout: float | None = 60.0,
        undecided_warning: float | None = 30.0,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_connections: int = 100,
        trust_env: bool = True,
        session: aiohttp.ClientSession | None = None,
        headers: Mapping[str, str] | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        otel: bool = True,
        tracer_provider: object | None = None,
        meter_provider: object | None = None,
        otel_capture_content: bool | None = None,
    ) -> None:
        setup_from_env()
        base_url = base_url or os.environ.get("LLMRIX_BASE_URL")
        if not base_url:
            raise ValueError("no base_url given and LLMRIX_BASE_URL is not set")
        if api_key is None:
            api_key = os.environ.get("LLMRIX_API_KEY") or None
        options = ClientOptions.build(
            base_url,
            api_key=api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            stream_idle_timeout=stream_idle_timeout,
            undecided_warning=undecided_warning,
            retry=retry or RetryPolicy(),
            max_frame_bytes=max_frame_bytes,
            max_response_bytes=max_response_bytes,
            max_connections=max_connections,
            trust_env=trust_env,
            headers=headers or {},
        )
        if max_retries is not None:
            options = options.replace(max_retries=max_retries)
        pool = SessionPool(
            max_connections=max_connections,
            trust_env=trust_env,
            session=session,
            trace_configs=trace_configs or (),
        )
        telemetry = telemetry_for(
            options.base_url,
            enabled=otel,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            capture_content=otel_capture_content,
        )
        self._bind(Transport(options, pool, telemetry=telemetry), owner=True)

    def _bind(self, transport: Transport, *, owner: bool) -> None:
        self._transport = transport
        self._owner = owner
        self.conversations = Conversations(transport)
        self.cron = Cron(transport)
        self.agents = Agents(transport)

    @property
    def options(self) -> ClientOptions:
        """This client's settings."""
        return self._transport.options

    def with_options(self, **changes: Unpack[OptionChanges]) -> LlmrixClient:
        """A client with some settings changed, sharing this client's session.

        ``headers`` are merged with the current ones. The copy never closes
        the shared session: closing it (or leaving ``async with`` on it) is a
        no-op; close the client it came from.

        Example: ``await client.with_options(max_retries=5, timeout=120).cron.list()``
        """
        clone = object.__new__(LlmrixClient)
        clone._bind(self._transport.with_options(self.options.replace(**changes)), owner=False)
        return clone

    @property
    def base_url(self) -> str:
        """The server root the client talks to (without any user info)."""
        return str(self.options.base_url.with_user(None))

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use, once one exists."""
        return self._transport.pool.session_or_none

    @property
    def is_closed(self) -> bool:
        """Whether the session this client uses was closed."""
        return self._transport.pool.closed

    def register_event(self, *event_types: type[Event]) -> None:
        """Decode ``event_types`` (your `Event` subclasses) on this client's streams.

        They are yielded typed instead of as `UnknownEvent`, decoded on the same
        fast route as the built-in events. The registration holds for this client
        and every client ``with_options`` derived or derives from it::

            class AuditEvent(Event, tag="audit_log"):
                actor: str = ""

            client.register_event(AuditEvent)
        """
        self._transport.events.register(*event_types)

    def chat(self, conversation_id: str) -> Chat:
        """Chat operations on one conversation."""
        return Chat(self._transport, conversation_id)

    async def close(self) -> None:
        """End every call and stream in flight and close the session this client created.

        On a client made by `with_options` this does nothing. From another
        event loop than the one still using the client it raises
        `LlmrixError` and changes nothing.
        """
        if self._owner:
            await self._transport.pool.close()

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
