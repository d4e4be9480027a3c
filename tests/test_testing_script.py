"""``llmrix.testing.Script`` played by the dev server, read through the SDK (both shapes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import pytest

from llmrix import (
    CancelledEvent,
    ErrorEvent,
    Event,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    MessageChunkEvent,
    RunEndEvent,
    RunStartEvent,
    StreamError,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
)
from llmrix.devserver import DevServer
from llmrix.testing import Script, Shape

SHAPES: list[Shape] = ["primary", "typescript"]


class AuditEvent(Event, tag="audit_log"):
    channel: Literal["custom"] = "custom"
    who: str = ""
    level: int = 0


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(heartbeat_interval=0.05) as dev:
        yield dev


@pytest.fixture
async def client(server: DevServer) -> AsyncIterator[LlmrixClient]:
    async with LlmrixClient(server.base_url) as sdk:
        sdk.register_event(AuditEvent)
        yield sdk


async def turn(client: LlmrixClient, message: str = "go", **kwargs: Any) -> list[Any]:
    conversation = await client.conversations.create("script")
    async with client.chat(conversation.id).stream(message, **kwargs) as stream:
        return [event async for event in stream]


def kinds(events: list[Any]) -> list[str]:
    return [type(event).__name__ for event in events]


@pytest.mark.parametrize("shape", SHAPES)
async def test_every_plain_step_reaches_the_client(
    server: DevServer, client: LlmrixClient, shape: Shape
) -> None:
    inner = Script().tool("read_page", args={"url": "u"}, result={"words": 3})
    script = (
        Script(shape=shape)
        .text("Hel", "lo")
        .keepalive()
        .tool("web_search", args={"q": "cats"}, result="3 hits", id="t1")
        .tool("rm", args={"path": "/"}, result="denied", error=True)
        .subagent("researcher", inner, result="notes", id="s1")
        .custom("audit_log", who="me", level=2)
        .delay(0.12)
        .text("!")
    )
    playback = server.play(script)
    events = await turn(client)
    assert kinds(events) == [
        "RunStartEvent",
        "MessageChunkEvent",
        "MessageChunkEvent",
        "ToolStartEvent",
        "ToolEndEvent",
        "ToolStartEvent",
        "ToolEndEvent",
        "SubagentStartEvent",
        "ToolStartEvent",
        "ToolEndEvent",
        "SubagentEndEvent",
        "AuditEvent",
        "MessageChunkEvent",
        "RunEndEvent",
    ]
    start, _, _, search, searched, rm, failed, sub, read, was_read, sub_end, audit, _, end = events
    assert isinstance(start, RunStartEvent) and isinstance(end, RunEndEvent)
    assert start.run_id == playback.run_id == end.run_id
    assert "".join(e.content for e in events if isinstance(e, MessageChunkEvent)) == "Hello!"
    assert isinstance(search, ToolStartEvent) and isinstance(searched, ToolEndEvent)
    assert (search.call_id, search.name, search.arguments) == ("t1", "web_search", {"q": "cats"})
    assert (searched.call_id, searched.result) == ("t1", "3 hits")
    assert not searched.is_error
    assert isinstance(rm, ToolStartEvent) and isinstance(failed, ToolEndEvent)
    assert failed.is_error and failed.result == "denied"
    assert isinstance(sub, SubagentStartEvent) and isinstance(sub_end, SubagentEndEvent)
    assert (sub.call_id, sub.agent) == (sub_end.call_id, sub_end.agent) == ("s1", "researcher")
    assert sub_end.result == ("notes" if shape == "typescript" else "")
    assert isinstance(read, ToolStartEvent) and isinstance(was_read, ToolEndEvent)
    assert was_read.result == {"words": 3}
    assert read.parent_ids == (["s1"] if shape == "typescript" else [])
    assert isinstance(audit, AuditEvent) and (audit.who, audit.level) == ("me", 2)
    assert playback.finished and playback.decisions == [] and not playback.stopped
    history = await client.conversations.messages(start.thread_id)
    assert [m.role for m in history.items] == ["user", "tool", "tool", "tool", "assistant"]
    assert history.items[-1].content == "Hello!"


@pytest.mark.parametrize("shape", SHAPES)
async def test_the_wire_shape_and_keepalives_as_sent(server: DevServer, shape: Shape) -> None:
    server.play(Script(shape=shape).text("x").keepalive().tool("t", args={"a": 1}))
    conversation = server.seed_conversation("raw")
    url = f"{server.base_url}/api/open/v1/conversations/{conversation.id}/chat"
    async with aiohttp.ClientSession() as http, http.post(url, json={"message": "m"}) as response:
        raw = (await response.read()).decode()
    assert ": ping\n\n" in raw and "event: heartbeat\n" in raw and "data: :ping\n\n" in raw
    if shape == "typescript":
        assert '"run_id":"run_' in raw and '"tool_call_id":' in raw and '"input":{"a":1}' in raw
    else:
        assert '"id":"call_' in raw and '"args":{"a":1}' in raw and "tool_call_id" not in raw


@pytest.mark.parametrize("shape", SHAPES)
async def test_an_error_step_ends_the_run(
    server: DevServer, client: LlmrixClient, shape: Shape
) -> None:
    server.play(Script(shape=shape).text("trying").error("quota exceeded", code="quota"))
    events = await turn(client)
    assert kinds(events)[-1] == "ErrorEvent"
    error = events[-1]
    assert isinstance(error, ErrorEvent) and (error.message, error.error_code) == (
        "quota exceeded",
        "quota",
    )
    server.play(Script(shape=shape).error("again"))
    conversation = await client.conversations.create("e")
    with pytest.raises(StreamError, match="again"):
        await client.chat(conversation.id).complete("go")


def interrupt_script(shape: Shape) -> Script:
    return (
        Script(shape=shape)
        .text("I will delete it.")
        .interrupt(
            "delete_file",
            args={"path": "backups/old.tar"},
            description="Delete backups/old.tar",
            on_reject=Script().text("Kept it."),
        )
        .tool("delete_file", args={"path": "backups/old.tar"}, result="deleted")
        .text("Done.")
    )


async def run_with_decision(
    client: LlmrixClient, decision: HitlDecision, **kwargs: Any
) -> list[Any]:
    conversation = await client.conversations.create("hitl")
    events: list[Any] = []
    async with client.chat(conversation.id).stream("clean up", **kwargs) as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, HitlInterruptEvent):
                await stream.decide([decision])
        if stream.interrupt is not None:
            await stream.decide([decision])
            events += [event async for event in stream]
    return events


def text_of(events: list[Any]) -> str:
    return "".join(e.content for e in events if isinstance(e, MessageChunkEvent))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("paused", [False, True], ids=["open", "paused"])
async def test_approve_reject_and_modify_branches(
    server: DevServer, client: LlmrixClient, shape: Shape, paused: bool
) -> None:
    if paused:
        server.faults = server.faults.merged("end_at_interrupt")
    approved = server.play(interrupt_script(shape))
    events = await run_with_decision(client, HitlDecision.approve())
    interrupt = next(e for e in events if isinstance(e, HitlInterruptEvent))
    (request,) = interrupt.requests
    assert (request.name, request.args, request.description) == (
        "delete_file",
        {"path": "backups/old.tar"},
        "Delete backups/old.tar",
    )
    assert text_of(events) == "I will delete it.Done."
    tool = next(e for e in events if isinstance(e, ToolStartEvent))
    assert tool.arguments == {"path": "backups/old.tar"}
    assert approved.decisions == [[{"decision": "approve"}]]

    rejected = server.play(interrupt_script(shape))
    events = await run_with_decision(client, HitlDecision.reject("too risky"))
    assert text_of(events) == "I will delete it.Kept it."
    assert not any(isinstance(e, ToolStartEvent) for e in events)
    assert isinstance(events[-1], RunEndEvent)
    assert rejected.decisions == [[{"decision": "reject", "reason": "too risky"}]]

    modified = server.play(interrupt_script(shape))
    events = await run_with_decision(client, HitlDecision.modify({"path": "backups/older.tar"}))
    tool = next(e for e in events if isinstance(e, ToolStartEvent))
    assert tool.arguments == {"path": "backups/older.tar"}
    assert text_of(events) == "I will delete it.Done."
    assert modified.decisions == [
        [{"decision": "modify", "modified_args": {"path": "backups/older.tar"}}]
    ]


async def test_a_reject_without_on_reject_ends_the_run(
    server: DevServer, client: LlmrixClient
) -> None:
    server.play(Script().interrupt("wipe").tool("wipe").text("wiped"))
    events = await run_with_decision(client, HitlDecision.reject())
    assert kinds(events) == ["RunStartEvent", "HitlInterruptEvent", "RunEndEvent"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_stop_during_a_delay_ends_the_script_there(
    server: DevServer, client: LlmrixClient, shape: Shape
) -> None:
    playback = server.play(Script(shape=shape).text("one").delay(30).text("never"))
    conversation = await client.conversations.create("stop")
    chat = client.chat(conversation.id)
    events: list[Any] = []
    async with chat.stream("go") as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, MessageChunkEvent):
                await stream.stop()
    assert kinds(events) == ["RunStartEvent", "MessageChunkEvent", "CancelledEvent"]
    assert isinstance(events[-1], CancelledEvent) and events[-1].why == "stopped by user"
    assert playback.stops == 1 and playback.stopped and playback.finished
    assert playback.events[-1]["type"] == "cancelled"


async def test_stop_while_waiting_for_a_decision(server: DevServer, client: LlmrixClient) -> None:
    playback = server.play(Script().interrupt("deploy").text("deployed"))
    conversation = await client.conversations.create("stop")
    async with client.chat(conversation.id).stream("go") as stream:
        events = []
        async for event in stream:
            events.append(event)
            if isinstance(event, HitlInterruptEvent):
                await stream.stop()
    assert kinds(events) == ["RunStartEvent", "HitlInterruptEvent", "CancelledEvent"]
    assert playback.stops == 1 and playback.decisions == []


async def test_queued_scripts_play_in_order_and_per_conversation_first(
    server: DevServer, client: LlmrixClient
) -> None:
    first = server.play(Script().text("first"))
    second = server.play(Script().text("second"))
    mine = await client.conversations.create("mine")
    own = server.play(Script().text("own"), conversation_id=mine.id)
    other = await client.conversations.create("other")
    assert await client.chat(other.id).complete_text("a") == "first"
    assert await client.chat(mine.id).complete_text("b") == "own"
    assert await client.chat(mine.id).complete_text("c") == "second"
    assert await client.chat(other.id).complete_text("plain") == 'You said: "plain"'
    assert first.finished and second.finished and own.finished
    assert own.conversation_id == mine.id and first.conversation_id is None


async def test_a_script_waits_for_its_conversation(server: DevServer, client: LlmrixClient) -> None:
    later = await client.conversations.create("later")
    playback = server.play(Script().text("yours"), conversation_id=later.id)
    now = await client.conversations.create("now")
    assert await client.chat(now.id).complete_text("x") == 'You said: "x"'
    assert not playback.started
    assert await client.chat(later.id).complete_text("y") == "yours"


async def test_concurrent_turns_each_play_their_own(
    server: DevServer, client: LlmrixClient
) -> None:
    a = await client.conversations.create("a")
    b = await client.conversations.create("b")
    server.play(Script().delay(0.05).text("A"), conversation_id=a.id)
    server.play(Script().text("B"), conversation_id=b.id)
    texts = await asyncio.gather(
        client.chat(a.id).complete_text("1"), client.chat(b.id).complete_text("2")
    )
    assert texts == ["A", "B"]


def test_the_builder_refuses_bad_steps() -> None:
    with pytest.raises(ValueError, match="at least one chunk"):
        Script().text()
    with pytest.raises(TypeError, match="strings"):
        Script().text(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tool name"):
        Script().tool("")
    with pytest.raises(TypeError, match="args must be a dict"):
        Script().tool("t", args=["x"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JSON"):
        Script().tool("t", result=object())
    with pytest.raises(ValueError, match="not negative"):
        Script().delay(-1)
    with pytest.raises(ValueError, match="finite"):
        Script().delay(float("nan"))
    with pytest.raises(TypeError, match="number"):
        Script().delay("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no step can follow"):
        Script().error("x").text("y")
    with pytest.raises(TypeError, match="on_reject must be a Script"):
        Script().interrupt("a", on_reject="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        Script(shape="rust")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="event type"):
        Script().custom("")


async def test_bad_plain_data_is_refused(server: DevServer) -> None:
    with pytest.raises(ValueError, match="unknown plan step"):
        server.play({"steps": [{"kind": "dance"}]})
    with pytest.raises(ValueError, match="shape"):
        server.play({"shape": "go", "steps": []})
    with pytest.raises(ValueError, match="list of steps"):
        server.play({"shape": "primary"})


def test_scripts_are_values() -> None:
    base = Script().text("a")
    longer = base.tool("t")
    assert base != longer and base == Script().text("a")
    assert hash(base) == hash(Script().text("a")) and len({base, longer, Script().text("a")}) == 2
    assert [s["kind"] for s in longer.steps] == ["text", "tool"]
    assert repr(longer) == "Script(shape='primary', steps=[text, tool])"
    plan = longer.as_plan()
    plan["steps"].clear()
    assert len(longer.steps) == 2
