"""``client.agents``: agents and team mates (cloud deployments; others answer 503)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from msgspec import UNSET, UnsetType

from ..models import (
    Agent,
    AgentCreateRequest,
    AgentEnvelope,
    AgentList,
    AgentType,
    AgentUpdateRequest,
    Mate,
    MateList,
)
from ._base import Resource, request_body

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import RequestOptions


class Agents(Resource):
    """``/agent`` endpoints.

    Deployments without agents answer 503: that raises `ServiceUnavailableError`
    at once (it is retried only when the answer carries ``Retry-After``).
    """

    async def list(self, **options: Unpack[RequestOptions]) -> builtins.list[Agent]:
        """All agents."""
        answer = await self._transport.request("GET", ("agent",), AgentList, call=options)
        return answer.agents or []

    async def create(
        self,
        name: str | AgentCreateRequest,
        *,
        type: AgentType | UnsetType = UNSET,
        system_prompt: str | UnsetType = UNSET,
        model_id: str | UnsetType = UNSET,
        mcps: Sequence[str] | UnsetType = UNSET,
        skills: Sequence[str] | UnsetType = UNSET,
        metadata: dict[str, Any] | UnsetType = UNSET,
        introduce: str | UnsetType = UNSET,
        outlines: Sequence[dict[str, Any]] | UnsetType = UNSET,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Create an agent: a name and any agent fields, or a full request."""
        request = name if isinstance(name, AgentCreateRequest) else None
        body = request_body(
            AgentCreateRequest,
            request,
            name=UNSET if request is not None else name,
            type=type,
            system_prompt=system_prompt,
            model_id=model_id,
            mcps=_listed(mcps),
            skills=_listed(skills),
            metadata=metadata,
            introduce=introduce,
            outlines=_listed(outlines),
        )
        answer = await self._transport.request(
            "POST", ("agent",), AgentEnvelope, body=body, call=options
        )
        return answer.agent

    async def get(self, agent_id: int, **options: Unpack[RequestOptions]) -> Agent:
        """One agent."""
        answer = await self._transport.request(
            "GET", ("agent", str(agent_id)), AgentEnvelope, call=options
        )
        return answer.agent

    async def update(
        self,
        agent_id: int,
        request: AgentUpdateRequest | None = None,
        *,
        name: str | UnsetType = UNSET,
        type: AgentType | UnsetType = UNSET,
        system_prompt: str | UnsetType = UNSET,
        model_id: str | UnsetType = UNSET,
        mcps: Sequence[str] | UnsetType = UNSET,
        skills: Sequence[str] | UnsetType = UNSET,
        metadata: dict[str, Any] | UnsetType = UNSET,
        introduce: str | UnsetType = UNSET,
        outlines: Sequence[dict[str, Any]] | UnsetType = UNSET,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Change an agent; only the fields given are sent."""
        body = request_body(
            AgentUpdateRequest,
            request,
            name=name,
            type=type,
            system_prompt=system_prompt,
            model_id=model_id,
            mcps=_listed(mcps),
            skills=_listed(skills),
            metadata=metadata,
            introduce=introduce,
            outlines=_listed(outlines),
        )
        answer = await self._transport.request(
            "PATCH", ("agent", str(agent_id)), AgentEnvelope, body=body, call=options
        )
        return answer.agent

    async def delete(self, agent_id: int, **options: Unpack[RequestOptions]) -> None:
        """Delete an agent."""
        await self._transport.request("DELETE", ("agent", str(agent_id)), call=options)

    async def list_mates(
        self, agent_id: int, **options: Unpack[RequestOptions]
    ) -> builtins.list[Mate]:
        """The mates of a team agent."""
        answer = await self._transport.request(
            "GET", ("agent", str(agent_id), "mates"), MateList, call=options
        )
        return answer.mates or []

    async def save_mates(
        self, agent_id: int, mates: Sequence[Mate], **options: Unpack[RequestOptions]
    ) -> builtins.list[Mate]:
        """Replace all mates of a team agent; returns the saved list."""
        answer = await self._transport.request(
            "POST",
            ("agent", str(agent_id), "mates"),
            MateList,
            body=MateList(mates=builtins.list(mates)),
            idempotent=True,
            call=options,
        )
        return answer.mates or []


def _listed(values: Sequence[Any] | UnsetType) -> builtins.list[Any] | UnsetType:
    return values if isinstance(values, UnsetType) else builtins.list(values)
