"""The neutral mapping: llmrix stream events as UI happenings, one protocol-free vocabulary.

`UiMapper` turns the events of a `ChatStream` into `UiEvent` values that both
browser encoders (AG-UI and the AI SDK UI message stream) translate one for one:
text is bracketed into messages (start, deltas, end, one id each), tool calls
and sub-agents carry shape-neutral arguments and results, an interrupt becomes
one `Approval` per action, and anything without a dedicated form passes through
as `Passthrough`. Keep-alives never reach it (the stream drops them).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import LlmrixError
from ..events import (
    ActionRequest,
    CancelledEvent,
    ErrorEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    RunEndEvent,
    RunStartEvent,
    StreamEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
    UnknownEvent,
)
from ..models import HitlDecision
from ._ids import approval_id

__all__ = [
    "Approval",
    "ApprovalAnswered",
    "ApprovalsRequested",
    "Passthrough",
    "RunCancelled",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "SubagentEnded",
    "SubagentStarted",
    "TextDelta",
    "TextEnded",
    "TextStarted",
    "ToolEnded",
    "ToolStarted",
    "UiEvent",
    "UiMapper",
]


class RunStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The platform run began (its ids may be empty)."""

    run_id: str
    thread_id: str


class TextStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An assistant text message opens."""

    message_id: str


class TextDelta(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A non-empty piece of the open message's text."""

    message_id: str
    delta: str


class TextEnded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The open text message is complete."""

    message_id: str


class ToolStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A tool call with its arguments; ``parent`` is the enclosing sub-agent's call id or ""."""

    call_id: str
    name: str
    arguments: Any
    parent: str


class ToolEnded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A tool call's result, or its failure when ``failed``; ``parent`` as at its start."""

    call_id: str
    name: str
    result: Any
    failed: bool
    parent: str


class SubagentStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A sub-agent began; ``parent`` is the enclosing sub-agent's call id or ""."""

    call_id: str
    name: str
    arguments: Any
    parent: str


class SubagentEnded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A sub-agent finished, or failed when ``failed``."""

    call_id: str
    name: str
    result: Any
    failed: bool


class Approval(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One action awaiting a human decision; ``approval_id`` also names its synthetic tool call."""

    approval_id: str
    name: str
    arguments: Any
    description: str
    decisions: list[str]


