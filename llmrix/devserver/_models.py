"""Wire objects the dev server stores and the request bodies it accepts."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

Role = Literal["user", "assistant", "tool", "system"]


class Conversation(msgspec.Struct):
    """A conversation as returned by the conversation endpoints."""

    id: str
    title: str | None
    seq: int
    agent_id: str | None
    created_at: str
    updated_at: str


class ToolCall(msgspec.Struct):
    """One tool invocation recorded on a message."""

    id: str
    name: str
    args: dict[str, Any]


class Message(msgspec.Struct):
    """A stored conversation message."""

    seq: int
    id: str
    role: Role
    content: str | None
    tool_calls: list[ToolCall] | None


class CronTask(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A scheduled prompt; times are Unix seconds.

    ``thread_id``, ``user_id`` and ``channel`` are left out when unset rather than sent
    as ``null``: the official Python client reads them with ``dict.get(key, "")``.
    """

    id: str
    name: str
    prompt: str
    schedule_type: str
    schedule_expr: str
    status: str
    thread_id: str | None = None
    user_id: str | None = None
    channel: str | None = None
    last_run: float | None
    last_run_error: str | None
    last_run_output: str | None
    next_run: float | None
    created_at: float
    updated_at: float


class Mate(msgspec.Struct):
    """A team member of an agent."""

    name: str
    introduce: str = ""
    system_prompt: str = ""
    sort: int = 0


class Agent(msgspec.Struct):
    """An agent definition with an integer id."""

    id: int
    name: str
    type: Literal["solo", "team"]
    system_prompt: str
    model_id: str
    mcps: list[str]
    skills: list[str]
    metadata: dict[str, Any]
    introduce: str
    outlines: list[dict[str, Any]]


class Page(msgspec.Struct):
    """One page of a cursor-paginated listing."""

    items: list[Any]
    has_more: bool


class CreateConversationBody(msgspec.Struct):
    """Body of ``POST /conversations`` (TypeScript clients may leave the title out)."""

    title: str | None = None
    agent_id: str | None = None


class UpdateConversationBody(msgspec.Struct):
    """Body of ``PATCH /conversations/{id}``."""

    title: str | UnsetType | None = UNSET
    agent_id: str | UnsetType | None = UNSET


DecisionKind = Literal["approve", "reject", "modify"]


class HitlDecision(msgspec.Struct):
    """A human decision on a paused action.

    The TypeScript shape ``{"type", "feedback"}`` is read too: ``type`` stands in
    for ``decision`` and ``feedback`` for ``reason``.
    """

    decision: DecisionKind | None = None
    reason: str | None = None
    modified_args: dict[str, Any] | None = None
    type: DecisionKind | None = None
    feedback: str | None = None

    def __post_init__(self) -> None:
        self.decision = self.decision or self.type
        if self.decision is None:
            raise ValueError("a decision needs `decision` (or `type`)")
        self.reason = self.reason or self.feedback


class Attachment(msgspec.Struct):
    """A file attached to a chat message."""

    type: str
    data: str
    name: str | None = None


class ChatBody(msgspec.Struct):
    """Body of ``POST /conversations/{id}/chat``."""

    message: str
    agent_id: str | None = None
    metadata: dict[str, Any] | None = None
    hitl_decisions: list[HitlDecision] | None = None
    model: str | None = None
    thinking: bool | None = None
    attachments: list[Attachment] | None = None


class DecideBody(msgspec.Struct):
    """Body of ``POST /conversations/{id}/chat/hitl/decide``."""

    decisions: list[HitlDecision]


class EmptyBody(msgspec.Struct):
    """A ``{}`` body; unknown fields are ignored."""


class CreateCronBody(msgspec.Struct):
    """Body of ``POST /cron/tasks``."""

    name: str
    prompt: str
    schedule_expr: str
    schedule_type: Literal["cron", "interval"] = "cron"
    channel: str | None = None


class UpdateCronBody(msgspec.Struct):
    """Body of ``PUT /cron/tasks/{id}``."""

    name: str | UnsetType = UNSET
    prompt: str | UnsetType = UNSET
    schedule_expr: str | UnsetType = UNSET
    schedule_type: Literal["cron", "interval"] | UnsetType = UNSET
    channel: str | UnsetType | None = UNSET


class CreateAgentBody(msgspec.Struct):
    """Body of ``POST /agent``."""

    name: str
    type: Literal["solo", "team"] = "solo"
    system_prompt: str = ""
    model_id: str = ""
    mcps: list[str] = []
    skills: list[str] = []
    metadata: dict[str, Any] = {}
    introduce: str = ""
    outlines: list[dict[str, Any]] = []


class UpdateAgentBody(msgspec.Struct):
    """Body of ``PATCH /agent/{id}``."""

    name: str | UnsetType = UNSET
    type: Literal["solo", "team"] | UnsetType = UNSET
    system_prompt: str | UnsetType = UNSET
    model_id: str | UnsetType = UNSET
    mcps: list[str] | UnsetType = UNSET
    skills: list[str] | UnsetType = UNSET
    metadata: dict[str, Any] | UnsetType = UNSET
    introduce: str | UnsetType = UNSET
    outlines: list[dict[str, Any]] | UnsetType = UNSET


class MatesBody(msgspec.Struct):
    """Body of ``POST /agent/{id}/mates``."""

    mates: list[Mate]
