"""The sync ``LlmrixClient``: the async client driven from a private loop thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from .. import _client as aio
from .._loop import EventLoopChoice, loop_factory
from .._options import DEFAULT_MAX_RESPONSE_BYTES, ClientOptions
from .._retry import RetryPolicy
from .._suggest import checked_keywords
from ..events import Event
from ..sse import DEFAULT_MAX_FRAME_BYTES
from ._portal import Portal
from ._resources import Agents, Chat, Conversations, Cron

if TYPE_CHECKING:
    import aiohttp
    from typing_extensions import Unpack

    from .._options import OptionChanges


class LlmrixClient:
    """Blocking client for the llmrix Open API v1, with the async client's arguments.

    Every call runs the async `llmrix.LlmrixClient` on one event loop in a private
    daemon thread, so it is safe to share between threads. ``close()`` (or leaving
    ``with``) closes the session and joins the thread; calls and streams after
    that raise `ClientClosedError`, as on the async client. An aiohttp
    ``session`` cannot be passed: it belongs to the loop that made it.

    ``event_loop`` is the kind of loop that thread runs: ``"auto"`` (uvloop when it
    is installed, as with ``pip install 'llmrix[speed]'``, unless the
    ``LLMRIX_EVENT_LOOP`` environment variable says ``asyncio``), ``"asyncio"``
    or ``"uvloop"``.
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
        headers: Mapping[str, str] | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
        event_loop: EventLoopChoice = "auto",
    ) -> None:
        new_loop = loop_factory(event_loop)
        client = aio.LlmrixClient(
            base_url,
            api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            stream_idle_timeout=stream_idle_timeout,
            undecided_warning=undecided_warning,
            max_retries=max_retries,
            retry=retry,
            max_frame_bytes=max_frame_bytes,
            max_response_bytes=max_response_bytes,
            max_connections=max_connections,
            trust_env=trust_env,
            headers=headers,
            trace_configs=trace_configs,
        )
        self._bind(Portal(client.close, new_loop), client, owner=True)

    def _bind(self, portal: Portal, client: aio.LlmrixClient, *, owner: bool) -> None:
        self._portal = portal
        self._client = client
        self._owner = owner
        self.conversations = Conversations(portal, client.conversations)
        self.cron = Cron(portal, client.cron)
        self.agents = Agents(portal, client.agents)

    def with_options(self, **changes: Unpack[OptionChanges]) -> LlmrixClient:
        """A client with some settings changed, sharing this one's loop and session.

        Takes what `llmrix.LlmrixClient.with_options` takes. Closing the copy does
        nothing; close the client it came from.
        """
        clone = object.__new__(LlmrixClient)
        clone._bind(self._portal, self._client.with_options(**changes), owner=False)
        return clone

    @property
    def options(self) -> ClientOptions:
        """This client's settings."""
        return self._client.options

    @property
    def base_url(self) -> str:
        """The server root the client talks to (without any user info)."""
        return self._client.base_url

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._portal.closed

    @property
    def is_closed(self) -> bool:
        """Whether the client was closed (as on the async client)."""
        return self._portal.closed

    def register_event(self, *event_types: type[Event]) -> None:
        """Decode ``event_types`` on this client's streams (see `llmrix.LlmrixClient`)."""
        self._client.register_event(*event_types)

    def chat(self, conversation_id: str) -> Chat:
        """Chat operations on one conversation."""
        return Chat(self._portal, self._client.chat(conversation_id))

    def close(self) -> None:
        """Close the session, stop the loop and join its thread; idempotent.

        On a client made by `with_options` this does nothing.
        """
        if self._owner:
            self._portal.close()

    def __enter__(self) -> LlmrixClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"llmrix.sync.LlmrixClient(base_url={self.base_url!r})"
