"""Request and response models of the REST API, as msgspec Structs.

Response models tolerate missing and ``null`` fields and ignore unknown ones.
Request models omit every field left unset. Update requests default their
fields to `UNSET` (not sent), so ``None`` can be sent as JSON ``null`` where the
protocol gives it a meaning: ``ConversationUpdateRequest(agent_id=None)``
unbinds a conversation's agent. Elsewhere a ``None`` field is not sent.

Requests are sent in the primary (Rust/Go/Python) shape of the protocol: a
title for every new conversation, HITL decisions as ``{"decision", "reason",
"modified_args"}``. The TypeScript variants (no title, ``{"type",
"feedback"}``) are for servers to tolerate, not for this SDK to send.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "UNSET",
    "Agent",
    "AgentCreateRequest",
    "AgentType",
    "AgentUpdateRequest",
    "Attachment",
    "ChatRequest",
    "Conversation",
    "ConversationCreateRequest",
    "ConversationUpdateRequest",
    "CronCreateRequest",
    "CronTask",
    "CronUpdateRequest",
    "HitlDecision",
    "Mate",
    "Message",
    "PageResult",
    "ScheduleType",
    "ToolCall",
    "UnsetType",
]

T = TypeVar("T")
ScheduleType = Literal["cron", "interval"]
"""How a cron task's ``schedule_expr`` is read: a cron expression or an interval."""
Cursor = int | str
"""A pagination cursor: an integer on some servers, a string on others."""


class _Request(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of request bodies: unset fields are left out of the JSON."""


class Conversation(msgspec.Struct, kw_only=True):
    """A conversation (thread)."""

    id: str
    title: str | None = None
    seq: Cursor = 0
    agent_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ToolCall(msgspec.Struct, kw_only=True):
    """A tool call recorded in a message."""

    id: str = ""
    name: str = ""
    args: dict[str, Any] = {}


class Message(msgspec.Struct, kw_only=True):
    """One stored message of a conversation."""

    seq: Cursor = 0
    id: str = ""
    role: str = ""
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class PageResult(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a cursor-paginated list."""

    items: list[T] = []
    has_more: bool = False


class ConversationCreateRequest(_Request):
    """Body of ``POST /conversations``."""

    title: str
    agent_id: str | None = None


class ConversationUpdateRequest(_Request):
    """Body of ``PATCH /conversations/{id}``; ``agent_id=None`` unbinds the agent."""

    title: str | UnsetType = UNSET
    agent_id: str | UnsetType | None = UNSET


class HitlDecision(_Request):
    """A human decision on a paused action."""

    decision: Literal["approve", "reject", "modify"]
    reason: str | None = None
    modified_args: dict[str, Any] | None = None

    @classmethod
    def approve(cls) -> HitlDecision:
        """Let the action run as proposed."""
        return cls(decision="approve")

    @classmethod
    def reject(cls, reason: str | None = None) -> HitlDecision:
        """Refuse the action, optionally saying why."""
        return cls(decision="reject", reason=reason)

    @classmethod
    def modify(cls, args: dict[str, Any]) -> HitlDecision:
        """Run the action with ``args`` instead of the proposed ones."""
        return cls(decision="modify", modified_args=args)


class Attachment(_Request):
    """A file sent with a chat message: ``data`` is base64 or a URL."""

    type: str
    data: str
    name: str | None = None


class ChatRequest(_Request):
    """Body of ``POST /conversations/{id}/chat``."""

    message: str
    agent_id: str | None = None
    metadata: dict[str, Any] | None = None
    hitl_decisions: list[HitlDecision] | None = None
    model: str | None = None
    thinking: bool | None = None
    attachments: list[Attachment] | None = None


class DecideRequest(_Request):
    """Body of ``POST /conversations/{id}/chat/hitl/decide``."""

    decisions: list[HitlDecision]


class CronTask(msgspec.Struct, kw_only=True):
    """A scheduled prompt. Times are Unix seconds."""

    id: str
    name: str | None = None
    prompt: str | None = None
    schedule_type: str | None = None
    schedule_expr: str | None = None
    status: str | None = None
    thread_id: str | None = None
    user_id: str | None = None
    channel: str | None = None
    last_run: float | None = None
    last_run_error: str | None = None
    last_run_output: str | None = None
    next_run: float | None = None
    created_at: float | None = None
    updated_at: float | None = None


class CronCreateRequest(_Request, omit_defaults=False):
    """Body of ``POST /cron/tasks``; ``schedule_type`` is always sent (default ``"cron"``)."""

    name: str
    prompt: str
    schedule_expr: str
    schedule_type: ScheduleType = "cron"
    channel: str | UnsetType = UNSET


class CronUpdateRequest(_Request):
    """Body of ``PUT /cron/tasks/{id}``: any of the create fields."""

    name: str | UnsetType = UNSET
    prompt: str | UnsetType = UNSET
    schedule_expr: str | UnsetType = UNSET
    schedule_type: ScheduleType | UnsetType = UNSET
    channel: str | UnsetType = UNSET


class Agent(msgspec.Struct, kw_only=True):
    """An agent definition (cloud deployments)."""

    id: int
    name: str = ""
    type: str = "solo"
    system_prompt: str | None = None
    model_id: str | None = None
    mcps: list[str] | None = None
    skills: list[str] | None = None
    metadata: dict[str, Any] | None = None
    introduce: str | None = None
    outlines: list[dict[str, Any]] | None = None


AgentType = Literal["solo", "team"]
"""A lone agent, or a team of mates."""


class _AgentFields(_Request):
    type: AgentType | UnsetType = UNSET
    system_prompt: str | UnsetType = UNSET
    model_id: str | UnsetType = UNSET
    mcps: list[str] | UnsetType = UNSET
    skills: list[str] | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET
    introduce: str | UnsetType = UNSET
    outlines: list[dict[str, Any]] | UnsetType = UNSET


class AgentCreateRequest(_AgentFields, kw_only=True):
    """Body of ``POST /agent``."""

    name: str


class AgentUpdateRequest(_AgentFields):
    """Body of ``PATCH /agent/{id}``: any agent fields."""

    name: str | UnsetType = UNSET


class Mate(msgspec.Struct, kw_only=True):
    """A member of a team agent."""

    name: str = ""
    introduce: str = ""
    system_prompt: str = ""
    sort: int = 0


class TaskList(msgspec.Struct):
    """Envelope ``{"tasks": [...]}``."""

    tasks: list[CronTask] | None = None


class AgentList(msgspec.Struct):
    """Envelope ``{"agents": [...]}``."""

    agents: list[Agent] | None = None


class AgentEnvelope(msgspec.Struct):
    """Envelope ``{"agent": {...}}``."""

    agent: Agent


class MateList(msgspec.Struct):
    """Envelope ``{"mates": [...]}``, both request and answer."""

    mates: list[Mate] | None = None
