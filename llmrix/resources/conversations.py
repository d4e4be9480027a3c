"""``client.conversations``: conversations and their message history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from msgspec import UNSET, UnsetType

from ..models import (
    Conversation,
    ConversationCreateRequest,
    ConversationUpdateRequest,
    Cursor,
    Message,
    PageResult,
)
from ._base import Resource, paginate, request_body

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import RequestOptions


class Conversations(Resource):
    """``/conversations`` endpoints."""

    async def create(
        self,
        title: str | ConversationCreateRequest,
        *,
        agent_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Conversation:
        """Start a conversation: a title (and an agent), or a full request."""
        if isinstance(title, ConversationCreateRequest):
            body = request_body(ConversationCreateRequest, title, agent_id=agent_id)
        else:
            body = ConversationCreateRequest(title=title, agent_id=agent_id)
        return await self._transport.request(
            "POST", ("conversations",), Conversation, body=body, call=options
        )

    async def list(
        self, *, last_id: Cursor = 0, size: int = 20, **options: Unpack[RequestOptions]
    ) -> PageResult[Conversation]:
        """One page of conversations; pass the last item's ``seq`` for the next."""
        return await self._transport.request(
            "GET",
            ("conversations",),
            PageResult[Conversation],
            params={"lastId": str(last_id), "size": str(size)},
            call=options,
        )

    def iter(
        self, *, size: int = 20, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[Conversation]:
        """Every conversation, page after page."""
        return paginate(lambda cursor: self.list(last_id=cursor, size=size, **options))

    async def get(self, conversation_id: str, **options: Unpack[RequestOptions]) -> Conversation:
        """One conversation."""
        return await self._transport.request(
            "GET", ("conversations", conversation_id), Conversation, call=options
        )

    async def update(
        self,
        conversation_id: str,
        request: ConversationUpdateRequest | None = None,
        *,
        title: str | UnsetType = UNSET,
        agent_id: str | UnsetType | None = UNSET,
        **options: Unpack[RequestOptions],
    ) -> Conversation:
        """Change the title or the agent; only the fields given are sent.

        ``agent_id=None`` sends ``null``: the conversation is unbound from its agent.
        """
        body = request_body(ConversationUpdateRequest, request, title=title, agent_id=agent_id)
        return await self._transport.request(
            "PATCH", ("conversations", conversation_id), Conversation, body=body, call=options
        )

    async def delete(self, conversation_id: str, **options: Unpack[RequestOptions]) -> None:
        """Delete a conversation and its messages."""
        await self._transport.request("DELETE", ("conversations", conversation_id), call=options)

    async def messages(
        self,
        conversation_id: str,
        *,
        last_id: Cursor = 0,
        size: int = 20,
        **options: Unpack[RequestOptions],
    ) -> PageResult[Message]:
        """One page of a conversation's messages."""
        return await self._transport.request(
            "GET",
            ("conversations", conversation_id, "messages"),
            PageResult[Message],
            params={"lastId": str(last_id), "size": str(size)},
            call=options,
        )

    def iter_messages(
        self, conversation_id: str, *, size: int = 20, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[Message]:
        """Every message of a conversation, page after page."""
        return paginate(
            lambda cursor: self.messages(conversation_id, last_id=cursor, size=size, **options)
        )
