"""A small app function built on llmrix: ask the agent to tidy up, under a policy.

The agent may ask to approve ``delete_file`` actions. The policy approves deletions
under ``backups/``, turns a recursive deletion into a plain one, and rejects the rest.
``tests/`` beside this file tests it the way a user of llmrix would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmrix import (
    ErrorEvent,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    MessageChunkEvent,
    ToolEndEvent,
)

SAFE_PREFIX = "backups/"


@dataclass
class Outcome:
    """What one clean-up turn did."""

    reply: str = ""
    decisions: list[str] = field(default_factory=list)
    tools_run: list[str] = field(default_factory=list)
    failed: str | None = None


def decide(action: str, args: dict[str, Any]) -> HitlDecision:
    """The policy for one action the agent asks about."""
    path = str(args.get("path", ""))
    if action != "delete_file" or not path.startswith(SAFE_PREFIX):
        return HitlDecision.reject(f"{action} on {path!r} is not allowed")
    if args.get("recursive"):
        return HitlDecision.modify({**args, "recursive": False})
    return HitlDecision.approve()


async def clean_up(client: LlmrixClient, conversation_id: str) -> Outcome:
    """Ask the agent to clean up, answering its approval requests with `decide`."""
    outcome = Outcome()
    async with client.chat(conversation_id).stream("Clean up the old files") as stream:
        async for event in stream:
            if isinstance(event, MessageChunkEvent):
                outcome.reply += event.content
            elif isinstance(event, ToolEndEvent) and not event.is_error:
                outcome.tools_run.append(event.name)
            elif isinstance(event, ErrorEvent):
                outcome.failed = event.message
            elif isinstance(event, HitlInterruptEvent):
                decisions = [decide(r.name, dict(r.args or {})) for r in event.requests]
                outcome.decisions += [d.decision for d in decisions]
                await stream.decide(decisions)
    return outcome
