"""A warning for a run left waiting at an interrupt that nobody answers."""

from __future__ import annotations

import asyncio

from ._logs import log
from .events import HitlInterruptEvent

__all__ = ["warn_if_undecided"]


def warn_if_undecided(
    interrupt: HitlInterruptEvent, after: float | None
) -> asyncio.TimerHandle | None:
    """Log one warning if the stream is still waiting ``after`` seconds from now.

    The caller cancels the returned handle once the wait ends; ``None`` disables it.
    """
    if after is None:
        return None
    return asyncio.get_running_loop().call_later(after, _warn, interrupt, after)


def _warn(interrupt: HitlInterruptEvent, after: float) -> None:
    names = ", ".join(request.name for request in interrupt.requests) or "an action"
    log.warning(
        "the run has waited %g s at interrupt %r (%s) and no decision was sent: answer it"
        " with `await stream.decide([...])` (without `await`, decide() sends nothing)",
        after,
        interrupt.id,
        names,
    )
