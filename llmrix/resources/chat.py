"""``client.chat(conversation_id)``: streamed turns, stop, and HITL decisions."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._options import RequestOptions, check_request_options, check_timeout
from .._transport import Transport
from .._urls import encode_segment
from ..events import StreamEvent
from ..models import UNSET, Attachment, ChatRequest, DecideRequest, HitlDecision, UnsetType
from ..snapshot import RunSnapshot
from ..streaming import ChatStream
from ._base import refuse_mixing

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._eventsource import EventSource

__all__ = ["Chat", "ChatOptions", "EventHandler"]

EventHandler = Callable[[StreamEvent], Awaitable[None] | None]
"""A callback for `Chat.send`: plain function or coroutine function."""


class ChatOptions(RequestOptions, total=False):
    """The keyword arguments of `Chat.stream`, taken by `complete` and `send` too."""

    agent_id: str | None
    metadata: dict[str, Any] | None
    hitl_decisions: Sequence[HitlDecision] | None
    model: str | None
    thinking: bool | None
    attachments: Sequence[Attachment] | None
    stream_idle_timeout: float | None
    keep_text: bool


class Chat:
    """Chat operations on one conversation. Cheap: create one whenever needed.

    Every method takes the per-call options of `RequestOptions`
    (``extra_headers``, ``extra_query``, ``extra_body``, ``timeout``) as
    keyword arguments; they apply to that call only. A turn is sent with a
    message and keyword fields, or with a ready-made `ChatRequest`.
    """

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
        message: str | ChatRequest,
        *,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        hitl_decisions: Sequence[HitlDecision] | None = None,
        model: str | None = None,
        thinking: bool | None = None,
        attachments: Sequence[Attachment] | None = None,
        stream_idle_timeout: float | UnsetType | None = UNSET,
        keep_text: bool = True,
        **options: Unpack[RequestOptions],
    ) -> ChatStream:
        """Send a turn; use the result with ``async with`` and ``async for``.

        ``stream_idle_timeout`` replaces the client's for this stream;
        ``keep_text=False`` stops ``stream.snapshot`` keeping the reply's text
        (for very long streams; ``final_text()`` then raises).
        """
        fields = {
            "agent_id": agent_id,
            "metadata": metadata,
            "hitl_decisions": hitl_decisions,
            "model": model,
            "thinking": thinking,
            "attachments": attachments,
        }
        if isinstance(message, ChatRequest):
            refuse_mixing(message, **fields)
            request = message
        else:
            request = ChatRequest(
                message=message,
                agent_id=agent_id,
                metadata=metadata,
                hitl_decisions=list(hitl_decisions) if hitl_decisions is not None else None,
                model=model,
                thinking=thinking,
                attachments=list(attachments) if attachments is not None else None,
            )
        return self.stream_request(
            request, stream_idle_timeout=stream_idle_timeout, keep_text=keep_text, **options
        )

    def stream_request(
        self,
        request: ChatRequest,
        *,
        stream_idle_timeout: float | UnsetType | None = UNSET,
        keep_text: bool = True,
        **options: Unpack[RequestOptions],
    ) -> ChatStream:
        """Like `stream`, with a ready-made `ChatRequest`."""
        if not isinstance(request, ChatRequest):
            raise TypeError(f"request must be a ChatRequest, got {type(request).__name__}")
        if request.hitl_decisions is not None and not request.hitl_decisions:
            raise ValueError("hitl_decisions, when given, needs at least one HitlDecision")
        if isinstance(stream_idle_timeout, UnsetType):
            stream_idle_timeout = self._transport.options.stream_idle_timeout
        check_timeout("stream_idle_timeout", stream_idle_timeout)
        check_request_options(options)
        connect = functools.partial(self._connect, idle_timeout=stream_idle_timeout, call=options)
        return ChatStream(
            request,
            connect=connect,
            stop=self.stop,
            decide=self.decide,
            keep_text=keep_text,
            undecided_warning=self._transport.options.undecided_warning,
        )

    async def _connect(
        self, request: ChatRequest, *, idle_timeout: float | None, call: RequestOptions
    ) -> EventSource:
        return await self._transport.open_stream(
            self._path("chat"), request, idle_timeout=idle_timeout, call=call
        )

    async def complete(
        self, message: str | ChatRequest, **options: Unpack[ChatOptions]
    ) -> RunSnapshot:
        """Run a turn to the end and return its final `RunSnapshot`.

        Takes what `stream` takes. Raises `StreamError` if the run fails and
        `RunPausedError` if it stops for a human decision (see
        `ChatStream.until_done`).
        """
        async with self.stream(message, **options) as stream:
            return await stream.until_done()

    async def complete_text(
        self, message: str | ChatRequest, **options: Unpack[ChatOptions]
    ) -> str:
        """Run a turn to the end and return the assistant's whole text (see `complete`)."""
        async with self.stream(message, **options) as stream:
            return await stream.final_text()

    async def send(
        self, message: str | ChatRequest, handler: EventHandler, **options: Unpack[ChatOptions]
    ) -> None:
        """Callback style: call ``handler`` for every event of the turn."""
        async with self.stream(message, **options) as stream:
            async for event in stream:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result

    async def send_request(
        self, request: ChatRequest, handler: EventHandler, **options: Unpack[ChatOptions]
    ) -> None:
        """Callback style with a ready-made `ChatRequest`."""
        await self.send(request, handler, **options)

    async def stop(self, **options: Unpack[RequestOptions]) -> None:
        """Cancel the conversation's running turn (harmless when none runs)."""
        await self._transport.request(
            "POST",
            self._path("chat", "stop"),
            body={},
            idempotent=True,
            control=True,
            call=options,
        )

    async def decide(
        self, decisions: Sequence[HitlDecision], **options: Unpack[RequestOptions]
    ) -> None:
        """Answer a paused run's interrupt."""
        if not decisions:
            raise ValueError("decide() needs at least one HitlDecision")
        await self._transport.request(
            "POST",
            self._path("chat", "hitl", "decide"),
            body=DecideRequest(decisions=list(decisions)),
            control=True,
            call=options,
        )
