"""Scripted runs given as plain data (``DevServer.play``): the queue, the player, the record.

A plan is ``{"shape": "primary" | "typescript", "steps": [step, ...]}``; each step is a
dict with a ``kind``:

* ``text``: ``chunks`` (list of str), one ``message_chunk`` each.
* ``tool``: ``name``, ``args`` (object), ``result`` (any JSON), ``error`` (bool), ``id``.
* ``subagent``: ``name``, ``steps`` (nested steps), ``result``, ``error``, ``id``.
* ``interrupt``: ``action``, ``args``, ``description``, ``id`` and ``on_reject`` (steps or
  null). After an approval the following steps run; after a rejection ``on_reject`` runs
  instead of them (nothing when null); a ``modify`` decision's ``modified_args`` replace
  the ``args`` of the next ``tool`` step.
* ``error``: ``message``, ``code`` (a terminal ``error`` event).
* ``custom``: ``type`` and ``fields`` (channel ``custom`` unless ``fields`` names one).
* ``keepalive``: every keep-alive form the protocol knows.
* ``delay``: ``seconds`` of pause (keep-alives keep flowing; a stop ends it).

This module knows the SDK not at all: the ``llmrix.testing.Script`` builder produces
these dicts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from . import _events as ev
from ._models import HitlDecision, ToolCall
from ._store import Store, new_id

Step = dict[str, Any]
SHAPES = ("primary", "typescript")
KINDS = frozenset(
    {"text", "tool", "subagent", "interrupt", "error", "custom", "keepalive", "delay"}
)


class Playable(Protocol):
    """Anything that can describe itself as a plan (``llmrix.testing.Script`` does)."""

    def as_plan(self) -> dict[str, Any]:
        """The plan as plain data."""


@dataclass
class Playback:
    """What one played script saw: inspect it after the turn.

    ``decisions`` holds one list per decision request (``/chat/hitl/decide`` or a chat
    request with ``hitl_decisions``), as the JSON objects received; ``stops`` counts the
    ``/chat/stop`` requests that reached the run; ``events`` are the events sent.
    """

    conversation_id: str | None
    run_id: str | None = None
    decisions: list[list[dict[str, Any]]] = field(default_factory=list)
    stops: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False

    def record(self, decisions: list[HitlDecision]) -> None:
        """Keep one decision request, each decision with its set fields only."""
        kept = ("decision", "reason", "modified_args")
        self.decisions.append(
            [{k: getattr(d, k) for k in kept if getattr(d, k) is not None} for d in decisions]
        )

    @property
    def started(self) -> bool:
        """Whether a chat turn has picked this script up."""
        return self.run_id is not None

    @property
    def stopped(self) -> bool:
        """Whether a stop request reached the run."""
        return self.stops > 0


def check_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a plan's shape and step kinds; returns it as a dict. Raises ``ValueError``."""
    shape = plan.get("shape", "primary")
    if shape not in SHAPES:
        raise ValueError(f"plan shape must be one of {SHAPES}, got {shape!r}")
    steps = plan.get("steps")
    if not isinstance(steps, list):
        raise ValueError("a plan needs a list of steps")
    _check_steps(steps)
    return {"shape": shape, "steps": steps}


def _check_steps(steps: list[Any]) -> None:
    for step in steps:
        if not isinstance(step, dict) or step.get("kind") not in KINDS:
            raise ValueError(f"unknown plan step {step!r}; kinds: {', '.join(sorted(KINDS))}")
        for nested in (step.get("steps"), step.get("on_reject")):
            if nested is not None:
                _check_steps(nested)


def _flatten(steps: list[Step], parents: list[str]) -> list[Step]:
    """Steps in play order: a sub-agent becomes its start, its steps, its end."""
    flat: list[Step] = []
    for step in steps:
        step = {**step, "parents": parents}
        if step["kind"] == "subagent":
            call_id = step.get("id") or f"call_{new_id()[:12]}"
            flat.append({**step, "kind": "subagent_start", "id": call_id})
            flat.extend(_flatten(step.get("steps") or [], [*parents, call_id]))
            flat.append({**step, "kind": "subagent_end", "id": call_id})
        else:
            flat.append(step)
    return flat


class PlanRun:
    """A plan being played by one run: the steps left and the playback record."""

    def __init__(self, plan: dict[str, Any], playback: Playback) -> None:
        self.ts = plan["shape"] == "typescript"
        self.pending: deque[Step] = deque(_flatten(plan["steps"], []))
        self.playback = playback
        self.message_id = new_id()
        self.text: list[str] = []


class PlanQueue:
    """Plans waiting for a chat turn: per conversation first, then in global order."""

    def __init__(self) -> None:
        self._any: deque[PlanRun] = deque()
        self._by_conversation: dict[str, deque[PlanRun]] = {}

    def add(self, plan: Mapping[str, Any], conversation_id: str | None) -> Playback:
        """Queue a plan for the next turn (of one conversation when given)."""
        playback = Playback(conversation_id)
        planned = PlanRun(check_plan(plan), playback)
        if conversation_id is None:
            self._any.append(planned)
        else:
            self._by_conversation.setdefault(conversation_id, deque()).append(planned)
        return playback

    def take(self, conversation_id: str) -> PlanRun | None:
        """The plan the next turn of ``conversation_id`` plays, if any."""
        mine = self._by_conversation.get(conversation_id)
        if mine:
            return mine.popleft()
        return self._any.popleft() if self._any else None


