"""Run state, its wake-up signalling, and the registry of live and paused runs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._models import HitlDecision
from ._script import Script

if TYPE_CHECKING:
    from ._plan import PlanRun


class RunStopped(Exception):
    """The run was stopped through ``/chat/stop``."""


class ServerClosing(Exception):
    """The server is shutting down; the stream ends without a terminal event."""


class StreamCut(Exception):
    """The connection was aborted on purpose (``cut_after``)."""


class StreamDetached(Exception):
    """The stream ends at an interrupt; the run stays parked (``end_at_interrupt``)."""


class Run:
    """One agent turn; survives a closed stream while it waits on a HITL decision."""

    def __init__(self, run_id: str, conversation_id: str, script: Script) -> None:
        self.run_id = run_id
        self.conversation_id = conversation_id
        self.script = script
        self.step = 0
        self.started = False
        self.interrupt_id: str | None = None
        self.interrupt_args: list[dict[str, Any]] = []
        self.batch = 0
        """How many interrupts of the current ``/hitl`` step were already decided."""
        self.decisions: list[HitlDecision] | None = None
        self.outcomes: list[str] = []
        self.stopped = False
        self.closing = False
        self.wake = asyncio.Event()
        self.plan: PlanRun | None = None

    @property
    def awaiting_decision(self) -> bool:
        """Whether an interrupt was sent and no decision has arrived yet."""
        return self.interrupt_id is not None and self.decisions is None

    def check(self) -> None:
        """Raise if the run was stopped or the server is closing."""
        if self.stopped:
            raise RunStopped
        if self.closing:
            raise ServerClosing

    def stop(self) -> None:
        """Ask the run to end with a ``cancelled`` event."""
        self.stopped = True
        self.wake.set()

    def close(self) -> None:
        """Ask the run's stream to end because the server stops."""
        self.closing = True
        self.wake.set()

    def decide(self, decisions: list[HitlDecision]) -> None:
        """Deliver the decisions for the pending interrupt, one per action in order.

        Raises ``ValueError`` when their number differs from the number of actions.
        """
        expected = len(self.interrupt_args)
        if len(decisions) != expected:
            plural = "s" if expected != 1 else ""
            raise ValueError(
                f"the pending interrupt has {expected} action{plural}: send {expected}"
                f" decision{plural}, not {len(decisions)}"
            )
        self.decisions = list(decisions)
        self.wake.set()


class RunRegistry:
    """Runs attached to open streams and runs parked at an interrupt, per conversation."""

    def __init__(self) -> None:
        self._live: dict[str, set[Run]] = {}
        self._parked: dict[str, Run] = {}
        self.idle = asyncio.Event()
        self.idle.set()

    def attach(self, run: Run) -> None:
        """Register a run that is driving an open stream."""
        self._live.setdefault(run.conversation_id, set()).add(run)
        self.idle.clear()

    def detach(self, run: Run) -> None:
        """Forget a run whose stream ended; park it if it waits on a decision."""
        runs = self._live.get(run.conversation_id)
        if runs is not None:
            runs.discard(run)
            if not runs:
                del self._live[run.conversation_id]
        if not self._live:
            self.idle.set()
        if not (run.stopped or run.closing):
            self.park(run)

    def park(self, run: Run) -> None:
        """Park a run that stopped at an interrupt with no stream attached."""
        if run.awaiting_decision:
            self._parked[run.conversation_id] = run

    def parked(self, conversation_id: str) -> Run | None:
        """The run of a conversation parked at an interrupt, if any (left parked)."""
        return self._parked.get(conversation_id)

    def unpark(self, conversation_id: str) -> Run | None:
        """Take the parked run of a conversation, if any."""
        return self._parked.pop(conversation_id, None)

    def waiting(self, conversation_id: str) -> Run | None:
        """A live run of the conversation that waits on a decision, if any."""
        for run in self._live.get(conversation_id, ()):
            if run.awaiting_decision and not run.stopped:
                return run
        return None

    def stop(self, conversation_id: str) -> list[Run]:
        """Stop every run of a conversation, live or parked; returns them."""
        stopped = list(self._live.get(conversation_id, ()))
        for run in stopped:
            run.stop()
        parked = self._parked.pop(conversation_id, None)
        return stopped if parked is None else [*stopped, parked]

    def close_all(self) -> None:
        """Ask every live stream to end (server shutdown)."""
        for runs in self._live.values():
            for run in runs:
                run.close()
        self._parked.clear()

    @property
    def live_count(self) -> int:
        """Number of runs attached to open streams."""
        return sum(len(runs) for runs in self._live.values())
