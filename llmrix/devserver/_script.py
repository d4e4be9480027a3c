"""Parsing of the chat commands that drive the scripted agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActionKind = Literal[
    "tool", "tool_error", "subagent", "subagent_error", "hitl", "error", "heartbeats", "custom"
]

DEFAULT_TOOL = "web_search"
DEFAULT_SUBAGENT = "researcher"
DEFAULT_LONG = 1000
DEFAULT_CUSTOM = "audit_log"

_NAMED: dict[str, tuple[ActionKind, str]] = {
    "/tool": ("tool", DEFAULT_TOOL),
    "/tool_error": ("tool_error", DEFAULT_TOOL),
    "/subagent": ("subagent", DEFAULT_SUBAGENT),
    "/subagent_error": ("subagent_error", DEFAULT_SUBAGENT),
    "/custom": ("custom", DEFAULT_CUSTOM),
}
_BARE: dict[str, ActionKind] = {"/error": "error", "/heartbeats": "heartbeats"}
_FLAGS = {"/slow", "/ts"}


@dataclass(frozen=True)
class Action:
    """One step the agent performs before its reply, in message order."""

    kind: ActionKind
    name: str = ""
    count: int = 1


@dataclass(frozen=True)
class Script:
    """What a chat message asks the agent to do."""

    text: str
    topic: str
    actions: tuple[Action, ...] = ()
    slow: bool = False
    ts: bool = False
    long: int | None = None


def _argument(tokens: list[str], index: int) -> str | None:
    if index + 1 < len(tokens) and not tokens[index + 1].startswith("/"):
        return tokens[index + 1]
    return None


def parse_script(text: str) -> Script:
    """Read the commands (case-sensitive) found anywhere in ``text``."""
    tokens = text.split()
    actions: list[Action] = []
    flags: set[str] = set()
    long: int | None = None
    consumed: set[int] = set()
    for index, token in enumerate(tokens):
        if token in _NAMED:
            kind, default = _NAMED[token]
            name = _argument(tokens, index)
            if name is not None:
                consumed.add(index + 1)
            actions.append(Action(kind, name or default))
        elif token == "/hitl":
            argument = _argument(tokens, index)
            count = 1
            if argument is not None and argument.isdigit() and int(argument) > 0:
                consumed.add(index + 1)
                count = int(argument)
            actions.append(Action("hitl", count=count))
        elif token in _BARE:
            actions.append(Action(_BARE[token]))
        elif token in _FLAGS:
            flags.add(token)
        elif token == "/long":
            argument = _argument(tokens, index)
            long = DEFAULT_LONG
            if argument is not None and argument.isdigit():
                consumed.add(index + 1)
                long = int(argument)
        else:
            continue
        consumed.add(index)
    topic = " ".join(t for i, t in enumerate(tokens) if i not in consumed)
    return Script(
        text=text,
        topic=topic,
        actions=tuple(actions),
        slow="/slow" in flags,
        ts="/ts" in flags,
        long=long,
    )