class RunIO(Protocol):
    """The part of the run's sink the player uses (see ``_agent.RunIO``)."""

    async def emit(self, event: ev.Event, *, flush: bool = True) -> None: ...

    async def keepalives(self) -> None: ...

    async def pause(self, seconds: float) -> None: ...

    async def wait_for_decisions(self) -> list[HitlDecision]: ...


class PlannedRun(Protocol):
    """The run state the player reads and writes (``_run.Run``)."""

    run_id: str
    conversation_id: str
    started: bool
    interrupt_id: str | None
    interrupt_args: list[dict[str, Any]]
    decisions: list[HitlDecision] | None
    plan: PlanRun | None


class PlanAgent:
    """Plays a run's plan step by step; survives a pause at an interrupt."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def play(self, run: PlannedRun, io: RunIO, message: str) -> None:
        """Play ``run.plan`` from where it stands until a terminal event."""
        plan = run.plan
        assert plan is not None
        emit = _Emitter(io, plan)
        if not run.started:
            run.started = True
            plan.playback.run_id = run.run_id
            self._store.add_message(run.conversation_id, "user", message)
            await emit(ev.run_start(run.run_id, run.conversation_id))
        while plan.pending:
            step = plan.pending[0]
            if step["kind"] == "interrupt":
                await self._interrupt(run, io, emit, step)
                continue
            plan.pending.popleft()
            if step["kind"] == "error":
                await emit(ev.error(step.get("message", ""), step.get("code", "")))
                plan.playback.finished = True
                return
            await self._step(run, io, emit, step)
        text = "".join(plan.text)
        self._store.add_message(run.conversation_id, "assistant", text, id=plan.message_id)
        await emit(ev.run_end(run.run_id, run.conversation_id))
        plan.playback.finished = True

    async def _step(self, run: PlannedRun, io: RunIO, emit: _Emitter, step: Step) -> None:
        plan = run.plan
        assert plan is not None
        kind = step["kind"]
        parents = step["parents"]
        if kind == "text":
            for chunk in step.get("chunks", []):
                plan.text.append(chunk)
                await emit(ev.message_chunk(chunk, plan.message_id, run.run_id, plan.ts))
        elif kind == "tool":
            await self._tool(run, emit, step)
        elif kind == "subagent_start":
            name = step.get("name", "")
            await emit(ev.subagent_start(step["id"], name, step.get("task", ""), plan.ts), parents)
        elif kind == "subagent_end":
            output = step.get("result", "")
            error = bool(step.get("error", False))
            event = ev.subagent_end(step["id"], step.get("name", ""), output, plan.ts, error=error)
            await emit(event, parents)
        elif kind == "custom":
            fields = dict(step.get("fields") or {})
            channel = fields.pop("channel", "custom")
            await emit({"channel": channel, "type": step.get("type", ""), **fields})
        elif kind == "keepalive":
            await io.keepalives()
        elif kind == "delay":
            await io.pause(float(step.get("seconds", 0.0)))

    async def _tool(self, run: PlannedRun, emit: _Emitter, step: Step) -> None:
        plan = run.plan
        assert plan is not None
        call_id = step.get("id") or f"call_{new_id()[:12]}"
        name = step.get("name", "")
        args = step.get("args") or {}
        result = step.get("result", "")
        error = bool(step.get("error", False))
        await emit(ev.tool_start(call_id, name, args, plan.ts), step["parents"])
        event = ev.tool_end(call_id, name, result, plan.ts, error=error)
        if plan.ts and error:
            event["error"] = True
        await emit(event, step["parents"])
        shown = result if isinstance(result, str) else msgspec.json.encode(result).decode()
        calls = [ToolCall(id=call_id, name=name, args=args if isinstance(args, dict) else {})]
        self._store.add_message(run.conversation_id, "tool", shown, calls)

    async def _interrupt(self, run: PlannedRun, io: RunIO, emit: _Emitter, step: Step) -> None:
        plan = run.plan
        assert plan is not None
        if run.interrupt_id is None:
            run.interrupt_id = step.get("id") or f"hitl_{new_id()[:12]}"
            args = step.get("args") or {}
            run.interrupt_args = [args]
            await emit(
                ev.plan_interrupt(
                    run.interrupt_id, step["action"], args, step.get("description", ""), plan.ts
                )
            )
        (decision,) = await io.wait_for_decisions()
        run.interrupt_id = None
        run.interrupt_args = []
        run.decisions = None
        plan.pending.popleft()
        if decision.decision == "reject":
            plan.pending = deque(_flatten(step.get("on_reject") or [], step["parents"]))
        elif decision.decision == "modify":
            following = next((s for s in plan.pending if s["kind"] == "tool"), None)
            if following is not None:
                following["args"] = dict(decision.modified_args or {})


class _Emitter:
    """Sends events, marking TypeScript ones with their parents and logging each one."""

    def __init__(self, io: RunIO, plan: PlanRun) -> None:
        self._io = io
        self._plan = plan

    async def __call__(self, event: ev.Event, parents: list[str] | None = None) -> None:
        if self._plan.ts and parents is not None and "parent_ids" in event:
            event["parent_ids"] = list(parents)
        await self._io.emit(event)
        self._plan.playback.events.append(event)
