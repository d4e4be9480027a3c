"""What the browser answers, back to `HitlDecision` values: AG-UI resume entries, AI SDK messages.

Both protocols resume on a new request. ``agui_decisions`` reads the
``resume`` entries of an AG-UI ``RunAgentInput``; ``vercel_decisions`` reads
the approval answers on the tool parts of the last assistant message of an AI
SDK chat request. Either returns one decision per action of the interrupt, in
the interrupt's order, ready for ``chat.stream(..., hitl_decisions=...)``.
Input that is malformed, incomplete or about another interrupt raises
``ValueError`` saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from ..models import HitlDecision
from ._ids import parse_approval_id

__all__ = ["Answer", "agui_answers", "agui_decisions", "vercel_answers", "vercel_decisions"]

Answer = tuple[str, HitlDecision]
"""An approval id and the decision the browser gave it."""


class _ResumeEntry(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    interrupt_id: str
    status: Literal["resolved", "cancelled"]
    payload: Any = None


class _ApprovalPayload(msgspec.Struct, rename="camel"):
    approved: bool
    reason: str | None = None
    edited_args: dict[str, Any] | None = None


class _Approval(msgspec.Struct):
    id: str
    approved: bool | None = None
    reason: str | None = None


class _ToolPart(msgspec.Struct):
    type: str
    state: str = ""
    input: Any = None
    approval: _Approval | None = None
    tool_metadata: dict[str, Any] | None = msgspec.field(default=None, name="toolMetadata")


def _json(value: Any, what: str) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise ValueError(f"{what} is not valid JSON: {exc}") from None
    return value


def _convert(value: Any, kind: type[Any], where: str) -> Any:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{where}: {exc}") from None


def agui_decisions(run_input: Mapping[str, Any] | str | bytes) -> list[HitlDecision]:
    """The decisions in an AG-UI ``RunAgentInput``'s ``resume`` entries (object or JSON text).

    Each entry answers one interrupt this relay sent: ``status: "cancelled"``
    rejects; ``"resolved"`` with ``payload: {"approved": true}`` approves,
    with ``"editedArgs": {...}`` as well modifies, and ``{"approved": false,
    "reason": "..."}`` rejects. Every interrupt of the paused run must be
    answered exactly once.
    """
    return [decision for _, decision in agui_answers(run_input)]


def agui_answers(run_input: Mapping[str, Any] | str | bytes) -> list[Answer]:
    """Like `agui_decisions`, each decision with the approval id it answers."""
    body = _json(run_input, "run_input")
    if not isinstance(body, Mapping):
        raise ValueError(f"run_input must be a JSON object, got {type(body).__name__}")
    entries = body.get("resume")
    if not isinstance(entries, list) or not entries:
        raise ValueError("run_input has no resume entries: there is no decision to read")
    answers: list[Answer] = []
    for index, raw in enumerate(entries):
        entry = _convert(raw, _ResumeEntry, f"resume[{index}]")
        answers.append((entry.interrupt_id, _resume_decision(entry, index)))
    return _in_order(answers)


def _resume_decision(entry: _ResumeEntry, index: int) -> HitlDecision:
    if entry.status == "cancelled":
        return HitlDecision.reject("cancelled")
    payload = _convert(entry.payload, _ApprovalPayload, f"resume[{index}].payload")
    if not payload.approved:
        if payload.edited_args is not None:
            raise ValueError(f"resume[{index}].payload: editedArgs given for a rejection")
        return HitlDecision.reject(payload.reason)
    if payload.edited_args is not None:
        return HitlDecision.modify(payload.edited_args)
    return HitlDecision.approve()


def vercel_decisions(messages: Sequence[Mapping[str, Any]] | str | bytes) -> list[HitlDecision]:
    """The decisions on the last assistant message of an AI SDK chat request (list or JSON text).

    Reads each tool part whose ``approval`` this relay requested: approved
    with the ``input`` it proposed approves, approved with an edited ``input``
    modifies, not approved rejects (with the ``reason``). Every approval of
    the paused run must be answered.
    """
    return [decision for _, decision in vercel_answers(messages)]


def vercel_answers(messages: Sequence[Mapping[str, Any]] | str | bytes) -> list[Answer]:
    """Like `vercel_decisions`, each decision with the approval id it answers."""
    value = _json(messages, "messages")
    if not isinstance(value, list):
        raise ValueError(f"messages must be a list of UI messages, got {type(value).__name__}")
    last = next(
        (m for m in reversed(value) if isinstance(m, Mapping) and m.get("role") == "assistant"),
        None,
    )
    if last is None:
        raise ValueError("messages has no assistant message: there is no approval to read")
    parts = last.get("parts")
    if not isinstance(parts, list):
        raise ValueError("the last assistant message has no list of parts")
    answers: list[Answer] = []
    for index, raw in enumerate(parts):
        if not isinstance(raw, Mapping) or "approval" not in raw:
            continue
        part = _convert(raw, _ToolPart, f"parts[{index}]")
        assert part.approval is not None
        answers.append((part.approval.id, _part_decision(part, index)))
    if not answers:
        raise ValueError("the last assistant message answers no approval")
    return _in_order(answers)


def _part_decision(part: _ToolPart, index: int) -> HitlDecision:
    approval = part.approval
    assert approval is not None
    if approval.approved is None:
        raise ValueError(f"parts[{index}]: approval {approval.id!r} has no answer yet")
    if not approval.approved:
        return HitlDecision.reject(approval.reason)
    llmrix = (part.tool_metadata or {}).get("llmrix")
    proposed = llmrix.get("input") if isinstance(llmrix, Mapping) else None
    if llmrix is None or part.input == proposed:
        return HitlDecision.approve()
    if not isinstance(part.input, dict):
        raise ValueError(f"parts[{index}]: edited input must be a JSON object")
    return HitlDecision.modify(part.input)


def _in_order(answers: list[Answer]) -> list[Answer]:
    """The decisions ordered by action; every action of one interrupt answered exactly once."""
    places = [parse_approval_id(approval_id) for approval_id, _ in answers]
    interrupt_id, _, count = places[0]
    slots: list[Answer | None] = [None] * count
    for (approval_id, decision), (other, index, total) in zip(answers, places, strict=True):
        if (other, total) != (interrupt_id, count):
            raise ValueError(
                f"{approval_id!r} answers another interrupt than {answers[0][0]!r}:"
                " answer one interrupt at a time"
            )
        if slots[index] is not None:
            raise ValueError(f"{approval_id!r} is answered twice")
        slots[index] = (approval_id, decision)
    missing = [str(index + 1) for index, slot in enumerate(slots) if slot is None]
    if missing:
        raise ValueError(
            f"interrupt {interrupt_id!r} has {count} actions; no answer for #{', #'.join(missing)}"
        )
    return [slot for slot in slots if slot is not None]
