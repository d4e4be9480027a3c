"""The scripted, deterministic agent that plays a run onto an event sink."""

from __future__ import annotations

import re
from typing import Any, Protocol

import msgspec

from . import _events as ev
from ._models import HitlDecision, ToolCall
from ._options import Settings
from ._run import Run, StreamDetached
from ._script import Action
from ._store import Store, new_id

HITL_ACTION = "dangerous_action"
LONG_CHUNK = "lorem "
_SLOW_FILLER = (
    " This reply is deliberately slow: it is streamed one word at a time with a short"
    " pause between words, so that a client has plenty of time to stop the run before"
    " it reaches the end of this rather long and entirely uninteresting sentence."
)
_WORDS = re.compile(r"\s*\S+\s*|\s+")


class RunIO(Protocol):
    """Where a run sends its events and how it waits."""

    async def emit(self, event: ev.Event, *, flush: bool = True) -> None:
        """Send one event (buffered unless ``flush``)."""

    async def emit_many(self, event: ev.Event, count: int) -> None:
        """Send one event ``count`` times, as fast as possible."""

    async def flush(self) -> None:
        """Push buffered events out."""

    async def keepalives(self) -> None:
        """Send every keep-alive form the protocol knows."""

    async def pause(self, seconds: float) -> None:
        """Wait a little (raises if the run is stopped meanwhile)."""

    async def wait_for_decisions(self) -> list[HitlDecision]:
        """Wait until the pending interrupt is decided (one decision per action)."""


class NullIO:
    """Sink for a run that continues after its stream went away."""

    def __init__(self, run: Run) -> None:
        self._run = run

    async def emit(self, event: ev.Event, *, flush: bool = True) -> None:
        """Drop the event."""

    async def emit_many(self, event: ev.Event, count: int) -> None:
        """Drop the events."""

    async def flush(self) -> None:
        """Nothing to flush."""

    async def keepalives(self) -> None:
        """Nothing to send."""

    async def pause(self, seconds: float) -> None:
        """Do not wait."""

    async def wait_for_decisions(self) -> list[HitlDecision]:
        """Return the decisions already present; with none, the run parks again."""
        if self._run.decisions is None:
            raise StreamDetached
        return self._run.decisions


def split_words(text: str) -> list[str]:
    """Split text into word chunks whose concatenation is the text."""
    return _WORDS.findall(text)


