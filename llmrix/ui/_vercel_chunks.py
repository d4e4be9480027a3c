"""AI SDK UI message stream (protocol v1) chunks as msgspec Structs.

Only the chunks the relay sends; names and shapes follow the ``ai`` package's
``uiMessageChunkSchema``, checked in the tests through node.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = ["Chunk", "DataChunk", "FinishReason"]

FinishReason = Literal["stop", "tool-calls", "error", "other"]


class _Wire(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True, gc=False):
    """camelCase names; a field left at its default is not sent."""


class Chunk(_Wire, tag_field="type"):
    """Base of the tagged chunks."""


class Start(Chunk, tag="start", kw_only=True):
    message_id: str | None = None


class StartStep(Chunk, tag="start-step", kw_only=True):
    pass


class FinishStep(Chunk, tag="finish-step", kw_only=True):
    pass


class Finish(Chunk, tag="finish", kw_only=True):
    finish_reason: FinishReason | None = None


class Abort(Chunk, tag="abort", kw_only=True):
    reason: str | None = None


class Error(Chunk, tag="error", kw_only=True):
    error_text: str


class TextStart(Chunk, tag="text-start", kw_only=True):
    id: str


class TextDelta(Chunk, tag="text-delta", kw_only=True):
    id: str
    delta: str


class TextEnd(Chunk, tag="text-end", kw_only=True):
    id: str


class ToolInputStart(Chunk, tag="tool-input-start", kw_only=True):
    tool_call_id: str
    tool_name: str
    dynamic: bool
    tool_metadata: dict[str, Any] | None = None


class ToolInputAvailable(Chunk, tag="tool-input-available", kw_only=True):
    tool_call_id: str
    tool_name: str
    input: Any
    dynamic: bool
    title: str | None = None
    tool_metadata: dict[str, Any] | None = None


class ToolOutputAvailable(Chunk, tag="tool-output-available", kw_only=True):
    tool_call_id: str
    output: Any
    dynamic: bool


class ToolOutputError(Chunk, tag="tool-output-error", kw_only=True):
    tool_call_id: str
    error_text: str
    dynamic: bool


class ToolOutputDenied(Chunk, tag="tool-output-denied", kw_only=True):
    tool_call_id: str


class ToolApprovalRequest(Chunk, tag="tool-approval-request", kw_only=True):
    approval_id: str
    tool_call_id: str


class DataChunk(_Wire):
    """A ``data-*`` part: ``type`` is ``data-`` plus its name; same ``id`` updates the part."""

    type: str
    data: Any
    id: str | None = None
