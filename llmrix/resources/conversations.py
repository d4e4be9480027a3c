"""``client.conversations``: conversations and their message history."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..models import (
    Conversation,
    ConversationCreateRequest,
    ConversationUpdateRequest,
    Cursor,
    Message,
    PageResult,
)
from ._base import Resource, paginate, refuse_mixing


class Conversations(Resource):
    """``/conversations`` endpoints."""

    async def create(
        self, title: str | ConversationCreateRequest, *, agent_id: str | None = None
    ) -> Conversation:
        """Start a conversation (pass a title, or a full request)."""
        if isinstance(title, ConversationCreateRequest):
            refuse_mixing(title, agent_id=agent_id)
            body = title
        else:
            body = ConversationCreateRequest(title=title, agent_id=agent_id)
        return await self._transport.request("POST", ("conversations",), Conversation, body=body)

    async def list(self, last_id: Cursor = 0, size: int = 20) -> PageResult[Conversation]:
        """One page of conversations; pass the last item's ``seq`` for the next."""
        return await self._transport.request(
            "GET",
            ("conversations",),
            PageResult[Conversation],
            params={"lastId": str(last_id), "size": str(size)},
        )

    def iter(self, size: int = 20) -> AsyncIterator[Conversation]:
        """Every conversation, page after page."""
        return paginate(lambda cursor: self.list(last_id=cursor, size=size))

    async def get(self, conversation_id: str) -> Conversation:
        """One conversation."""
        return await self._transport.request(
            "GET", ("conversations", conversation_id), Conversation
        )

    async def update(
        self,
        conversation_id: str,
        *,
        title: str | None = None,
        agent_id: str | None = None,
    ) -> Conversation:
        """Change the title or agent; fields left ``None`` are not sent."""
        return await self._transport.request(
            "PATCH",
            ("conversations", conversation_id),
            Conversation,
            body=ConversationUpdateRequest(title=title, agent_id=agent_id),
        )

    async def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages."""
        await self._transport.request("DELETE", ("conversations", conversation_id))

    async def messages(
        self, conversation_id: str, last_id: Cursor = 0, size: int = 20
    ) -> PageResult[Message]:
        """One page of a conversation's messages."""
        return await self._transport.request(
            "GET",
            ("conversations", conversation_id, "messages"),
            PageResult[Message],
            params={"lastId": str(last_id), "size": str(size)},
        )

    def iter_messages(self, conversation_id: str, size: int = 20) -> AsyncIterator[Message]:
        """Every message of a conversation, page after page."""
        return paginate(lambda cursor: self.messages(conversation_id, last_id=cursor, size=size))
