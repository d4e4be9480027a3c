"""The run as a value: RunSnapshot, until_done(), batches(), text keeping."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from _support import ServeApp, acquired, chunk, frame
from aiohttp import web
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llmrix import (
    CancelledEvent,
    ChatRequest,
    ErrorEvent,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    MessageChunkEvent,
    RubricEndEvent,
    RunEndEvent,
    RunPausedError,
    RunSnapshot,
    RunStartEvent,
    StreamError,
    StreamEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
    UnknownEvent,
)
from llmrix.devserver import DevServer, FaultOptions
from llmrix.snapshot import SnapshotUpdater

CHAT = "/api/open/v1/conversations/{id}/chat"
HEADERS = web.AppKey("headers", list)


RUN_START = frame({"type": "run_start", "run_id": "r1", "thread_id": "c1"})
RUN_END = frame({"type": "run_end", "run_id": "r1", "thread_id": "c1"})
HEARTBEAT = b'event: heartbeat\ndata: {"channel":"heartbeat","type":""}\n\n'

MIXED_RUN = [
    RUN_START,
    chunk("Hel"),
    frame({"type": "tool_start", "id": "t1", "name": "search", "args": {"q": "cats"}}),
    frame({"type": "tool_start", "tool_call_id": "t2", "name": "fetch", "input": {"u": 1}}),
    HEARTBEAT,
    frame({"type": "tool_end", "tool_call_id": "t2", "name": "fetch", "output": {"ok": True}}),
    frame({"type": "tool_end", "id": "t1", "name": "search", "result": "3 hits", "error": True}),
    frame({"type": "tool_end", "id": "t9", "name": "orphan", "result": "late"}),
    frame({"type": "subagent_start", "id": "s1", "agent_name": "critic"}),
    frame({"type": "subagent_start", "tool_call_id": "s2", "name": "helper", "input": "plan"}),
    frame({"type": "subagent_end", "tool_call_id": "s2", "name": "helper", "output": "done"}),
    frame({"type": "subagent_end", "id": "s1", "agent_name": "critic", "error": True}),
    frame({"type": "rubric_evaluation_end", "iteration": 1, "result": "pass"}),
    b": ping\n\n",
    chunk("lo"),
    RUN_END,
]


def sse_app(*parts: bytes, hold: asyncio.Event | None = None, cuts: int = 0) -> web.Application:
    """A chat endpoint writing ``parts``; ``cuts`` > 0 rewrites the bytes in random pieces."""
    seen: list[dict[str, str]] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        pieces: list[bytes] = list(parts)
        if cuts:
            data = b"".join(parts)
            rng = random.Random(cuts)
            marks = sorted(rng.sample(range(1, len(data)), min(cuts, len(data) - 1)))
            pieces = [data[a:b] for a, b in zip([0, *marks], [*marks, len(data)], strict=True)]
        for piece in pieces:
            await response.write(piece)
            await asyncio.sleep(0)
        if hold is not None:
            await hold.wait()
        return response

    app = web.Application()
    app[HEADERS] = seen
    app.router.add_post(CHAT, chat)
    return app


def check_mixed(snapshot: RunSnapshot) -> None:
    assert (snapshot.run_id, snapshot.thread_id, snapshot.status) == ("r1", "c1", "finished")
    assert snapshot.text == "Hello"
    calls = [
        (c.name, c.call_id, c.arguments, c.result, c.is_error, c.done) for c in snapshot.tool_calls
    ]
    assert calls == [
        ("search", "t1", {"q": "cats"}, "3 hits", True, True),
        ("fetch", "t2", {"u": 1}, {"ok": True}, False, True),
        ("orphan", "t9", None, "late", False, True),
    ]
    agents = [
        (a.name, a.call_id, a.input, a.output, a.is_error, a.done) for a in snapshot.subagents
    ]
    assert agents == [
        ("critic", "s1", {}, "", True, True),
        ("helper", "s2", "plan", "done", False, True),
    ]
    assert [r.result for r in snapshot.rubric_results] == ["pass"]
    assert snapshot.interrupt is None and snapshot.error is None


async def test_snapshot_pairs_both_shapes_and_follows_each_event(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(*MIXED_RUN)))
    async with client.chat("c1").stream("hi") as stream:
        assert stream.snapshot.status == "running"
        assert stream.snapshot.tool_calls == []
        texts = []
        async for event in stream:
            texts.append(stream.snapshot.text)
            if isinstance(event, RunStartEvent):
                assert stream.snapshot.run_id == "r1"
            if event.type == "tool_start":
                assert not stream.snapshot.tool_calls[-1].done
        assert texts[:2] == ["", "Hel"]
        assert texts[-1] == "Hello"
        check_mixed(stream.snapshot)
    assert acquired(client) == 0


@pytest.mark.parametrize("cuts", [0, 7, 40, 400])
async def test_batches_and_events_give_the_same_run_under_any_chunking(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], cuts: int
) -> None:
    client = make_client(await serve(sse_app(*MIXED_RUN, chunk("never seen"), cuts=cuts)))
    async with client.chat("c1").stream("hi") as stream:
        one_by_one = [event async for event in stream]
    async with client.chat("c1").stream("hi") as stream:
        lists = [events async for events in stream.batches()]
        check_mixed(stream.snapshot)
    assert all(lists) and [e for events in lists for e in events] == one_by_one
    assert isinstance(one_by_one[-1], RunEndEvent)
    assert len(one_by_one) == 14
    assert acquired(client) == 0


async def test_until_done_gives_the_whole_run_after_partial_iteration(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(*MIXED_RUN)))
    async with client.chat("c1").stream("hi") as stream:
        await stream.__anext__()
        await stream.__anext__()
        snapshot = await stream.until_done()
        assert snapshot is stream.snapshot
        check_mixed(snapshot)
        assert await stream.until_done() is snapshot
    check_mixed(await client.chat("c1").complete("hi"))


async def test_mixing_the_event_loop_and_batches_loses_nothing(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(b"".join(MIXED_RUN))))
    async with client.chat("c1").stream("hi") as stream:
        first = [await stream.__anext__(), await stream.__anext__()]
        rest = [e async for events in stream.batches() for e in events]
    assert [type(e) for e in first] == [RunStartEvent, MessageChunkEvent]
    assert len(first + rest) == 14


async def test_keep_text_off_keeps_everything_but_the_text(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(*MIXED_RUN)))
    async with client.chat("c1").stream("hi", keep_text=False) as stream:
        snapshot = await stream.until_done()
        assert snapshot.keeps_text is False
        with pytest.raises(RuntimeError, match="keep_text=False"):
            _ = snapshot.text
        with pytest.raises(RuntimeError, match="keep_text=True"):
            await stream.final_text()
        assert "not kept" in repr(snapshot)
        assert len(snapshot.tool_calls) == 3
        assert snapshot.status == "finished"


async def test_long_text_is_kept_whole(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    pieces = [f"{n} " for n in range(5000)]
    client = make_client(await serve(sse_app(RUN_START, *map(chunk, pieces), RUN_END, cuts=50)))
    async with client.chat("c1").stream("hi") as stream:
        async for _ in stream:
            pass
        assert stream.snapshot.text == "".join(pieces)
    assert await client.chat("c1").complete_text("hi") == "".join(pieces)


async def test_failed_cancelled_and_cut_off_runs(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    error = frame({"type": "error", "message": "overloaded", "error_code": "E1"})
    client = make_client(await serve(sse_app(RUN_START, chunk("a"), error)))
    async with client.chat("c1").stream("hi") as stream:
        with pytest.raises(StreamError, match="overloaded") as info:
            await stream.until_done()
        assert stream.snapshot.status == "failed"
        assert stream.snapshot.error is info.value.event
        assert stream.snapshot.text == "a"
    cancelled = frame({"type": "cancelled", "reason": "stopped by user"})
    client = make_client(await serve(sse_app(RUN_START, cancelled)))
    snapshot = await client.chat("c1").complete("hi")
    assert snapshot.status == "cancelled"
    assert isinstance(snapshot.cancelled, CancelledEvent)
    assert snapshot.cancelled.reason == "stopped by user"
    client = make_client(await serve(sse_app(RUN_START, chunk("cut"))))
    async with client.chat("c1").stream("hi") as stream:
        with pytest.raises(StreamError, match="no terminal event"):
            await stream.until_done()
        assert stream.snapshot.status == "failed"


async def test_until_done_pauses_at_an_open_interrupt_and_batches_can_decide(
    llmrix_client: LlmrixClient,
) -> None:
    conversation = await llmrix_client.conversations.create("t")
    chat = llmrix_client.chat(conversation.id)
    async with chat.stream("wipe /hitl") as stream:
        with pytest.raises(RunPausedError) as info:
            await asyncio.wait_for(stream.until_done(), 10)
        assert stream.snapshot.status == "paused"
        assert stream.snapshot.interrupt is info.value.interrupt is stream.interrupt
        await stream.decide([HitlDecision.approve()])
        assert stream.snapshot.status == "running"
        assert stream.snapshot.interrupt is None
        snapshot = await stream.until_done()
    assert snapshot.status == "finished"
    assert snapshot.text.startswith('You said: "wipe /hitl"')
    assert "approved" in snapshot.text
    seen: list[StreamEvent] = []
    async with chat.stream("again /hitl") as stream:
        async for events in stream.batches():
            seen += events
            if stream.interrupt is not None:
                await stream.decide([HitlDecision.reject("no")])
    assert isinstance(seen[-1], RunEndEvent)
    assert any(isinstance(e, HitlInterruptEvent) for e in seen)
    assert acquired(llmrix_client) == 0


async def test_batches_resume_a_paused_stream_and_stop_inside_batches(
    llmrix_server: DevServer, llmrix_client: LlmrixClient
) -> None:
    llmrix_server.faults = FaultOptions(end_at_interrupt=True)
    conversation = await llmrix_client.conversations.create("t")
    chat = llmrix_client.chat(conversation.id)
    seen: list[StreamEvent] = []
    async with chat.stream("tidy /hitl") as stream:
        seen += [event async for events in stream.batches() for event in events]
        assert stream.snapshot.status == "paused"
        await stream.decide([HitlDecision.approve()])
        seen += [event async for events in stream.batches() for event in events]
        assert stream.snapshot.status == "finished"
        assert "approved" in stream.snapshot.text
    assert sum(isinstance(e, RunStartEvent) for e in seen) >= 1
    llmrix_server.faults = FaultOptions()
    async with chat.stream("/slow") as stream:
        async for events in stream.batches():
            if any(isinstance(e, MessageChunkEvent) for e in events):
                await stream.stop()
    assert stream.snapshot.status == "cancelled"
    assert acquired(llmrix_client) == 0


async def test_stream_sends_no_cache_and_rejects_empty_decisions_in_a_request(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    app = sse_app(RUN_START, RUN_END)
    client = make_client(await serve(app))
    await client.chat("c1").complete("hi")
    assert app[HEADERS][0]["Accept"] == "text/event-stream"
    assert app[HEADERS][0]["Cache-Control"] == "no-cache"
    with pytest.raises(ValueError, match="at least one HitlDecision"):
        client.chat("c1").stream(ChatRequest(message="hi", hitl_decisions=[]))
    with pytest.raises(ValueError, match="at least one HitlDecision"):
        await client.chat("c1").complete(ChatRequest(message="hi", hitl_decisions=[]))
    with pytest.raises(TypeError, match="request object or fields, not both"):
        client.chat("c1").stream(ChatRequest(message="hi"), model="m")
    snapshot = await client.chat("c1").complete(ChatRequest(message="hi", model="m"))
    assert snapshot.status == "finished"
    assert len(app[HEADERS]) == 2


async def test_a_stalled_stream_fails_the_snapshot_and_a_cancelled_read_does_not(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    from llmrix import APITimeoutError

    hold = asyncio.Event()
    client = make_client(await serve(sse_app(RUN_START, chunk("a"), hold=hold)))
    async with client.chat("c1").stream("hi", stream_idle_timeout=0.1) as stream:
        with pytest.raises(APITimeoutError):
            await stream.until_done()
        assert (stream.snapshot.status, stream.snapshot.text) == ("failed", "a")
    async with client.chat("c1").stream("hi") as stream:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(stream.until_done(), 0.1)
        assert stream.snapshot.status == "running"
    hold.set()
    assert acquired(client) == 0


EVENTS = st.sampled_from(
    [
        RunStartEvent(run_id="r1", thread_id="c1"),
        MessageChunkEvent(content="a"),
        MessageChunkEvent(content="bc"),
        MessageChunkEvent(content=""),
        ToolStartEvent(id="t1", name="x", args={"q": 1}),
        ToolEndEvent(id="t1", name="x", raw_result="ok"),
        ToolStartEvent(tool_call_id="t2", name="y", input=[1]),
        ToolEndEvent(tool_call_id="t2", name="y", output={"o": 1}, error=True),
        ToolStartEvent(name="anonymous"),
        ToolEndEvent(name="anonymous", raw_result="done"),
        SubagentStartEvent(id="s1", agent_name="critic"),
        SubagentEndEvent(tool_call_id="s1", name="critic", output="fine"),
        HitlInterruptEvent(id="h1", action_name="rm"),
        HitlInterruptEvent(id="h2", action_requests=[]),
        RubricEndEvent(iteration=1, result="pass"),
        UnknownEvent(channel="audit", type="error"),
    ]
)
TERMINALS = st.sampled_from(
    [None, RunEndEvent(run_id="r1"), ErrorEvent(message="x"), CancelledEvent(reason="stop")]
)


def state(updater: SnapshotUpdater) -> tuple[Any, ...]:
    s = updater.snapshot
    return (
        s.run_id,
        s.thread_id,
        s.status,
        s.text,
        s.tool_calls,
        s.subagents,
        s.interrupt,
        s.error,
        s.cancelled,
        s.rubric_results,
    )


@settings(max_examples=300, deadline=None)
@example(
    events=[HitlInterruptEvent(id="h"), MessageChunkEvent(content="a")], terminal=None, cuts=[]
)
@example(events=[ToolStartEvent(id="t"), HitlInterruptEvent(id="h")], terminal=None, cuts=[1])
@given(
    events=st.lists(EVENTS, max_size=40),
    terminal=TERMINALS,
    cuts=st.lists(st.integers(min_value=0, max_value=41), max_size=8),
)
def test_any_split_into_reads_gives_the_snapshot_of_one_event_at_a_time(
    events: list[StreamEvent], terminal: StreamEvent | None, cuts: list[int]
) -> None:
    if terminal is not None:
        events = [*events, terminal]
    one_by_one = SnapshotUpdater(keep_text=True)
    for event in events:
        one_by_one.apply([event])
    marks = sorted({0, len(events), *(c for c in cuts if c <= len(events))})
    split = SnapshotUpdater(keep_text=True)
    for start, stop in pairwise(marks):
        split.apply(events[start:stop])
    assert state(split) == state(one_by_one)
    chunks = [e.content for e in events if isinstance(e, MessageChunkEvent)]
    assert split.snapshot.text == "".join(chunks)
    snapshot = split.snapshot
    assert len(snapshot.tool_calls) >= sum(isinstance(e, ToolStartEvent) for e in events)
    if terminal is not None:
        expected = {RunEndEvent: "finished", ErrorEvent: "failed", CancelledEvent: "cancelled"}
        assert snapshot.status == expected[type(terminal)]
    elif events:
        paused = isinstance(events[-1], HitlInterruptEvent)
        assert snapshot.status == ("paused" if paused else "running")
        assert (snapshot.interrupt is events[-1]) is paused


def test_calls_sent_without_ids_pair_by_name() -> None:
    updater = SnapshotUpdater(keep_text=False)
    updater.apply([ToolStartEvent(name="grep"), SubagentStartEvent(name="critic")])
    ends = [ToolEndEvent(name="grep", raw_result="3"), SubagentEndEvent(agent_name="critic")]
    updater.apply(ends)
    (call,) = updater.snapshot.tool_calls
    (agent,) = updater.snapshot.subagents
    assert (call.name, call.result, call.done) == ("grep", "3", True)
    assert (agent.name, agent.done) == ("critic", True)
