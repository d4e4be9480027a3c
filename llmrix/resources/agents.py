"""``client.agents``: agents and team mates (cloud deployments; others answer 503)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from ..models import (
    Agent,
    AgentCreateRequest,
    AgentEnvelope,
    AgentList,
    AgentUpdateRequest,
    Mate,
    MateList,
)
from ._base import Resource, refuse_mixing


class Agents(Resource):
    """``/agent`` endpoints."""

    async def list(self) -> builtins.list[Agent]:
        """All agents."""
        answer = await self._transport.request("GET", ("agent",), AgentList)
        return answer.agents or []

    async def create(self, name: str | AgentCreateRequest, **fields: Any) -> Agent:
        """Create an agent (pass a name and any agent fields, or a full request)."""
        if isinstance(name, AgentCreateRequest):
            refuse_mixing(name, **fields)
            body = name
        else:
            body = AgentCreateRequest(name=name, **fields)
        return (await self._transport.request("POST", ("agent",), AgentEnvelope, body=body)).agent

    async def get(self, agent_id: int) -> Agent:
        """One agent."""
        return (await self._transport.request("GET", ("agent", str(agent_id)), AgentEnvelope)).agent

    async def update(
        self, agent_id: int, request: AgentUpdateRequest | None = None, **fields: Any
    ) -> Agent:
        """Change an agent; only the fields given are sent."""
        refuse_mixing(request, **fields)
        body = request or AgentUpdateRequest(**fields)
        answer = await self._transport.request(
            "PATCH", ("agent", str(agent_id)), AgentEnvelope, body=body
        )
        return answer.agent

    async def delete(self, agent_id: int) -> None:
        """Delete an agent."""
        await self._transport.request("DELETE", ("agent", str(agent_id)))

    async def list_mates(self, agent_id: int) -> builtins.list[Mate]:
        """The mates of a team agent."""
        answer = await self._transport.request("GET", ("agent", str(agent_id), "mates"), MateList)
        return answer.mates or []

    async def save_mates(self, agent_id: int, mates: Sequence[Mate]) -> builtins.list[Mate]:
        """Replace all mates of a team agent; returns the saved list."""
        answer = await self._transport.request(
            "POST",
            ("agent", str(agent_id), "mates"),
            MateList,
            body=MateList(mates=builtins.list(mates)),
            idempotent=True,
        )
        return answer.mates or []
