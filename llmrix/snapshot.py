"""``RunSnapshot``: the state of a run, rebuilt from its events as they are read.

A `ChatStream` keeps one snapshot and brings it up to date with every event it
hands out, so ``stream.snapshot`` always describes the run as far as the caller
has read it, and ``await stream.until_done()`` returns it complete. Tool calls
and sub-agents are paired across both wire shapes of the protocol (``id`` /
``args`` / ``result`` and the TypeScript ``tool_call_id`` / ``input`` /
``output``).

The snapshot holds no event objects beyond the few it names (the interrupt,
the error, cancellation and rubric results), and the text in large joined
blocks, so its memory grows with the reply's text, never with the number of
events. With ``keep_text=False`` it keeps no text at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .events import (
    CancelledEvent,
    ErrorEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    RubricEndEvent,
    RunEndEvent,
    RunStartEvent,
    StreamEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
)

__all__ = ["RunSnapshot", "RunStatus", "RunSubagent", "RunToolCall"]

RunStatus = Literal["running", "paused", "finished", "failed", "cancelled"]
"""Where a run stands: ``paused`` waits at an interrupt; the last three are final."""

_BLOCK = 1024
"""Text pieces gathered before they are joined into one block."""


@dataclass(slots=True)
class RunToolCall:
    """One tool call of the run: its start, and its end once ``done``."""

    name: str
    call_id: str
    arguments: Any = None
    result: Any = None
    is_error: bool = False
    done: bool = False


@dataclass(slots=True)
class RunSubagent:
    """One sub-agent of the run: its start, and its end once ``done``."""

    name: str
    call_id: str
    input: Any = None
    output: Any = None
    is_error: bool = False
    done: bool = False


def _open_key(call_id: str, name: str) -> str:
    """How a start is found by its end: the call id, else (no id sent) the name."""
    return call_id or "\0" + name


def _no_text() -> tuple[tuple[str, ...], list[str]]:
    return (), []


@dataclass(eq=False)
class RunSnapshot:
    """The run as read so far.

    ``status`` is ``"running"`` until the run pauses at an interrupt
    (``"paused"``, with ``interrupt`` set) or ends: ``"finished"``
    (``run_end``), ``"failed"`` (``error``, held in ``error``; also a stream
    cut off before its end) or ``"cancelled"`` (``cancelled``). ``tool_calls``
    and ``subagents`` are in start order, each end paired with its start by
    call id (by name when the server sends no id); an end without a start is
    listed on its own. ``text`` is the assistant text so far, unless the stream was
    opened with ``keep_text=False``.
    """

    run_id: str = ""
    thread_id: str = ""
    status: RunStatus = "running"
    tool_calls: list[RunToolCall] = field(default_factory=list)
    subagents: list[RunSubagent] = field(default_factory=list)
    interrupt: HitlInterruptEvent | None = None
    error: ErrorEvent | None = None
    cancelled: CancelledEvent | None = None
    rubric_results: list[RubricEndEvent] = field(default_factory=list)
    keeps_text: bool = True
    _text: tuple[tuple[str, ...], list[str]] = field(default_factory=_no_text, repr=False)
    _owner: int | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """The assistant text so far (``RuntimeError`` when text keeping is off).

        Joined when read: to show text as it arrives, use the message chunks
        (or ``stream.text_stream``) rather than reading this after every event.

        Safe to read from another thread than the one applying events (a sync
        client's): the text is held as (joined blocks, pieces) in one
        attribute, which the applying thread only appends to or replaces
        whole; only that thread keeps the joined result for the next read.
        """
        if not self.keeps_text:
            raise RuntimeError("this stream keeps no text: it was opened with keep_text=False")
        blocks, pieces = self._text
        if not pieces and len(blocks) < 2:
            return blocks[0] if blocks else ""
        joined = "".join([*blocks, *pieces])
        if self._owner == threading.get_ident():
            self._text = ((joined,), [])
        return joined

    def __repr__(self) -> str:
        text = f"{len(self.text)} chars" if self.keeps_text else "not kept"
        return (
            f"RunSnapshot(run_id={self.run_id!r}, status={self.status!r}, text={text}, "
            f"tool_calls={len(self.tool_calls)}, subagents={len(self.subagents)})"
        )


class SnapshotUpdater:
    """Applies events to a `RunSnapshot`: message chunks in bulk, the rest by type."""

    __slots__ = ("_handlers", "_open_subagents", "_open_tools", "snapshot")

    def __init__(self, *, keep_text: bool) -> None:
        self.snapshot: RunSnapshot = RunSnapshot(keeps_text=keep_text)
        self._open_tools: dict[str, RunToolCall] = {}
        self._open_subagents: dict[str, RunSubagent] = {}
        self._handlers: dict[type, Callable[[Any], None]] = {
            RunStartEvent: self._run_start,
            RunEndEvent: self._run_end,
            ToolStartEvent: self._tool_start,
            ToolEndEvent: self._tool_end,
            SubagentStartEvent: self._subagent_start,
            SubagentEndEvent: self._subagent_end,
            ErrorEvent: self._error,
            CancelledEvent: self._cancelled,
            RubricEndEvent: self.snapshot.rubric_results.append,
        }

    def apply(self, events: Sequence[StreamEvent]) -> None:
        """Bring the snapshot up to date with ``events`` (in order).

        The usual list, message chunks only, is handled in bulk: one C-level
        pass finds the types, one comprehension joins the text. Any other
        list goes event by event.
        """
        if not events:
            return
        kinds = list(map(type, events))
        if kinds.count(MessageChunkEvent) != len(kinds):
            self._apply_mixed(events, kinds)
            return
        snapshot = self.snapshot
        if snapshot.keeps_text:
            chunks = cast("Sequence[MessageChunkEvent]", events)
            self._add_text("".join([event.content for event in chunks]))
        snapshot.status, snapshot.interrupt = "running", None

    def _apply_mixed(self, events: Sequence[StreamEvent], kinds: list[type]) -> None:
        snapshot = self.snapshot
        if snapshot.keeps_text:
            pieces = [event.content for event in events if type(event) is MessageChunkEvent]
            if pieces:
                self._add_text("".join(pieces))
        handlers = self._handlers
        for event, kind in zip(events, kinds, strict=True):
            handler = handlers.get(kind)
            if handler is not None:
                handler(event)
        last = events[-1]
        if type(last) is HitlInterruptEvent:
            snapshot.status, snapshot.interrupt = "paused", last
        elif not last.terminal:
            snapshot.status, snapshot.interrupt = "running", None

    def _add_text(self, text: str) -> None:
        snapshot = self.snapshot
        if snapshot._owner is None:
            snapshot._owner = threading.get_ident()
        pieces = snapshot._text[1]
        pieces.append(text)
        if len(pieces) >= _BLOCK:
            snapshot._text = ((*snapshot._text[0], "".join(pieces)), [])

    def answered(self) -> None:
        """The pending interrupt was decided: the run goes on."""
        self.snapshot.status, self.snapshot.interrupt = "running", None

    def cut_off(self) -> None:
        """The stream failed or ended with no terminal event and no interrupt."""
        self.snapshot.status = "failed"

    def _run_start(self, event: RunStartEvent | RunEndEvent) -> None:
        snapshot = self.snapshot
        snapshot.run_id = event.run_id or snapshot.run_id
        snapshot.thread_id = event.thread_id or snapshot.thread_id

    def _run_end(self, event: RunEndEvent) -> None:
        self._run_start(event)
        self.snapshot.status, self.snapshot.interrupt = "finished", None

    def _error(self, event: ErrorEvent) -> None:
        self.snapshot.status, self.snapshot.error, self.snapshot.interrupt = "failed", event, None

    def _cancelled(self, event: CancelledEvent) -> None:
        snapshot = self.snapshot
        snapshot.status, snapshot.cancelled, snapshot.interrupt = "cancelled", event, None

    def _tool_start(self, event: ToolStartEvent) -> None:
        call = RunToolCall(event.name, event.call_id, event.arguments)
        self.snapshot.tool_calls.append(call)
        self._open_tools[_open_key(call.call_id, call.name)] = call

    def _tool_end(self, event: ToolEndEvent) -> None:
        call = self._open_tools.pop(_open_key(event.call_id, event.name), None)
        if call is None:
            call = RunToolCall(event.name, event.call_id)
            self.snapshot.tool_calls.append(call)
        call.name = call.name or event.name
        call.result, call.is_error, call.done = event.result, event.is_error, True

    def _subagent_start(self, event: SubagentStartEvent) -> None:
        agent = RunSubagent(event.agent, event.call_id, event.arguments)
        self.snapshot.subagents.append(agent)
        self._open_subagents[_open_key(agent.call_id, agent.name)] = agent

    def _subagent_end(self, event: SubagentEndEvent) -> None:
        agent = self._open_subagents.pop(_open_key(event.call_id, event.agent), None)
        if agent is None:
            agent = RunSubagent(event.agent, event.call_id)
            self.snapshot.subagents.append(agent)
        agent.name = agent.name or event.agent
        agent.output, agent.is_error, agent.done = event.result, event.is_error, True
