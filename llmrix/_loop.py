"""Which event loop the SDK's own loops use: uvloop when it is installed, unless told not to.

The SDK makes event loops in two places only: the ``llmrix`` command (``serve``,
``demo``, ``chat``) and the sync client's loop thread. Both ask `loop_factory`.
The choice is ``"auto"`` (uvloop when ``import uvloop`` works, else asyncio's
loop), ``"asyncio"`` (whatever ``asyncio.new_event_loop()`` makes: the standard
loop, unless an event loop policy says otherwise) or ``"uvloop"`` (required: an
`LlmrixError` naming the extra when it is missing). ``"auto"`` defers to the
``LLMRIX_EVENT_LOOP`` environment variable when it is set. uvloop is imported only
here, and only when a loop is made.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar, get_args

from .errors import LlmrixError

__all__ = ["LOOP_ENV", "EventLoopChoice", "loop_factory", "run"]

T = TypeVar("T")

EventLoopChoice = Literal["auto", "asyncio", "uvloop"]
"""``"auto"``: uvloop when installed (or what ``LLMRIX_EVENT_LOOP`` says); or one by name."""

LOOP_ENV = "LLMRIX_EVENT_LOOP"
"""Environment variable that decides what ``"auto"`` means: auto, asyncio or uvloop."""

_CHOICES: tuple[str, ...] = get_args(EventLoopChoice)


def _resolve(choice: str) -> str:
    if choice not in _CHOICES:
        raise ValueError(f"event loop must be one of {', '.join(_CHOICES)}, not {choice!r}")
    if choice != "auto":
        return choice
    configured = os.environ.get(LOOP_ENV, "").strip().lower() or "auto"
    if configured not in _CHOICES:
        raise ValueError(f"{LOOP_ENV} must be one of {', '.join(_CHOICES)}, not {configured!r}")
    return configured


def loop_factory(choice: EventLoopChoice = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """The function that makes a new event loop of the chosen kind."""
    resolved = _resolve(choice)
    if resolved == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if resolved == "uvloop":
            raise LlmrixError(
                "the uvloop event loop was asked for but uvloop is not installed: "
                "pip install 'llmrix[speed]'"
            ) from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice = "auto") -> T:
    """``asyncio.run(main)`` on a loop of the chosen kind."""
    factory = loop_factory(choice)
    if factory is asyncio.new_event_loop:
        return asyncio.run(main)
    import uvloop

    return uvloop.run(main)