class ScriptedAgent:
    """Plays runs: tools, sub-agents, interrupts, then a reply quoting the message."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    async def play(self, run: Run, io: RunIO) -> None:
        """Play ``run`` from where it stands until a terminal event."""
        script = run.script
        if not run.started:
            run.started = True
            self._store.add_message(run.conversation_id, "user", script.text)
            await io.emit(ev.run_start(run.run_id, run.conversation_id))
        while run.step < len(script.actions):
            action = script.actions[run.step]
            if action.kind == "error":
                await io.emit(ev.error("the scripted agent failed on purpose", "agent_failure"))
                return
            await self._act(run, io, action)
            run.step += 1
        await self._reply(run, io)

    async def _act(self, run: Run, io: RunIO, action: Action) -> None:
        if action.kind in ("tool", "tool_error"):
            failed = action.kind == "tool_error"
            await self._tool(run, io, action.name, {"query": run.script.topic}, failed=failed)
        elif action.kind in ("subagent", "subagent_error"):
            await self._subagent(run, io, action.name, failed=action.kind == "subagent_error")
        elif action.kind == "hitl":
            await self._hitl(run, io, action.count)
        elif action.kind == "heartbeats":
            await io.keepalives()
        elif action.kind == "custom":
            await io.emit(ev.custom(action.name, run.run_id, run.script.topic))

    def _delay(self, run: Run) -> float:
        return self._settings.slow_delay if run.script.slow else 0.0

    async def _tool(
        self,
        run: Run,
        io: RunIO,
        name: str,
        args: dict[str, object],
        call_id: str = "",
        *,
        failed: bool = False,
    ) -> None:
        call_id = call_id or f"call_{new_id()[:12]}"
        ts = run.script.ts
        await io.emit(ev.tool_start(call_id, name, args, ts))
        await io.pause(self._delay(run))
        shown = msgspec.json.encode(args).decode()
        result = (
            f"{name} failed on purpose with {shown}" if failed else f"{name} finished with {shown}"
        )
        await io.emit(ev.tool_end(call_id, name, result, ts, error=failed))
        self._store.add_message(
            run.conversation_id, "tool", result, [ToolCall(id=call_id, name=name, args=args)]
        )

    async def _subagent(self, run: Run, io: RunIO, name: str, *, failed: bool = False) -> None:
        call_id = f"call_{new_id()[:12]}"
        ts = run.script.ts
        await io.emit(ev.subagent_start(call_id, name, run.script.topic, ts))
        await io.pause(self._delay(run))
        output = f"{name} failed on purpose" if failed else f"{name} is done"
        await io.emit(ev.subagent_end(call_id, name, output, ts, error=failed))

    async def _hitl(self, run: Run, io: RunIO, count: int) -> None:
        """Ask about ``count`` calls: one interrupt per call in the primary shape (it has
        room for one action), a single interrupt listing them all in the TypeScript shape."""
        topic = run.script.topic or "everything"
        targets = [topic] if count == 1 else [f"{topic} #{i}" for i in range(1, count + 1)]
        calls = [{"target": target} for target in targets]
        batches = [calls] if run.script.ts else [[call] for call in calls]
        while run.batch < len(batches):
            await self._interrupt(run, io, batches[run.batch])
            run.batch += 1
        run.batch = 0

    async def _interrupt(self, run: Run, io: RunIO, calls: list[dict[str, Any]]) -> None:
        if run.interrupt_id is None:
            run.interrupt_id = f"hitl_{new_id()[:12]}"
            run.interrupt_args = calls
            await io.emit(ev.hitl_interrupt(run.interrupt_id, HITL_ACTION, calls, run.script.ts))
        decisions = await io.wait_for_decisions()
        interrupt_id, actions = run.interrupt_id, run.interrupt_args
        run.interrupt_id = None
        run.interrupt_args = []
        run.decisions = None
        for index, (args, decision) in enumerate(zip(actions, decisions, strict=True)):
            call_id = interrupt_id if len(actions) == 1 else f"{interrupt_id}_{index + 1}"
            await self._apply(run, io, args, decision, call_id)

    async def _apply(
        self, run: Run, io: RunIO, args: dict[str, Any], decision: HitlDecision, call_id: str
    ) -> None:
        target = str(args["target"])
        action = f'{HITL_ACTION} on "{target}"' if "#" in target else HITL_ACTION
        if decision.decision == "reject":
            reason = decision.reason or "no reason given"
            run.outcomes.append(f"The {action} was rejected: {reason}.")
            return
        if decision.decision == "modify":
            args = dict(decision.modified_args or {})
            shown = msgspec.json.encode(args).decode()
            run.outcomes.append(f"The {action} ran with modified args {shown}.")
        else:
            run.outcomes.append(f"The {action} was approved and ran.")
        await self._tool(run, io, HITL_ACTION, args, call_id)

    async def _reply(self, run: Run, io: RunIO) -> None:
        script = run.script
        message_id = new_id()
        if script.long is not None:
            chunk = ev.message_chunk(LONG_CHUNK, message_id, run.run_id, script.ts)
            await io.emit_many(chunk, script.long)
            text = LONG_CHUNK * script.long
        else:
            text = " ".join([f'You said: "{script.text}"', *run.outcomes])
            if script.slow:
                text += _SLOW_FILLER
            for index, word in enumerate(split_words(text)):
                if index:
                    await io.pause(self._delay(run))
                await io.emit(ev.message_chunk(word, message_id, run.run_id, script.ts))
                if index == 0 and any(a.kind == "heartbeats" for a in script.actions):
                    await io.keepalives()
        if script.ts:
            await io.emit(ev.rubric_start(1, f"grade_{new_id()[:12]}"))
            await io.emit(ev.rubric_end(1, "pass", "The reply quotes the user's message."))
        self._store.add_message(run.conversation_id, "assistant", text, id=message_id)
        await io.emit(ev.run_end(run.run_id, run.conversation_id))
