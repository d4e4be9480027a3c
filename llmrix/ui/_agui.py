"""AG-UI 1.0 encoder: neutral values to AG-UI events, each an SSE ``data:`` frame.

Mapping: run start/end → RUN_STARTED / RUN_FINISHED (outcome success);
text → TEXT_MESSAGE_START/CONTENT/END; tool calls → TOOL_CALL_START/ARGS/END
and TOOL_CALL_RESULT (a failed call's result carries ``metadata.llmrix.error``);
sub-agents → SUBAGENT_STARTED / SUBAGENT_FINISHED / SUBAGENT_ERROR (their tool
calls carry ``subagentRunId``); an interrupt → one synthetic tool call per
action, then RUN_FINISHED with an interrupt outcome (reason ``tool_call``), and
on the resumed run each answer → TOOL_CALL_RESULT of that synthetic call;
cancelled → RUN_FINISHED with a cancelled outcome; error → RUN_ERROR; typed
events without a form of their own → CUSTOM; undecoded events → RAW.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import msgspec

from ..models import HitlDecision
from . import _agui_events as ag
from ._mapping import (
    ApprovalAnswered,
    ApprovalsRequested,
    Passthrough,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    SubagentEnded,
    SubagentStarted,
    TextDelta,
    TextEnded,
    TextStarted,
    ToolEnded,
    ToolStarted,
    UiEvent,
)

__all__ = ["AGUI_HEADERS", "APPROVAL_RESPONSE_SCHEMA", "AguiEncoder"]

AGUI_HEADERS: dict[str, str] = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
"""Response headers for an AG-UI event stream."""

APPROVAL_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "reason": {"type": "string", "description": "Why the action was rejected."},
        "editedArgs": {
            "type": "object",
            "description": "Run the action with these arguments instead (full replacement).",
        },
    },
    "required": ["approved"],
}
"""The answer an approval interrupt expects in ``RunAgentInput.resume[].payload``."""

_encode = msgspec.json.Encoder().encode


def json_text(value: Any) -> str:
    """A string as it is; any other JSON value as JSON text."""
    return value if isinstance(value, str) else _encode(value).decode()


class AguiEncoder:
    """Encodes one relayed run as AG-UI events (see the module docstring for the mapping)."""

    def __init__(self, thread_id: str | None, run_id: str | None) -> None:
        self._thread_id = thread_id
        self._run_id = run_id
        self._started = False

    def encode(self, events: Iterable[UiEvent]) -> bytes:
        """The SSE frames for ``events``; RUN_STARTED comes first whatever arrives first."""
        out: list[ag.AguiEvent] = []
        for event in events:
            if not self._started:
                out.append(self._start(event))
            if type(event) is not RunStarted:
                out.extend(self._convert(event))
        return b"".join(b"data: " + _encode(item) + b"\n\n" for item in out)

    def close(self) -> bytes:
        """Nothing: an AG-UI stream ends with its RUN_FINISHED or RUN_ERROR."""
        return b""

    def _start(self, event: UiEvent) -> ag.RunStarted:
        self._started = True
        upstream = event if type(event) is RunStarted else None
        self._thread_id = self._thread_id or (upstream and upstream.thread_id) or _new_id()
        self._run_id = self._run_id or (upstream and upstream.run_id) or _new_id()
        return ag.RunStarted(
            thread_id=self._thread_id, run_id=self._run_id, protocol_version=ag.PROTOCOL_VERSION
        )

    def _finished(self, outcome: ag.Outcome, **metadata: Any) -> ag.RunFinished:
        assert self._thread_id is not None
        assert self._run_id is not None
        return ag.RunFinished(
            thread_id=self._thread_id,
            run_id=self._run_id,
            outcome=outcome,
            metadata={"llmrix": metadata} if metadata else None,
        )

    def _convert(self, event: UiEvent) -> list[ag.AguiEvent]:
        if type(event) is TextDelta:
            return [ag.TextMessageContent(message_id=event.message_id, delta=event.delta)]
        if type(event) is TextStarted:
            return [ag.TextMessageStart(message_id=event.message_id, role="assistant")]
        if type(event) is TextEnded:
            return [ag.TextMessageEnd(message_id=event.message_id)]
        if type(event) is ToolStarted:
            return _tool_call(event.call_id, event.name, event.arguments, event.parent or None)
        if type(event) is ToolEnded:
            metadata = {"llmrix": {"error": True}} if event.failed else None
            return [_result(event.call_id, json_text(event.result), event.parent, metadata)]
        if type(event) is SubagentStarted:
            metadata = {"llmrix": {"input": event.arguments}} if event.arguments != {} else None
            return [
                ag.SubagentStarted(
                    subagent_run_id=event.call_id,
                    name=event.name,
                    parent_subagent_run_id=event.parent or None,
                    metadata=metadata,
                )
            ]
        if type(event) is SubagentEnded:
            if event.failed:
                message = json_text(event.result) or f"{event.name} failed"
                return [ag.SubagentError(subagent_run_id=event.call_id, message=message)]
            result = None if event.result == "" else event.result
            return [ag.SubagentFinished(subagent_run_id=event.call_id, result=result)]
        return self._run_level(event)

    def _run_level(self, event: UiEvent) -> list[ag.AguiEvent]:
        if type(event) is RunFinished:
            return [self._finished(ag.SuccessOutcome())]
        if type(event) is ApprovalAnswered:
            return [_result(event.approval_id, describe(event.decision), "", None)]
        if type(event) is ApprovalsRequested:
            return self._interrupt(event)
        if type(event) is RunCancelled:
            return [self._finished(ag.CancelledOutcome(), reason=event.reason)]
        if type(event) is RunFailed:
            return [ag.RunError(message=event.message or "the run failed", code=event.code or None)]
        assert type(event) is Passthrough
        if event.known:
            return [ag.Custom(name=event.type, value=event.value)]
        return [ag.Raw(event=event.value, source="llmrix")]

    def _interrupt(self, event: ApprovalsRequested) -> list[ag.AguiEvent]:
        """A synthetic tool call per action, then RUN_FINISHED with their interrupts."""
        out: list[ag.AguiEvent] = []
        interrupts = []
        for approval in event.approvals:
            out.extend(_tool_call(approval.approval_id, approval.name, approval.arguments, None))
            interrupts.append(
                ag.Interrupt(
                    id=approval.approval_id,
                    reason="tool_call",
                    message=approval.description or f"Allow {approval.name}?",
                    tool_call_id=approval.approval_id,
                    response_schema=APPROVAL_RESPONSE_SCHEMA,
                    metadata={
                        "llmrix": {
                            "interruptId": event.interrupt_id,
                            "action": approval.name,
                            "arguments": approval.arguments,
                            "decisions": approval.decisions,
                        }
                    },
                )
            )
        out.append(self._finished(ag.InterruptOutcome(interrupts=interrupts)))
        return out


def _result(
    call_id: str, content: str, parent: str, metadata: dict[str, Any] | None
) -> ag.ToolCallResult:
    return ag.ToolCallResult(
        message_id=f"{call_id}-result",
        tool_call_id=call_id,
        content=content,
        role="tool",
        subagent_run_id=parent or None,
        metadata=metadata,
    )


def describe(decision: HitlDecision) -> str:
    """A decision in words: the result of an approval's synthetic tool call."""
    if decision.decision == "reject":
        return f"rejected: {decision.reason}" if decision.reason else "rejected"
    if decision.decision == "modify":
        return f"approved with edited arguments {json_text(decision.modified_args or {})}"
    return "approved"


def _tool_call(call_id: str, name: str, arguments: Any, parent: str | None) -> list[ag.AguiEvent]:
    return [
        ag.ToolCallStart(tool_call_id=call_id, tool_call_name=name, subagent_run_id=parent),
        ag.ToolCallArgs(
            tool_call_id=call_id, delta=_encode(arguments).decode(), subagent_run_id=parent
        ),
        ag.ToolCallEnd(tool_call_id=call_id, subagent_run_id=parent),
    ]


def _new_id() -> str:
    return uuid.uuid4().hex
