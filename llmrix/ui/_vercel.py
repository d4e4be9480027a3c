"""AI SDK UI message stream v1 encoder: neutral values to UI message chunks, then ``[DONE]``.

Mapping: the run → ``start``, ``start-step`` … ``finish-step``, ``finish``;
text → ``text-start/-delta/-end``; tool calls → dynamic tool parts
(``tool-input-start``, ``tool-input-available``, then ``tool-output-available``
or ``tool-output-error``); sub-agents → a ``data-llmrix-subagent`` part updated
in place (same id: running, then done or failed); an interrupt → per action a
synthetic tool input carrying the action name and arguments, then
``tool-approval-request``, then ``finish`` (``tool-calls``), and on the
resumed run each answer → ``tool-output-available`` (``{"decision": ...}``) or
``tool-output-denied`` for that part; cancelled →
``abort``; error → ``error`` then ``finish`` (``error``); a typed event without a
form of its own → ``data-llmrix-<type>`` with its fields; an undecoded event →
``data-llmrix-raw`` with the object as received.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from . import _vercel_chunks as vc
from ._agui import json_text
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

__all__ = ["VERCEL_HEADERS", "VercelEncoder"]

VERCEL_HEADERS: dict[str, str] = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "x-vercel-ai-ui-message-stream": "v1",
}
"""Response headers for an AI SDK UI message stream (protocol v1)."""

_DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.Encoder().encode

Wire = vc.Chunk | vc.DataChunk


class VercelEncoder:
    """Encodes one relayed run as UI message chunks (see the module docstring)."""

    def __init__(self, message_id: str | None) -> None:
        self._message_id = message_id
        self._started = False

    def encode(self, events: Iterable[UiEvent]) -> bytes:
        """The SSE frames for ``events``; ``start`` and ``start-step`` come first."""
        out: list[Wire] = []
        for event in events:
            if not self._started:
                self._started = True
                out.append(vc.Start(message_id=self._message_id))
                out.append(vc.StartStep())
            out.extend(self._convert(event))
        return b"".join(b"data: " + _encode(item) + b"\n\n" for item in out)

    def close(self) -> bytes:
        """The end of the stream: ``data: [DONE]``."""
        return _DONE

    def _convert(self, event: UiEvent) -> list[Wire]:
        if type(event) is TextDelta:
            return [vc.TextDelta(id=event.message_id, delta=event.delta)]
        if type(event) is TextStarted:
            return [vc.TextStart(id=event.message_id)]
        if type(event) is TextEnded:
            return [vc.TextEnd(id=event.message_id)]
        if type(event) is ToolStarted:
            metadata = {"llmrix": {"subagent": event.parent}} if event.parent else None
            return _tool_input(event.call_id, event.name, event.arguments, metadata)
        if type(event) is ToolEnded:
            if event.failed:
                return [
                    vc.ToolOutputError(
                        tool_call_id=event.call_id,
                        error_text=json_text(event.result) or f"{event.name} failed",
                        dynamic=True,
                    )
                ]
            return [
                vc.ToolOutputAvailable(
                    tool_call_id=event.call_id, output=event.result, dynamic=True
                )
            ]
        if type(event) is SubagentStarted:
            data = {"name": event.name, "status": "running"}
            if event.arguments != {}:
                data["input"] = event.arguments
            if event.parent:
                data["parent"] = event.parent
            return [vc.DataChunk(type="data-llmrix-subagent", id=event.call_id, data=data)]
        if type(event) is SubagentEnded:
            status = "failed" if event.failed else "done"
            data = {"name": event.name, "status": status}
            if event.result != "":
                data["output"] = event.result
            return [vc.DataChunk(type="data-llmrix-subagent", id=event.call_id, data=data)]
        return self._run_level(event)

    def _run_level(self, event: UiEvent) -> list[Wire]:
        if type(event) is RunStarted:
            return []
        if type(event) is RunFinished:
            return [vc.FinishStep(), vc.Finish(finish_reason="stop")]
        if type(event) is ApprovalAnswered:
            decision = event.decision
            if decision.decision == "reject":
                return [vc.ToolOutputDenied(tool_call_id=event.approval_id)]
            output: dict[str, Any] = {"decision": decision.decision}
            if decision.modified_args is not None:
                output["arguments"] = decision.modified_args
            return [
                vc.ToolOutputAvailable(tool_call_id=event.approval_id, output=output, dynamic=True)
            ]
        if type(event) is ApprovalsRequested:
            out: list[Wire] = []
            for approval in event.approvals:
                metadata = {
                    "llmrix": {"interruptId": event.interrupt_id, "input": approval.arguments}
                }
                out.extend(
                    _tool_input(
                        approval.approval_id,
                        approval.name,
                        approval.arguments,
                        metadata,
                        title=approval.description or None,
                    )
                )
                out.append(
                    vc.ToolApprovalRequest(
                        approval_id=approval.approval_id, tool_call_id=approval.approval_id
                    )
                )
            return [*out, vc.FinishStep(), vc.Finish(finish_reason="tool-calls")]
        if type(event) is RunCancelled:
            return [vc.FinishStep(), vc.Abort(reason=event.reason or None)]
        if type(event) is RunFailed:
            error = vc.Error(error_text=event.message or "the run failed")
            return [error, vc.FinishStep(), vc.Finish(finish_reason="error")]
        assert type(event) is Passthrough
        name = event.type if event.known else "raw"
        return [vc.DataChunk(type=f"data-llmrix-{name}", data=event.value)]


def _tool_input(
    call_id: str,
    name: str,
    arguments: Any,
    metadata: dict[str, Any] | None,
    *,
    title: str | None = None,
) -> list[Wire]:
    return [
        vc.ToolInputStart(
            tool_call_id=call_id, tool_name=name, dynamic=True, tool_metadata=metadata
        ),
        vc.ToolInputAvailable(
            tool_call_id=call_id,
            tool_name=name,
            input=arguments,
            dynamic=True,
            title=title,
            tool_metadata=metadata,
        ),
    ]
