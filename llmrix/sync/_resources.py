"""Sync resources: one line per method, each typed from its async twin."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from .. import resources as aio
from ..events import StreamEvent
from ..models import ChatRequest
from ._stream import ChatStream, streaming
from ._wrap import Bound, blocking, iterating, twin

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import RequestOptions
    from ..resources.chat import ChatOptions

EventHandler = Callable[[StreamEvent], object]
"""A callback for `Chat.send`, called in the caller's thread."""


class Conversations(Bound[aio.Conversations]):
    """``client.conversations``: conversations and their message history."""

    create: Final = blocking(twin(aio.Conversations).create)
    list: Final = blocking(twin(aio.Conversations).list)
    iter: Final = iterating(twin(aio.Conversations).iter)
    get: Final = blocking(twin(aio.Conversations).get)
    update: Final = blocking(twin(aio.Conversations).update)
    delete: Final = blocking(twin(aio.Conversations).delete)
    messages: Final = blocking(twin(aio.Conversations).messages)
    iter_messages: Final = iterating(twin(aio.Conversations).iter_messages)


class Cron(Bound[aio.Cron]):
    """``client.cron``: scheduled prompts."""

    list: Final = blocking(twin(aio.Cron).list)
    create: Final = blocking(twin(aio.Cron).create)
    get: Final = blocking(twin(aio.Cron).get)
    update: Final = blocking(twin(aio.Cron).update)
    pause: Final = blocking(twin(aio.Cron).pause)
    resume: Final = blocking(twin(aio.Cron).resume)
    delete: Final = blocking(twin(aio.Cron).delete)


class Agents(Bound[aio.Agents]):
    """``client.agents``: agents and team mates (cloud deployments; others answer 503)."""

    list: Final = blocking(twin(aio.Agents).list)
    create: Final = blocking(twin(aio.Agents).create)
    get: Final = blocking(twin(aio.Agents).get)
    update: Final = blocking(twin(aio.Agents).update)
    delete: Final = blocking(twin(aio.Agents).delete)
    list_mates: Final = blocking(twin(aio.Agents).list_mates)
    save_mates: Final = blocking(twin(aio.Agents).save_mates)


class Chat(Bound[aio.Chat]):
    """``client.chat(conversation_id)``: streamed turns, stop, and HITL decisions."""

    stream: Final = streaming(twin(aio.Chat).stream)
    stream_request: Final = streaming(twin(aio.Chat).stream_request)
    complete: Final = blocking(twin(aio.Chat).complete)
    complete_text: Final = blocking(twin(aio.Chat).complete_text)
    stop: Final = blocking(twin(aio.Chat).stop)
    decide: Final = blocking(twin(aio.Chat).decide)

    @property
    def conversation_id(self) -> str:
        """The conversation this chat talks to."""
        return self._target.conversation_id

    def send(
        self, message: str | ChatRequest, handler: EventHandler, **options: Unpack[ChatOptions]
    ) -> None:
        """Callback style: call ``handler`` (in this thread) for every event of the turn."""
        self._drive(self.stream(message, **options), handler)

    def send_request(
        self, request: ChatRequest, handler: EventHandler, **options: Unpack[RequestOptions]
    ) -> None:
        """Callback style with a ready-made `ChatRequest`."""
        self._drive(self.stream_request(request, **options), handler)

    @staticmethod
    def _drive(stream: ChatStream, handler: EventHandler) -> None:
        with stream:
            for event in stream:
                handler(event)


__all__: Sequence[str] = ["Agents", "Chat", "Conversations", "Cron", "EventHandler"]
