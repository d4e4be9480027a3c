"""``client.chat(conversation_id)``: streamed turns, stop, and HITL decisions."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._options import check_timeout
from .._transport import Transport
from .._urls import encode_segment
from ..events import StreamEvent
from ..models import Attachment, ChatRequest, DecideRequest, HitlDecision
from ..streaming import ChatStream

if TYPE_CHECKING:
    from .._eventsource import EventSource

EventHandler = Callable[[StreamEvent], Awaitable[None] | None]
"""A callback for `Chat.send`: plain function or coroutine function."""


class _Default:
    def __repr__(self) -> str:
        return "<client default>"


CLIENT_DEFAULT: Any = _Default()


class Chat:
    """Chat operations on one conversation. Cheap: create one whenever needed."""

    def __init__(self, transport: Transport, conversation_id: str) -> None:
        encode_segment(conversation_id)
        self._transport = transport
        self.conversation_id = conversation_id

    def __repr__(self) -> str:
        return f"Chat(conversation_id={self.conversation_id!r})"

    def _path(self, *tail: str) -> tuple[str, ...]:
        return ("conversations", self.conversation_id, *tail)

    def stream(
        self,
        message: str,
        *,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        hitl_decisions: Sequence[HitlDecision] | None = None,
        model: str | None = None,
        thinking: bool | None = None,
        attachments: Sequence[Attachment] | None = None,
        stream_idle_timeout: float | None = CLIENT_DEFAULT,
    ) -> ChatStream:
        """Send ``message``; use the result with ``async with`` and ``async for``."""
        if hitl_decisions is not None and not hitl_decisions:
            raise ValueError("hitl_decisions, when given, needs at least one HitlDecision")
        request = ChatRequest(
            message=message,
            agent_id=agent_id,
            metadata=metadata,
            hitl_decisions=list(hitl_decisions) if hitl_decisions is not None else None,
            model=model,
            thinking=thinking,
            attachments=list(attachments) if attachments is not None else None,
        )
        return self.stream_request(request, stream_idle_timeout=stream_idle_timeout)

    def stream_request(
        self, request: ChatRequest, *, stream_idle_timeout: float | None = CLIENT_DEFAULT
    ) -> ChatStream:
        """Like `stream`, with a ready-made `ChatRequest`."""
        if stream_idle_timeout is CLIENT_DEFAULT:
            stream_idle_timeout = self._transport.options.stream_idle_timeout
        check_timeout("stream_idle_timeout", stream_idle_timeout)
        connect = functools.partial(self._connect, idle_timeout=stream_idle_timeout)
        return ChatStream(request, connect=connect, stop=self.stop, decide=self.decide)

    async def _connect(self, request: ChatRequest, *, idle_timeout: float | None) -> EventSource:
        return await self._transport.open_stream(
            self._path("chat"), request, idle_timeout=idle_timeout
        )

    async def complete(self, message: str, **options: Any) -> str:
        """Run a turn to the end and return the assistant's whole text."""
        async with self.stream(message, **options) as stream:
            return await stream.final_text()

    async def send(self, message: str, handler: EventHandler, **options: Any) -> None:
        """Callback style: call ``handler`` for every event of the turn."""
        await self._drive(self.stream(message, **options), handler)

    async def send_request(self, request: ChatRequest, handler: EventHandler) -> None:
        """Callback style with a ready-made `ChatRequest`."""
        await self._drive(self.stream_request(request), handler)

    @staticmethod
    async def _drive(stream: ChatStream, handler: EventHandler) -> None:
        async with stream:
            async for event in stream:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result

    async def stop(self) -> None:
        """Cancel the conversation's running turn (harmless when none runs)."""
        await self._transport.request(
            "POST", self._path("chat", "stop"), body={}, idempotent=True, control=True
        )

    async def decide(self, decisions: Sequence[HitlDecision]) -> None:
        """Answer a paused run's interrupt."""
        if not decisions:
            raise ValueError("decide() needs at least one HitlDecision")
        await self._transport.request(
            "POST",
            self._path("chat", "hitl", "decide"),
            body=DecideRequest(decisions=list(decisions)),
            control=True,
        )
