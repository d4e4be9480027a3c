"""Cassettes recorded once and checked in: they must keep replaying as the SDK changes.

Recorded with ``llmrix serve --api-key ...`` and
``LLMRIX_BASE_URL=... LLMRIX_API_KEY=... pytest --llmrix-record=all`` on this file; the
suite replays them (the default ``--llmrix-record=none``) with no server and no key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrix import (
    CancelledEvent,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    MessageChunkEvent,
    RunEndEvent,
    ToolEndEvent,
)
from llmrix.sync import LlmrixClient as SyncClient

CASSETTES = Path(__file__).with_name("cassettes") / "test_checked_in_cassette"
PAUSE_AT_INTERRUPT = {"X-Llmrix-Dev-Faults": "end_at_interrupt"}


@pytest.mark.llmrix_cassette
async def test_a_full_session_replays(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("checked in", agent_id="helper")
    chat = llmrix_client.chat(conversation.id)

    snapshot = await chat.complete("Find cats /tool web_search")
    assert snapshot.text == 'You said: "Find cats /tool web_search"'
    assert [call.name for call in snapshot.tool_calls] == ["web_search"]

    async with chat.stream("Delete the logs /hitl") as stream:
        async for event in stream:
            if isinstance(event, HitlInterruptEvent):
                await stream.decide([HitlDecision.approve()])
        assert "was approved and ran" in stream.snapshot.text

    async with chat.stream("Drop the table /hitl", extra_headers=PAUSE_AT_INTERRUPT) as stream:
        assert not [e async for e in stream if isinstance(e, RunEndEvent)]
        assert stream.interrupt is not None
        await stream.decide([HitlDecision.reject("not today")])
        events = [event async for event in stream]
    assert isinstance(events[-1], RunEndEvent)
    assert "rejected: not today" in stream.snapshot.text

    chunks = 0
    async with chat.stream("Tell me a story /slow") as stream:
        async for event in stream:
            if isinstance(event, MessageChunkEvent):
                chunks += 1
                if chunks == 2:
                    await stream.stop()
    assert isinstance(event, CancelledEvent)

    history = await llmrix_client.conversations.messages(conversation.id)
    assert [m.role for m in history.items][:3] == ["user", "tool", "assistant"]
    page = await llmrix_client.conversations.list(size=1)
    assert page.items[0].id == conversation.id


@pytest.mark.llmrix_cassette("sync-session")
def test_a_sync_session_replays(llmrix_sync_client: SyncClient) -> None:
    conversation = llmrix_sync_client.conversations.create("checked in, sync")
    chat = llmrix_sync_client.chat(conversation.id)
    with chat.stream("Sub-task /subagent planner /tool_error") as stream:
        events = list(stream)
    failed = [e for e in events if isinstance(e, ToolEndEvent)]
    assert failed and failed[0].is_error
    assert chat.complete_text("thanks") == 'You said: "thanks"'


def test_the_cassettes_are_stable_text_without_secrets() -> None:
    files = sorted(CASSETTES.glob("*.jsonl"))
    assert [f.name for f in files] == ["sync-session.jsonl", "test_a_full_session_replays.jsonl"]
    for path in files:
        text = path.read_text()
        header = json.loads(text.splitlines()[0])
        assert header["llmrix_cassette"] == 1
        assert header["recorded_at"].startswith("20")
        assert "authorization" not in text.lower() and "sk-" not in text