class ApprovalsRequested(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The run paused for decisions (ends the relayed run; resume on a new request)."""

    interrupt_id: str
    approvals: list[Approval]


class ApprovalAnswered(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The browser's answer to an approval of the paused run (opens the resumed run)."""

    approval_id: str
    decision: HitlDecision


class RunFinished(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The run completed."""

    run_id: str
    thread_id: str


class RunCancelled(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The run was stopped."""

    reason: str


class RunFailed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The run failed, or the stream broke (``code`` names the error)."""

    message: str
    code: str


class Passthrough(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An event with no dedicated form: ``known`` for typed events, False for undecoded ones."""

    channel: str
    type: str
    value: dict[str, Any]
    known: bool


UiEvent = (
    RunStarted
    | TextStarted
    | TextDelta
    | TextEnded
    | ToolStarted
    | ToolEnded
    | SubagentStarted
    | SubagentEnded
    | ApprovalsRequested
    | ApprovalAnswered
    | RunFinished
    | RunCancelled
    | RunFailed
    | Passthrough
)
"""Every neutral value; the four in ``TERMINAL`` end a relayed run."""

TERMINAL = (ApprovalsRequested, RunFinished, RunCancelled, RunFailed)


class UiMapper:
    """Maps one run's events, in order, to `UiEvent` values (one mapper per relayed run)."""

    def __init__(self) -> None:
        self._open_text: str | None = None
        self._text_ids: set[str] = set()
        self._subagents: list[str] = []
        self._tool_parents: dict[str, str] = {}
        self.ended = False

    def map(self, event: StreamEvent) -> list[UiEvent]:
        """The neutral values for one event (text is closed before anything that is not text)."""
        if type(event) is MessageChunkEvent:
            return self._text(event)
        out = self._close_text()
        out.extend(self._other(event))
        if out and isinstance(out[-1], TERMINAL):
            self.ended = True
        return out

    def failed(self, error: LlmrixError) -> list[UiEvent]:
        """Close the run because reading the stream raised ``error``."""
        self.ended = True
        return [*self._close_text(), RunFailed(message=str(error), code=type(error).__name__)]

    def cut_off(self) -> list[UiEvent]:
        """Close the run because the stream had no more events before its end."""
        self.ended = True
        message = "the stream had no events left to relay"
        return [*self._close_text(), RunFailed(message=message, code="StreamEnded")]

    def _text(self, event: MessageChunkEvent) -> list[UiEvent]:
        out: list[UiEvent] = []
        wanted = event.id or event.run_id
        if self._open_text is None or (wanted and wanted != self._open_text):
            out.extend(self._close_text())
            message_id = self._fresh_text_id(wanted)
            self._open_text = message_id
            out.append(TextStarted(message_id=message_id))
        if event.content:
            out.append(TextDelta(message_id=self._open_text, delta=event.content))
        return out

    def _fresh_text_id(self, wanted: str) -> str:
        """A message id not used before in this run (a reopened id gets a suffix)."""
        base = wanted or "msg"
        candidate, number = wanted or "msg-1", 1
        while candidate in self._text_ids:
            number += 1
            candidate = f"{base}-{number}"
        self._text_ids.add(candidate)
        return candidate

    def _close_text(self) -> list[UiEvent]:
        if self._open_text is None:
            return []
        message_id, self._open_text = self._open_text, None
        return [TextEnded(message_id=message_id)]

    def _parent(self) -> str:
        return self._subagents[-1] if self._subagents else ""

    def _other(self, event: StreamEvent) -> list[UiEvent]:
        if type(event) is ToolStartEvent:
            parent = self._tool_parents[event.call_id] = self._parent()
            return [
                ToolStarted(
                    call_id=event.call_id, name=event.name, arguments=event.arguments, parent=parent
                )
            ]
        if type(event) is ToolEndEvent:
            return [
                ToolEnded(
                    call_id=event.call_id,
                    name=event.name,
                    result=event.result,
                    failed=event.error,
                    parent=self._tool_parents.pop(event.call_id, self._parent()),
                )
            ]
        if type(event) is SubagentStartEvent:
            started = SubagentStarted(
                call_id=event.call_id,
                name=event.agent,
                arguments=event.arguments,
                parent=self._parent(),
            )
            self._subagents.append(event.call_id)
            return [started]
        if type(event) is SubagentEndEvent:
            if event.call_id in self._subagents:
                self._subagents.remove(event.call_id)
            return [
                SubagentEnded(
                    call_id=event.call_id,
                    name=event.agent,
                    result=event.result,
                    failed=event.error,
                )
            ]
        return self._run_level(event)

    def _run_level(self, event: StreamEvent) -> list[UiEvent]:
        if type(event) is RunStartEvent:
            return [RunStarted(run_id=event.run_id, thread_id=event.thread_id)]
        if type(event) is RunEndEvent:
            return [RunFinished(run_id=event.run_id, thread_id=event.thread_id)]
        if type(event) is HitlInterruptEvent:
            return [_approvals(event)]
        if type(event) is CancelledEvent:
            return [RunCancelled(reason=event.why)]
        if type(event) is ErrorEvent:
            return [RunFailed(message=event.message, code=event.error_code)]
        if type(event) is UnknownEvent:
            return [
                Passthrough(channel=event.channel, type=event.type, value=event.data, known=False)
            ]
        value = msgspec.to_builtins(event)
        return [
            Passthrough(
                channel=str(value.get("channel", "")), type=event.type, value=value, known=True
            )
        ]


def _approvals(event: HitlInterruptEvent) -> ApprovalsRequested:
    """One `Approval` per action (an interrupt that names none still asks one question)."""
    requests = event.requests or [ActionRequest(description=event.description)]
    count = len(requests)
    approvals = [
        Approval(
            approval_id=approval_id(event.id, index, count),
            name=request.name or "approval",
            arguments=request.args,
            description=request.description or event.description,
            decisions=list(request.decisions),
        )
        for index, request in enumerate(requests)
    ]
    return ApprovalsRequested(interrupt_id=event.id, approvals=approvals)
