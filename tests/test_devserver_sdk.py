"""The SDK against the embedded dev server: every command, fault and endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _support import acquired

from llmrix import (
    APIError,
    APITimeoutError,
    AuthenticationError,
    CancelledEvent,
    ClientClosedError,
    ErrorEvent,
    HitlDecision,
    HitlInterruptEvent,
    InternalServerError,
    LlmrixClient,
    MessageChunkEvent,
    NotFoundError,
    RubricEndEvent,
    RubricStartEvent,
    RunEndEvent,
    RunStartEvent,
    StreamError,
    StreamEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
    UnprocessableEntityError,
)
from llmrix.devserver import DevServer, FaultOptions


async def run(client: LlmrixClient, conversation_id: str, message: str) -> list[StreamEvent]:
    async with client.chat(conversation_id).stream(message) as stream:
        return [event async for event in stream]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.content for e in events if isinstance(e, MessageChunkEvent))


async def test_plain_reply_streams_in_chunks(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create(title="Demo")
    events = await run(llmrix_client, conversation.id, "hello there")
    assert isinstance(events[0], RunStartEvent)
    assert isinstance(events[-1], RunEndEvent)
    assert events[0].thread_id == conversation.id
    assert sum(isinstance(e, MessageChunkEvent) for e in events) > 2
    assert "hello there" in text_of(events)
    assert acquired(llmrix_client) == 0


async def test_tool_and_subagent_events(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    events = await run(llmrix_client, conversation.id, "look /tool web_search /subagent critic")
    kinds = [type(e) for e in events]
    assert kinds.index(ToolStartEvent) < kinds.index(ToolEndEvent) < kinds.index(MessageChunkEvent)
    assert SubagentStartEvent in kinds
    assert SubagentEndEvent in kinds
    start = next(e for e in events if isinstance(e, ToolStartEvent))
    assert start.name == "web_search"
    sub = next(e for e in events if isinstance(e, SubagentStartEvent))
    assert sub.agent_name == "critic"


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (HitlDecision.approve(), "approved"),
        (HitlDecision.reject("too risky"), "too risky"),
        (HitlDecision.modify({"target": "elsewhere"}), "elsewhere"),
    ],
)
async def test_hitl_decided_inside_the_loop(
    llmrix_client: LlmrixClient, decision: HitlDecision, expected: str
) -> None:
    conversation = await llmrix_client.conversations.create("t")
    events: list[StreamEvent] = []
    async with llmrix_client.chat(conversation.id).stream("do it /hitl") as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, HitlInterruptEvent):
                assert event.action_name == "dangerous_action"
                await stream.decide([decision])
    assert isinstance(events[-1], RunEndEvent)
    assert expected in text_of(events)


async def test_hitl_pause_then_resume_with_decisions(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    llmrix_server.faults = FaultOptions(end_at_interrupt=True)
    conversation = await llmrix_client.conversations.create("t")
    chat = llmrix_client.chat(conversation.id)
    async with chat.stream("/hitl") as stream:
        events = [event async for event in stream]
        assert isinstance(events[-1], HitlInterruptEvent)
        assert stream.interrupt is events[-1]
    async with chat.stream("resume", hitl_decisions=[HitlDecision.approve()]) as stream:
        text = await stream.final_text()
    assert "approved" in text


async def test_stop_inside_the_loop_cancels_a_slow_run(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    events: list[StreamEvent] = []
    async with llmrix_client.chat(conversation.id).stream("/slow") as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, MessageChunkEvent) and len(events) == 3:
                await stream.stop()
    assert isinstance(events[-1], CancelledEvent)
    assert len(events) < 20
    assert acquired(llmrix_client) == 0


async def test_stop_without_a_run_is_harmless(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    await llmrix_client.chat(conversation.id).stop()


async def test_error_command(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    events = await run(llmrix_client, conversation.id, "/error")
    assert isinstance(events[-1], ErrorEvent)
    assert events[-1].error_code
    with pytest.raises(StreamError) as info:
        await llmrix_client.chat(conversation.id).complete("/error")
    assert isinstance(info.value.event, ErrorEvent)


async def test_typescript_shape(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    events: list[StreamEvent] = []
    async with llmrix_client.chat(conversation.id).stream("/ts /tool calc /hitl") as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, HitlInterruptEvent):
                assert event.action_requests
                assert event.action_requests[0].decisions
                await stream.decide([HitlDecision.approve()])
    tool = next(e for e in events if isinstance(e, ToolStartEvent))
    assert tool.tool_call_id
    assert tool.name == "calc"
    chunk = next(e for e in events if isinstance(e, MessageChunkEvent))
    assert chunk.run_id
    assert any(isinstance(e, RubricStartEvent) for e in events)
    assert any(isinstance(e, RubricEndEvent) for e in events)
    assert isinstance(events[-1], RunEndEvent)


async def test_all_heartbeat_forms_are_dropped(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    conversation = await llmrix_client.conversations.create("t")
    events = await run(llmrix_client, conversation.id, "/heartbeats beat")
    assert all(e.channel != "heartbeat" for e in events)
    assert isinstance(events[-1], RunEndEvent)


async def test_history_records_every_run(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    await llmrix_client.chat(conversation.id).complete("first")
    await llmrix_client.chat(conversation.id).complete("second /tool grep")
    messages = [m async for m in llmrix_client.conversations.iter_messages(conversation.id, size=2)]
    roles = [m.role for m in messages]
    assert roles.count("user") == 2
    assert roles.count("assistant") >= 2
    assert any(m.tool_calls for m in messages)
    assert messages[0].content == "first"


async def test_conversation_pages(llmrix_client: LlmrixClient) -> None:
    created = {(await llmrix_client.conversations.create(f"c{i}")).id for i in range(7)}
    listed = [c.id async for c in llmrix_client.conversations.iter(size=3)]
    assert set(listed) == created
    assert len(listed) == 7
    page = await llmrix_client.conversations.list(size=3)
    assert page.has_more


async def test_crud_and_not_found(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("before")
    updated = await llmrix_client.conversations.update(conversation.id, title="after")
    assert updated.title == "after"
    assert (await llmrix_client.conversations.get(conversation.id)).title == "after"
    await llmrix_client.conversations.delete(conversation.id)
    with pytest.raises(NotFoundError):
        await llmrix_client.conversations.get(conversation.id)
    with pytest.raises(NotFoundError):
        await run(llmrix_client, conversation.id, "hi")


async def test_odd_ids_reach_their_own_conversation(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    for odd in ("a/b", "../x", "q?x=1#f", "é 1"):
        llmrix_server.seed_conversation("odd", id=odd)
        assert (await llmrix_client.conversations.get(odd)).id == odd
        assert "hi" in (await llmrix_client.chat(odd).complete("hi")).text


async def test_cron_lifecycle(llmrix_client: LlmrixClient) -> None:
    task = await llmrix_client.cron.create("daily", prompt="summarise", schedule_expr="0 9 * * *")
    assert task.status == "active"
    assert [t.id for t in await llmrix_client.cron.list()] == [task.id]
    assert (await llmrix_client.cron.update(task.id, name="renamed")).name == "renamed"
    assert (await llmrix_client.cron.pause(task.id)).status == "paused"
    assert (await llmrix_client.cron.resume(task.id)).status == "active"
    assert (await llmrix_client.cron.get(task.id)).name == "renamed"
    await llmrix_client.cron.delete(task.id)
    assert await llmrix_client.cron.list() == []


async def test_agents_and_mates(llmrix_client: LlmrixClient) -> None:
    from llmrix import Mate

    agent = await llmrix_client.agents.create("team-lead", type="team")
    assert agent.id
    assert (await llmrix_client.agents.update(agent.id, introduce="hi")).introduce == "hi"
    saved = await llmrix_client.agents.save_mates(agent.id, [Mate(name="a", sort=1)])
    assert [m.name for m in saved] == ["a"]
    assert [m.name for m in await llmrix_client.agents.list_mates(agent.id)] == ["a"]
    assert [a.id for a in await llmrix_client.agents.list()] == [agent.id]
    await llmrix_client.agents.delete(agent.id)
    with pytest.raises(NotFoundError):
        await llmrix_client.agents.get(agent.id)


async def test_bad_bodies_are_rejected(llmrix_client: LlmrixClient) -> None:
    with pytest.raises(UnprocessableEntityError):
        await llmrix_client.conversations.create(title=5)  # type: ignore[arg-type]


async def test_api_key_required() -> None:
    async with DevServer(api_key="sk-dev") as server:
        async with LlmrixClient(server.base_url, api_key="wrong") as client:
            with pytest.raises(AuthenticationError) as info:
                await client.conversations.list()
            assert info.value.status_code == 401
        async with LlmrixClient(server.base_url, api_key="sk-dev") as client:
            assert (await client.conversations.list()).items == []


@pytest.mark.parametrize(
    "fault",
    [
        FaultOptions(crlf=True),
        FaultOptions(cr=True),
        FaultOptions(bom=True),
        FaultOptions(multiline_data=True),
        FaultOptions(sse_ids=True),
        FaultOptions(no_event_line=True),
        FaultOptions(bom=True, cr=True, multiline_data=True, sse_ids=True, no_event_line=True),
        FaultOptions(byte_per_write=True),
        FaultOptions(byte_per_write=True, cr=True, multiline_data=True),
    ],
    ids=repr,
)
async def test_framing_faults_do_not_change_the_events(
    llmrix_server: DevServer, llmrix_client: LlmrixClient, fault: FaultOptions
) -> None:
    conversation = await llmrix_client.conversations.create("t")
    plain = await run(llmrix_client, conversation.id, "same words /tool x")
    llmrix_server.faults = fault
    bent = await run(llmrix_client, conversation.id, "same words /tool x")
    assert [type(e) for e in bent] == [type(e) for e in plain]
    assert text_of(bent) == text_of(plain)


async def test_cut_connection_is_a_stream_error(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    llmrix_server.faults = FaultOptions(cut_after=3)
    conversation = await llmrix_client.conversations.create("t")
    with pytest.raises(StreamError, match="ended before the run finished"):
        await run(llmrix_client, conversation.id, "a b c d e f g")
    assert acquired(llmrix_client) == 0


async def test_malformed_frame_is_a_stream_error(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    llmrix_server.faults = FaultOptions(malformed_after=2)
    conversation = await llmrix_client.conversations.create("t")
    with pytest.raises(StreamError, match="malformed JSON"):
        await run(llmrix_client, conversation.id, "a b c d")
    assert acquired(llmrix_client) == 0


async def test_stall_hits_the_idle_timeout(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    llmrix_server.faults = FaultOptions(stall_after=2)
    conversation = await llmrix_client.conversations.create("t")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(APITimeoutError, match="stream_idle_timeout"):
        async with llmrix_client.chat(conversation.id).stream(
            "a b c", stream_idle_timeout=0.3
        ) as stream:
            [event async for event in stream]
    assert loop.time() - started < 5
    assert acquired(llmrix_client) == 0


async def test_heartbeats_keep_an_idle_stream_alive() -> None:
    """Paused 1 s at an interrupt with a 0.4 s idle timeout: heartbeats count as life."""
    async with (
        DevServer(heartbeat_interval=0.1) as server,
        LlmrixClient(server.base_url, stream_idle_timeout=0.4) as client,
    ):
        conversation = await client.conversations.create("t")
        chat = client.chat(conversation.id)

        async def decide_later() -> None:
            await asyncio.sleep(1.0)
            await chat.decide([HitlDecision.approve()])

        events: list[StreamEvent] = []
        async with chat.stream("/hitl") as stream:
            async for event in stream:
                events.append(event)
                if isinstance(event, HitlInterruptEvent):
                    decider = asyncio.create_task(decide_later())
        await decider
        assert isinstance(events[-1], RunEndEvent)
        assert server.requests


async def test_closing_the_client_mid_stream_is_a_clear_error(
    llmrix_server: DevServer,
) -> None:
    client = LlmrixClient(llmrix_server.base_url)
    conversation = await client.conversations.create("t")
    with pytest.raises(ClientClosedError, match="client was closed"):
        async with client.chat(conversation.id).stream("/slow") as stream:
            async for event in stream:
                if isinstance(event, MessageChunkEvent):
                    await client.close()


async def test_final_text_raises_at_an_interrupt_and_reads_on_after_decide(
    llmrix_client: LlmrixClient,
) -> None:
    from llmrix import RunPausedError

    conversation = await llmrix_client.conversations.create("t")
    chat = llmrix_client.chat(conversation.id)
    async with chat.stream("wipe it /hitl") as stream:
        with pytest.raises(RunPausedError, match="dangerous_action") as info:
            await stream.final_text()
        assert info.value.interrupt is stream.interrupt
        await stream.decide([HitlDecision.approve()])
        text = await stream.final_text()
    assert text.startswith('You said: "wipe it /hitl"')
    assert "approved" in text
    with pytest.raises(RunPausedError):
        await asyncio.wait_for(chat.complete("again /hitl"), 10)
    async with chat.stream("once more /hitl") as stream:
        with pytest.raises(RunPausedError):
            [piece async for piece in stream.text_stream]


async def test_decide_on_a_paused_stream_resumes_it(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    llmrix_server.faults = FaultOptions(end_at_interrupt=True)
    conversation = await llmrix_client.conversations.create("t")
    async with llmrix_client.chat(conversation.id).stream("tidy up /hitl") as stream:
        first = [event async for event in stream]
        assert isinstance(first[-1], HitlInterruptEvent)
        await stream.decide([HitlDecision.reject("not now")])
        assert stream.interrupt is None
        second = [event async for event in stream]
    assert isinstance(second[-1], RunEndEvent)
    assert "not now" in text_of(second)
    resumed = llmrix_server.requests[-1]
    assert resumed.raw_path.endswith("/chat")
    assert resumed.json()["hitl_decisions"] == [{"decision": "reject", "reason": "not now"}]
    assert acquired(llmrix_client) == 0
    with pytest.raises(RuntimeError, match="hitl_decisions"):
        async with llmrix_client.chat(conversation.id).stream("/hitl") as stream:
            [event async for event in stream]
        await stream.decide([HitlDecision.approve()])


async def test_string_seq_cursors_page_end_to_end() -> None:
    async with DevServer(string_seq=True) as server, LlmrixClient(server.base_url) as client:
        created = [await client.conversations.create(f"c{i}") for i in range(5)]
        assert all(isinstance(c.seq, str) for c in created)
        seen = [c.id async for c in client.conversations.iter(size=2)]
        assert seen == [c.id for c in reversed(created)]
        chat = client.chat(created[0].id)
        for word in ("one", "two", "three"):
            await chat.complete(word)
        messages = [m async for m in client.conversations.iter_messages(created[0].id, size=2)]
        assert [m.seq for m in messages] == [f"seq-{n}" for n in range(1, 7)]
        assert [m.role for m in messages] == ["user", "assistant"] * 3


async def test_failing_tool_and_subagent_events(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    events = await run(llmrix_client, conversation.id, "x /tool_error fetch /subagent_error aide")
    tool_end = next(e for e in events if isinstance(e, ToolEndEvent))
    subagent_end = next(e for e in events if isinstance(e, SubagentEndEvent))
    assert (tool_end.name, tool_end.error) == ("fetch", True)
    assert (subagent_end.agent_name, subagent_end.error) == ("aide", True)


async def test_every_decision_reaches_the_run(llmrix_client: LlmrixClient) -> None:
    conversation = await llmrix_client.conversations.create("t")
    chat = llmrix_client.chat(conversation.id)
    async with chat.stream("sweep /hitl 2 /ts") as stream:
        async for event in stream:
            if isinstance(event, HitlInterruptEvent):
                assert len(event.action_requests) == 2
                with pytest.raises(UnprocessableEntityError, match="send 2 decisions, not 1"):
                    await stream.decide([HitlDecision.approve()])
                await stream.decide([HitlDecision.approve(), HitlDecision.reject("no")])
    history = [m async for m in llmrix_client.conversations.iter_messages(conversation.id)]
    reply = history[-1].content or ""
    assert 'on "sweep #1" was approved and ran.' in reply
    assert 'on "sweep #2" was rejected: no.' in reply


@pytest.mark.parametrize("shape", ["", " /ts"])
async def test_event_requests_lists_exactly_the_decisions_to_send(
    llmrix_client: LlmrixClient, shape: str
) -> None:
    conversation = await llmrix_client.conversations.create("t")
    asked: list[int] = []
    async with llmrix_client.chat(conversation.id).stream(f"sweep /hitl 2{shape}") as stream:
        async for event in stream:
            if isinstance(event, HitlInterruptEvent):
                asked.append(len(event.requests))
                await stream.decide([HitlDecision.approve() for _ in event.requests])
    assert asked == ([2] if shape else [1, 1])
    history = [m async for m in llmrix_client.conversations.iter_messages(conversation.id)]
    assert 'on "sweep #2" was approved and ran.' in (history[-1].content or "")


@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [("forbidden", 403, AuthenticationError), ("unconfigured", 503, InternalServerError)],
)
async def test_auth_modes_map_to_errors(mode: Any, status: int, error: type[APIError]) -> None:
    async with (
        DevServer(auth_mode=mode) as server,
        LlmrixClient(server.base_url, max_retries=0) as client,
    ):
        with pytest.raises(error) as info:
            await client.conversations.create("t")
        assert info.value.status_code == status


async def test_every_create_takes_its_fields_by_keyword_or_the_first_by_position(
    llmrix_client: LlmrixClient,
) -> None:
    by_keyword = (
        await llmrix_client.conversations.create(title="kw"),
        await llmrix_client.agents.create(name="kw"),
        await llmrix_client.cron.create(name="kw", prompt="p", schedule_expr="0 9 * * *"),
    )
    by_position = (
        await llmrix_client.conversations.create("pos"),
        await llmrix_client.agents.create("pos"),
        await llmrix_client.cron.create("pos", prompt="p", schedule_expr="0 9 * * *"),
    )
    assert [c.title for c in (by_keyword[0], by_position[0])] == ["kw", "pos"]
    assert [a.name for a in (by_keyword[1], by_position[1])] == ["kw", "pos"]
    assert [t.name for t in (by_keyword[2], by_position[2])] == ["kw", "pos"]
