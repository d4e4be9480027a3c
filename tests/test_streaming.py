"""ChatStream against tiny scripted SSE servers: iteration rules, helpers, cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from _support import ServeApp, acquired, chunk, frame
from aiohttp import web

from llmrix import (
    APIResponseValidationError,
    CancelledEvent,
    ChatRequest,
    ErrorEvent,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    MessageChunkEvent,
    RunEndEvent,
    RunStartEvent,
    StreamError,
    StreamEvent,
    ToolStartEvent,
    UnknownEvent,
)
from llmrix.errors import AuthenticationError, InternalServerError

CHAT = "/api/open/v1/conversations/{id}/chat"
RECEIVED = web.AppKey("received", list)


RUN_START = frame({"channel": "lifecycle", "type": "run_start", "run_id": "r1"}, "lifecycle")
RUN_END = frame({"channel": "lifecycle", "type": "run_end", "run_id": "r1"}, "lifecycle")
HITL = frame({"channel": "hitl", "type": "hitl_interrupt", "id": "h1", "action_name": "rm"})


def sse_app(*parts: bytes, hold: asyncio.Event | None = None) -> web.Application:
    """An app whose chat endpoint writes ``parts`` (then optionally waits on ``hold``)."""
    received: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        received.append(await request.json())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for part in parts:
            await response.write(part)
        if hold is not None:
            await hold.wait()
        return response

    app = web.Application()
    app[RECEIVED] = received
    app.router.add_post(CHAT, chat)
    return app


async def collect(client: LlmrixClient, message: str = "hi") -> list[StreamEvent]:
    async with client.chat("c1").stream(message) as stream:
        return [event async for event in stream]


async def test_events_in_order_and_heartbeats_never_reach_the_caller(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    app = sse_app(
        RUN_START,
        b": ping\n\n",
        chunk("Hel"),
        b'event: heartbeat\ndata: {"channel":"heartbeat","type":""}\n\n',
        b"data: :ping\n\n",
        b'data: {"channel":"heartbeat","type":""}\n\n',
        chunk("lo"),
        RUN_END,
    )
    client = make_client(await serve(app))
    events = await collect(client)
    assert [type(e) for e in events] == [
        RunStartEvent,
        MessageChunkEvent,
        MessageChunkEvent,
        RunEndEvent,
    ]
    assert acquired(client) == 0


@pytest.mark.parametrize("terminal", [RUN_END, frame({"type": "error", "message": "x"})])
async def test_iteration_stops_after_terminal_event(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], terminal: bytes
) -> None:
    hold = asyncio.Event()
    app = sse_app(RUN_START, terminal, chunk("never seen"), hold=hold)
    client = make_client(await serve(app))
    events = await asyncio.wait_for(collect(client), 5)
    hold.set()
    assert len(events) == 2
    assert events[-1].terminal
    assert acquired(client) == 0


async def test_truncated_stream_raises_after_yielding_what_came(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(RUN_START, chunk("partial"))))
    seen: list[StreamEvent] = []
    with pytest.raises(StreamError, match="ended before the run finished"):
        async with client.chat("c1").stream("hi") as stream:
            async for event in stream:
                seen.append(event)
    assert [type(e) for e in seen] == [RunStartEvent, MessageChunkEvent]
    assert acquired(client) == 0


async def test_last_frame_without_blank_line_still_counts(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(RUN_START, RUN_END.rstrip(b"\n"))))
    events = await collect(client)
    assert isinstance(events[-1], RunEndEvent)


async def test_stream_ending_at_interrupt_is_a_pause(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(RUN_START, chunk("a"), HITL, b": ping\n\n")))
    async with client.chat("c1").stream("hi") as stream:
        events = [event async for event in stream]
        assert isinstance(events[-1], HitlInterruptEvent)
        assert stream.interrupt is not None
        assert stream.interrupt.action_name == "rm"
        assert stream.run_id == "r1"


async def test_resume_with_hitl_decisions_sends_them(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    app = sse_app(chunk("approved"), RUN_END)
    client = make_client(await serve(app))
    async with client.chat("c1").stream(
        "continue", hitl_decisions=[HitlDecision.reject("too risky")]
    ) as stream:
        assert await stream.final_text() == "approved"
    assert app[RECEIVED] == [
        {"message": "continue", "hitl_decisions": [{"decision": "reject", "reason": "too risky"}]}
    ]


async def test_request_body_omits_unset_fields(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    app = sse_app(RUN_END)
    client = make_client(await serve(app))
    await collect(client, "plain")
    request = ChatRequest(message="m", model="openai:gpt-4o", thinking=False, metadata={"k": 1})
    async with client.chat("c1").stream_request(request) as stream:
        [event async for event in stream]
    assert app[RECEIVED] == [
        {"message": "plain"},
        {"message": "m", "metadata": {"k": 1}, "model": "openai:gpt-4o", "thinking": False},
    ]


async def test_unknown_event_is_yielded(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    unknown = frame({"channel": "usage", "type": "tokens", "n": 3}, "usage")
    client = make_client(await serve(sse_app(unknown, RUN_END)))
    events = await collect(client)
    assert events[0] == UnknownEvent(
        channel="usage", type="tokens", data={"channel": "usage", "type": "tokens", "n": 3}
    )


async def test_malformed_json_raises_with_the_text(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(RUN_START, b"data: {oops\n\n", RUN_END)))
    with pytest.raises(StreamError, match=r"malformed JSON.*\{oops"):
        await collect(client)
    assert acquired(client) == 0


async def test_non_2xx_raises_on_enter_before_any_event(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def chat(request: web.Request) -> web.Response:
        return web.json_response({"message": "bad key"}, status=401)

    app = web.Application()
    app.router.add_post(CHAT, chat)
    client = make_client(await serve(app))
    stream = client.chat("c1").stream("hi")
    with pytest.raises(AuthenticationError, match="bad key"):
        await stream.__aenter__()
    assert acquired(client) == 0


async def test_non_sse_answer_is_a_clear_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def chat(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post(CHAT, chat)
    client = make_client(await serve(app))
    with pytest.raises(
        APIResponseValidationError, match="expected text/event-stream, got 'text/html'"
    ):
        await collect(client)
    assert acquired(client) == 0


async def test_text_stream_final_text_and_complete(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    tool = frame({"type": "tool_start", "name": "t"})
    client = make_client(await serve(sse_app(RUN_START, chunk("Hel"), tool, chunk("lo"), RUN_END)))
    async with client.chat("c1").stream("hi") as stream:
        assert [piece async for piece in stream.text_stream] == ["Hel", "lo"]
    async with client.chat("c1").stream("hi") as stream:
        first = await stream.__anext__()
        assert isinstance(first, RunStartEvent)
        second = await stream.__anext__()
        assert isinstance(second, MessageChunkEvent)
        assert await stream.final_text() == "Hello"
        assert stream.snapshot.text == "Hello"
    assert await client.chat("c1").complete_text("hi") == "Hello"
    snapshot = await client.chat("c1").complete("hi")
    assert (snapshot.text, snapshot.status, snapshot.run_id) == ("Hello", "finished", "r1")
    assert [call.name for call in snapshot.tool_calls] == ["t"]
    assert acquired(client) == 0


async def test_final_text_raises_the_servers_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    error = frame({"type": "error", "message": "model overloaded", "error_code": "E503"})
    client = make_client(await serve(sse_app(RUN_START, chunk("a"), error)))
    with pytest.raises(StreamError, match="model overloaded") as info:
        await client.chat("c1").complete("hi")
    assert isinstance(info.value.event, ErrorEvent)
    assert info.value.event.error_code == "E503"


async def test_send_with_sync_and_async_handlers(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(RUN_START, chunk("x"), RUN_END)))
    seen: list[str] = []
    await client.chat("c1").send("hi", lambda event: seen.append(event.type))

    async def handler(event: StreamEvent) -> None:
        await asyncio.sleep(0)
        seen.append("async:" + event.type)

    await client.chat("c1").send_request(ChatRequest(message="hi"), handler)
    assert seen == [
        "run_start",
        "message_chunk",
        "run_end",
        "async:run_start",
        "async:message_chunk",
        "async:run_end",
    ]


async def test_handler_exception_aborts_and_releases(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    hold = asyncio.Event()
    client = make_client(await serve(sse_app(RUN_START, chunk("x"), hold=hold)))

    def handler(event: StreamEvent) -> None:
        if isinstance(event, MessageChunkEvent):
            raise KeyError("handler failed")

    with pytest.raises(KeyError, match="handler failed"):
        await client.chat("c1").send("hi", handler)
    hold.set()
    assert acquired(client) == 0


@pytest.mark.parametrize("how", ["break", "raise", "cancel"])
async def test_leaving_early_releases_the_connection(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], how: str
) -> None:
    hold = asyncio.Event()
    client = make_client(await serve(sse_app(RUN_START, chunk("x"), hold=hold)))
    started = asyncio.Event()

    async def consume() -> None:
        async with client.chat("c1").stream("hi") as stream:
            async for event in stream:
                if isinstance(event, MessageChunkEvent):
                    if how == "break":
                        break
                    if how == "raise":
                        raise RuntimeError("user code failed")
                    started.set()

    for _ in range(20):
        if how == "cancel":
            task = asyncio.create_task(consume())
            await asyncio.wait_for(started.wait(), 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            started.clear()
        elif how == "raise":
            with pytest.raises(RuntimeError):
                await consume()
        else:
            await consume()
        assert acquired(client) == 0
    hold.set()


async def test_stop_and_decide_from_inside_the_loop(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    """A scripted run: interrupt, decide mid-loop, then stop mid-loop, same connection."""
    decided = asyncio.Event()
    stopped = asyncio.Event()
    decisions: list[Any] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(RUN_START + HITL)
        await asyncio.wait_for(decided.wait(), 5)
        await response.write(chunk("approved; working"))
        await asyncio.wait_for(stopped.wait(), 5)
        await response.write(frame({"channel": "error", "type": "cancelled", "reason": "user"}))
        return response

    async def decide(request: web.Request) -> web.Response:
        decisions.append(await request.json())
        decided.set()
        return web.Response(status=204)

    async def stop(request: web.Request) -> web.Response:
        stopped.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(CHAT, chat)
    app.router.add_post(CHAT + "/hitl/decide", decide)
    app.router.add_post(CHAT + "/stop", stop)
    client = make_client(await serve(app))
    events: list[StreamEvent] = []
    async with client.chat("c1").stream("go") as stream:
        async for event in stream:
            events.append(event)
            if isinstance(event, HitlInterruptEvent):
                assert stream.interrupt is event
                await stream.decide([HitlDecision.modify({"path": "/tmp/x"})])
                assert stream.interrupt is None
            elif isinstance(event, MessageChunkEvent):
                await stream.stop()
    assert [type(e) for e in events] == [
        RunStartEvent,
        HitlInterruptEvent,
        MessageChunkEvent,
        CancelledEvent,
    ]
    assert decisions == [
        {"decisions": [{"decision": "modify", "modified_args": {"path": "/tmp/x"}}]}
    ]
    assert acquired(client) == 0


async def test_decide_with_no_decisions_is_a_value_error(
    make_client: Callable[..., LlmrixClient],
) -> None:
    client = make_client("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="at least one"):
        await client.chat("c1").decide([])
    with pytest.raises(ValueError, match="at least one"):
        await client.chat("c1").stream("hi").decide([])
    with pytest.raises(ValueError, match="at least one"):
        client.chat("c1").stream("hi", hitl_decisions=[])


async def test_server_error_status_maps_on_stream(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def chat(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Bad Gateway</h1>", status=502, content_type="text/html")

    app = web.Application()
    app.router.add_post(CHAT, chat)
    client = make_client(await serve(app), max_retries=0)
    with pytest.raises(InternalServerError) as info:
        await collect(client)
    assert info.value.status_code == 502
    assert "Bad Gateway" in info.value.message


async def test_stream_entered_twice_is_an_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(RUN_END)))
    stream = client.chat("c1").stream("hi")
    async with stream:
        [e async for e in stream]
    with pytest.raises(RuntimeError, match="only once"):
        await stream.__aenter__()


async def test_iterating_without_entering_is_an_error(
    make_client: Callable[..., LlmrixClient],
) -> None:
    stream = make_client("http://127.0.0.1:9").chat("c1").stream("hi")
    with pytest.raises(RuntimeError, match="async with"):
        await stream.__anext__()


async def test_tool_event_fields_reach_the_caller(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    tool = frame(
        {"channel": "tools", "type": "tool_start", "id": "t", "name": "n", "args": {"a": 1}}
    )
    client = make_client(await serve(sse_app(tool, RUN_END)))
    events = await collect(client)
    assert events[0] == ToolStartEvent(id="t", name="n", args={"a": 1})


async def test_events_before_a_bad_frame_are_yielded_first(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(sse_app(RUN_START + chunk("kept") + b"data: {oops\n\n")))
    seen: list[StreamEvent] = []
    with pytest.raises(StreamError, match="malformed JSON"):
        async with client.chat("c1").stream("hi") as stream:
            async for event in stream:
                seen.append(event)
    assert [type(e) for e in seen] == [RunStartEvent, MessageChunkEvent]
    assert acquired(client) == 0


async def test_close_after_an_answered_interrupt_is_not_a_pause(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    hold = asyncio.Event()

    async def decide(request: web.Request) -> web.Response:
        hold.set()
        return web.Response(status=204)

    app = sse_app(RUN_START, HITL, hold=hold)
    app.router.add_post(CHAT + "/hitl/decide", decide)
    client = make_client(await serve(app))
    with pytest.raises(StreamError, match="ended before the run finished"):
        async with client.chat("c1").stream("go") as stream:
            async for event in stream:
                if isinstance(event, HitlInterruptEvent):
                    await stream.decide([HitlDecision.approve()])
