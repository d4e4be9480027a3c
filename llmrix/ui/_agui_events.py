"""AG-UI 1.0 events as msgspec Structs (camelCase on the wire, unset fields left out).

Only the events and fields the relay sends; names and shapes follow the AG-UI
1.0 schema (``spec/1.0/schema.json``), checked in the tests against the
``ag-ui-protocol`` models.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["PROTOCOL_VERSION", "AguiEvent", "Interrupt", "Outcome"]

PROTOCOL_VERSION = "1.0"
"""The AG-UI revision these events follow (sent as RUN_STARTED.protocolVersion)."""


class _Wire(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True, gc=False):
    """camelCase names; a field left at its default is not sent."""


class AguiEvent(_Wire, tag_field="type"):
    """Base of the AG-UI events the relay sends."""

    metadata: dict[str, Any] | None = None


class Interrupt(_Wire):
    """Something the run needs answered before it can go on (here: an approval)."""

    id: str
    reason: str
    message: str | None = None
    tool_call_id: str | None = None
    response_schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class SuccessOutcome(_Wire, tag_field="type", tag="success"):
    """The run completed."""


class InterruptOutcome(_Wire, tag_field="type", tag="interrupt"):
    """The run paused for the interrupts listed."""

    interrupts: list[Interrupt]


class CancelledOutcome(_Wire, tag_field="type", tag="cancelled"):
    """The run was stopped."""


Outcome = SuccessOutcome | InterruptOutcome | CancelledOutcome


class RunStarted(AguiEvent, tag="RUN_STARTED", kw_only=True):
    thread_id: str
    run_id: str
    protocol_version: str


class RunFinished(AguiEvent, tag="RUN_FINISHED", kw_only=True):
    thread_id: str
    run_id: str
    outcome: Outcome


class RunError(AguiEvent, tag="RUN_ERROR", kw_only=True):
    message: str
    code: str | None = None


class TextMessageStart(AguiEvent, tag="TEXT_MESSAGE_START", kw_only=True):
    message_id: str
    role: str


class TextMessageContent(AguiEvent, tag="TEXT_MESSAGE_CONTENT", kw_only=True):
    message_id: str
    delta: str


class TextMessageEnd(AguiEvent, tag="TEXT_MESSAGE_END", kw_only=True):
    message_id: str


class ToolCallStart(AguiEvent, tag="TOOL_CALL_START", kw_only=True):
    tool_call_id: str
    tool_call_name: str
    subagent_run_id: str | None = None


class ToolCallArgs(AguiEvent, tag="TOOL_CALL_ARGS", kw_only=True):
    tool_call_id: str
    delta: str
    subagent_run_id: str | None = None


class ToolCallEnd(AguiEvent, tag="TOOL_CALL_END", kw_only=True):
    tool_call_id: str
    subagent_run_id: str | None = None


class ToolCallResult(AguiEvent, tag="TOOL_CALL_RESULT", kw_only=True):
    message_id: str
    tool_call_id: str
    content: str
    role: str
    subagent_run_id: str | None = None


class SubagentStarted(AguiEvent, tag="SUBAGENT_STARTED", kw_only=True):
    subagent_run_id: str
    name: str
    parent_subagent_run_id: str | None = None


class SubagentFinished(AguiEvent, tag="SUBAGENT_FINISHED", kw_only=True):
    subagent_run_id: str
    result: Any = None


class SubagentError(AguiEvent, tag="SUBAGENT_ERROR", kw_only=True):
    subagent_run_id: str
    message: str


class Custom(AguiEvent, tag="CUSTOM", kw_only=True):
    name: str
    value: Any


class Raw(AguiEvent, tag="RAW", kw_only=True):
    event: Any
    source: str
