"""Tests of ``clean_up``: scripted runs for each branch, and a recorded run replayed."""

from __future__ import annotations

import pytest
from cleanup import clean_up

from llmrix.testing import Script


def asks_to_delete(path: str, **args: object) -> Script:
    """The agent asks to delete ``path``, deletes it if allowed, then reports."""
    return (
        Script()
        .text("Looking around. ")
        .interrupt(
            "delete_file",
            args={"path": path, **args},
            description=f"Delete {path}",
            on_reject=Script().text("I left it alone."),
        )
        .tool("delete_file", args={"path": path, **args}, result="deleted")
        .text("Deleted it.")
    )


async def test_a_backup_is_deleted(llmrix_server, llmrix_client):
    run = llmrix_server.play(asks_to_delete("backups/2019.tar"))
    conversation = await llmrix_client.conversations.create("cleanup")
    outcome = await clean_up(llmrix_client, conversation.id)
    assert outcome.decisions == ["approve"]
    assert outcome.tools_run == ["delete_file"]
    assert outcome.reply == "Looking around. Deleted it."
    assert run.decisions == [[{"decision": "approve"}]]


async def test_anything_else_is_refused(llmrix_server, llmrix_client):
    run = llmrix_server.play(asks_to_delete("/etc/passwd"))
    conversation = await llmrix_client.conversations.create("cleanup")
    outcome = await clean_up(llmrix_client, conversation.id)
    assert outcome.tools_run == []
    assert outcome.reply == "Looking around. I left it alone."
    assert run.decisions == [
        [{"decision": "reject", "reason": "delete_file on '/etc/passwd' is not allowed"}]
    ]


async def test_a_recursive_delete_is_made_plain(llmrix_server, llmrix_client):
    run = llmrix_server.play(asks_to_delete("backups/old", recursive=True))
    conversation = await llmrix_client.conversations.create("cleanup")
    outcome = await clean_up(llmrix_client, conversation.id)
    assert outcome.decisions == ["modify"]
    modified = run.decisions[0][0]["modified_args"]
    assert modified == {"path": "backups/old", "recursive": False}
    tool_start = next(e for e in run.events if e["type"] == "tool_start")
    assert tool_start["args"] == modified


@pytest.mark.parametrize("shape", ["primary", "typescript"])
async def test_an_agent_failure_is_reported(llmrix_server, llmrix_client, shape):
    llmrix_server.play(Script(shape=shape).text("Oops").error("disk on fire", code="io"))
    conversation = await llmrix_client.conversations.create("cleanup")
    outcome = await clean_up(llmrix_client, conversation.id)
    assert outcome.failed == "disk on fire"


@pytest.mark.llmrix_cassette
async def test_against_a_recorded_run(llmrix_client):
    conversation = await llmrix_client.conversations.create("cleanup")
    outcome = await clean_up(llmrix_client, conversation.id)
    assert outcome.decisions == ["approve", "reject"]
    assert "delete_file" in outcome.tools_run
