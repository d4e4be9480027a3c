"""Native OpenTelemetry: turn spans, tool and sub-agent spans, HITL events, exits, propagation."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from _otel_support import Otel, otel_setup
from _support import ServeApp, chunk, frame
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from llmrix import (
    ClientClosedError,
    HitlDecision,
    LlmrixClient,
    StreamError,
    UnprocessableEntityError,
)
from llmrix.devserver import DevServer
from llmrix.sync import LlmrixClient as SyncClient

SECRET = "sk-otel-SECRET-42"
CHAT = "/api/open/v1/conversations/{id}/chat"
SHAPES = pytest.mark.parametrize("shape", ["", " /ts"], ids=["primary", "typescript"])


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from otel_setup()


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(port=0, api_key=SECRET) as dev:
        yield dev


@pytest.fixture
def traced(
    otel: Otel, make_client: Callable[..., LlmrixClient], server: DevServer
) -> Callable[..., LlmrixClient]:
    def make(**options: Any) -> LlmrixClient:
        return make_client(server.base_url, api_key=SECRET, **{**otel.options, **options})

    return make


async def new_conversation(client: LlmrixClient) -> str:
    return (await client.conversations.create("otel")).id


def by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in spans}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def events(span: ReadableSpan, name: str) -> list[dict[str, Any]]:
    return [dict(event.attributes or {}) for event in span.events if event.name == name]


def chat_app(body: Callable[[dict[str, Any]], bytes]) -> web.Application:
    """A server whose chat turn streams ``body(request JSON)`` and ends."""

    async def chat(request: web.Request) -> web.StreamResponse:
        data = body(await request.json())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(data)
        return response

    app = web.Application()
    app.router.add_post(CHAT, chat)
    return app


# --- the span tree ---------------------------------------------------------------------


@SHAPES
async def test_a_run_is_one_client_span_with_tool_and_subagent_children(
    otel: Otel, traced: Callable[..., LlmrixClient], server: DevServer, shape: str
) -> None:
    client = traced()
    conversation = await new_conversation(client)
    with otel.tracer.start_as_current_span("caller") as caller:
        async with client.chat(conversation).stream(
            "hi /tool lookup /tool_error broken /subagent helper" + shape,
            model="openai:gpt-4o",
            agent_id="agent-7",
        ) as stream:
            snapshot = await stream.until_done()
    [turn] = otel.turns()
    assert turn.name == "invoke_agent"
    assert turn.kind is SpanKind.CLIENT
    assert parent_of(turn) == caller.get_span_context().span_id
    attributes = dict(turn.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.provider.name"] == "llmrix"
    assert attributes["gen_ai.conversation.id"] == conversation
    assert attributes["gen_ai.agent.id"] == "agent-7"
    assert attributes["gen_ai.request.model"] == "openai:gpt-4o"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(server.base_url.rsplit(":", 1)[1])
    assert attributes["llmrix.run.id"] == snapshot.run_id
    assert attributes["llmrix.run.outcome"] == "finished"
    assert turn.status.status_code is StatusCode.UNSET

    tools = {span.name: span for span in otel.spans("execute_tool")}
    assert set(tools) == {"execute_tool lookup", "execute_tool broken"}
    calls = {call.name: call.call_id for call in snapshot.tool_calls}
    for name, span in tools.items():
        assert parent_of(span) == turn.context.span_id
        assert span.kind is SpanKind.INTERNAL
        tool_attributes = dict(span.attributes or {})
        assert tool_attributes["gen_ai.operation.name"] == "execute_tool"
        assert tool_attributes["gen_ai.tool.name"] == name.split()[1]
        assert tool_attributes["gen_ai.tool.call.id"] == calls[name.split()[1]]
    if not shape:  # the TypeScript shape carries no error flag
        assert tools["execute_tool broken"].status.status_code is StatusCode.ERROR
        assert dict(tools["execute_tool broken"].attributes or {})["error.type"] == "tool_error"
    assert tools["execute_tool lookup"].status.status_code is StatusCode.UNSET

    [agent] = [s for s in otel.spans("invoke_agent") if s.kind is SpanKind.INTERNAL]
    assert agent.name == "invoke_agent helper"
    assert parent_of(agent) == turn.context.span_id
    assert dict(agent.attributes or {})["gen_ai.agent.name"] == "helper"


def nested_app() -> web.Application:
    """The TypeScript shape with ``parent_ids``: a tool inside a sub-agent inside a sub-agent."""

    def tools(kind: str, call_id: str, parents: list[str], **fields: Any) -> bytes:
        body = {"channel": "tools", "type": kind, "tool_call_id": call_id, "parent_ids": parents}
        return frame({**body, **fields}, "tools")

    def body(_: dict[str, Any]) -> bytes:
        return (
            frame({"channel": "lifecycle", "type": "run_start", "run_id": "r1"}, "lifecycle")
            + tools("subagent_start", "s1", [], name="planner", input="plan it")
            + tools("subagent_start", "s2", ["s1"], name="researcher", input="look")
            + tools("tool_start", "t1", ["s1", "s2"], name="search", input={"q": "x"})
            + tools("tool_end", "t1", ["s1", "s2"], name="search", output="found")
            + tools("subagent_end", "s2", ["s1"], name="researcher", output="done")
            + tools("tool_start", "t2", ["s1"], name="write", input={})
            + tools("tool_end", "t2", ["s1"], name="write", output="ok")
            + tools("subagent_end", "s1", [], name="planner", output="all done")
            + frame({"channel": "lifecycle", "type": "run_end", "run_id": "r1"}, "lifecycle")
        )

    return chat_app(body)


async def test_sub_agents_nest_and_their_tools_nest_under_them_by_parent_ids(
    otel: Otel, serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(nested_app()), **otel.options)
    await client.chat("c1").complete("go")
    spans = {span.name: span for span in otel.spans()}
    turn = spans["invoke_agent"]
    planner, researcher = spans["invoke_agent planner"], spans["invoke_agent researcher"]
    assert parent_of(planner) == turn.context.span_id
    assert parent_of(researcher) == planner.context.span_id
    assert parent_of(spans["execute_tool search"]) == researcher.context.span_id
    assert parent_of(spans["execute_tool write"]) == planner.context.span_id
    assert all(span.context.trace_id == turn.context.trace_id for span in spans.values())


# --- HITL ------------------------------------------------------------------------------


@SHAPES
async def test_an_interrupt_and_its_decision_are_events_on_the_turn_span(
    otel: Otel, traced: Callable[..., LlmrixClient], shape: str
) -> None:
    client = traced()
    conversation = await new_conversation(client)
    async with client.chat(conversation).stream("delete it /hitl" + shape) as stream:
        async for _ in stream:
            if stream.interrupt is not None:
                await stream.decide([HitlDecision(decision="modify", modified_args={"x": 1})])
    [turn] = otel.turns()
    [interrupt] = events(turn, "llmrix.hitl.interrupt")
    assert interrupt["llmrix.hitl.action_names"] == ("dangerous_action",)
    assert "llmrix.hitl.arguments" not in interrupt
    assert "llmrix.hitl.description" not in interrupt
    assert events(turn, "llmrix.hitl.decision") == [{"llmrix.hitl.decision": "modify"}]
    assert dict(turn.attributes or {})["llmrix.run.outcome"] == "finished"
    [tool] = otel.spans("execute_tool")
    assert tool.name == "execute_tool dangerous_action"
    assert parent_of(tool) == turn.context.span_id
    [point] = [p for p in otel.points("llmrix.hitl.interrupts")]
    assert point.value == 1
    assert point.attributes["llmrix.hitl.action_name"] == "dangerous_action"


def refusing_app() -> web.Application:
    """Holds the stream at an interrupt; refuses the first decision, takes the second."""
    decided = asyncio.Event()
    calls: list[int] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(
            frame({"channel": "hitl", "type": "hitl_interrupt", "id": "h1", "action_name": "rm"})
        )
        await decided.wait()
        await response.write(frame({"channel": "lifecycle", "type": "run_end", "run_id": "r1"}))
        return response

    async def decide(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) == 1:
            return web.json_response({"message": "not now"}, status=422)
        decided.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(CHAT, chat)
    app.router.add_post(CHAT + "/hitl/decide", decide)
    return app


async def test_a_refused_decision_leaves_the_turn_span_as_it_was(
    otel: Otel, serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(refusing_app()), **otel.options)
    async with client.chat("c1").stream("go") as stream:
        async for _ in stream:
            if stream.interrupt is not None:
                with pytest.raises(UnprocessableEntityError):
                    await stream.decide([HitlDecision(decision="approve")])
                await stream.decide([HitlDecision(decision="reject")])
    assert outcome(otel) == ("finished", None, StatusCode.UNSET)
    [turn] = otel.turns()
    assert [e["llmrix.hitl.decision"] for e in events(turn, "llmrix.hitl.decision")] == [
        "approve",
        "reject",
    ]


def pausing_app() -> web.Application:
    """Ends the stream at the interrupt; a request with decisions finishes the run."""

    def body(request: dict[str, Any]) -> bytes:
        if not request.get("hitl_decisions"):
            return (
                frame({"channel": "lifecycle", "type": "run_start", "run_id": "r1"})
                + frame(
                    {
                        "channel": "tools",
                        "type": "tool_start",
                        "id": "t0",
                        "name": "prepare",
                        "args": {},
                    }
                )
                + frame(
                    {
                        "channel": "hitl",
                        "type": "hitl_interrupt",
                        "id": "h1",
                        "action_name": "delete_file",
                        "action_args": {"path": "old.tar"},
                        "description": "Delete old.tar",
                    }
                )
            )
        return (
            frame({"channel": "tools", "type": "tool_end", "id": "t0", "name": "prepare"})
            + chunk("deleted")
            + frame({"channel": "lifecycle", "type": "run_end", "run_id": "r1"})
        )

    return chat_app(body)


async def test_a_resume_after_a_pause_is_a_new_span_linked_to_the_paused_one(
    otel: Otel, serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(pausing_app()), **otel.options)
    async with client.chat("c1").stream("clean up") as stream:
        async for _ in stream:
            pass
        assert stream.interrupt is not None
        await stream.decide([HitlDecision(decision="approve")])
        async for _ in stream:
            pass
    paused, resumed = sorted(otel.turns(), key=lambda span: span.start_time or 0)
    assert dict(paused.attributes or {})["llmrix.run.outcome"] == "paused"
    assert dict(resumed.attributes or {})["llmrix.run.outcome"] == "finished"
    assert [link.context.span_id for link in resumed.links] == [paused.context.span_id]
    assert events(paused, "llmrix.hitl.interrupt")[0]["llmrix.hitl.action_names"] == (
        "delete_file",
    )
    assert events(resumed, "llmrix.hitl.decision") == [{"llmrix.hitl.decision": "approve"}]
    prepare = [span for span in otel.spans("execute_tool prepare")]
    assert [parent_of(span) for span in prepare] == [
        paused.context.span_id,
        resumed.context.span_id,
    ]
    assert dict(prepare[0].attributes or {})["llmrix.incomplete"] is True


async def test_a_resume_from_a_new_stream_links_to_the_pause_too(
    otel: Otel, serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(pausing_app()), **otel.options)
    chat = client.chat("c1")
    async with chat.stream("clean up") as stream:
        async for _ in stream:
            pass
    await chat.complete("", hitl_decisions=[HitlDecision(decision="approve")])
    paused, resumed = sorted(otel.turns(), key=lambda span: span.start_time or 0)
    assert [link.context.span_id for link in resumed.links] == [paused.context.span_id]


# --- every exit ends the span exactly once ----------------------------------------------


def outcome(otel: Otel) -> tuple[str, str | None, StatusCode]:
    [turn] = otel.turns()
    attributes = dict(turn.attributes or {})
    return attributes["llmrix.run.outcome"], attributes.get("error.type"), turn.status.status_code


async def test_an_error_event_fails_the_span(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    async with client.chat(await new_conversation(client)).stream("/error") as stream:
        async for _ in stream:
            pass
    assert outcome(otel) == ("failed", "agent_failure", StatusCode.ERROR)
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "agent_failure"


async def test_break_ends_the_span_abandoned(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    async with client.chat(await new_conversation(client)).stream("/slow") as stream:
        async for _ in stream:
            break
        assert otel.turns() == []
    assert outcome(otel) == ("abandoned", None, StatusCode.UNSET)


async def test_an_exception_in_the_loop_body_ends_the_span(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    with pytest.raises(KeyError):
        async with client.chat(await new_conversation(client)).stream("/slow") as stream:
            async for _ in stream:
                raise KeyError("boom")
    assert outcome(otel) == ("abandoned", None, StatusCode.UNSET)


async def test_stop_is_an_event_and_the_run_ends_cancelled(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    async with client.chat(await new_conversation(client)).stream("/slow") as stream:
        async for event in stream:
            if event.type == "message_chunk":
                await stream.stop()
    assert outcome(otel) == ("cancelled", None, StatusCode.UNSET)
    [turn] = otel.turns()
    assert [event.name for event in turn.events] == ["llmrix.stop"]


async def read_in_a_task(
    client: LlmrixClient, message: str, *, until_interrupt: bool
) -> asyncio.Task[None]:
    """A task reading a turn; returned once it got an event (or the interrupt)."""
    reached = asyncio.Event()

    async def read() -> None:
        async with client.chat(await new_conversation(client)).stream(message) as stream:
            async for _ in stream:
                if stream.interrupt is not None or not until_interrupt:
                    reached.set()

    task = asyncio.create_task(read())
    await reached.wait()
    return task


@pytest.mark.parametrize(
    ("message", "at_interrupt", "expected"),
    [("/hitl", True, "paused"), ("/slow", False, "abandoned")],
    ids=["at-an-interrupt", "mid-run"],
)
async def test_task_cancellation_ends_the_span(
    otel: Otel,
    traced: Callable[..., LlmrixClient],
    message: str,
    at_interrupt: bool,
    expected: str,
) -> None:
    task = await read_in_a_task(traced(), message, until_interrupt=at_interrupt)
    assert otel.turns() == []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome(otel) == (expected, None, StatusCode.UNSET)


async def test_closing_the_client_from_another_task_ends_the_span(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    task = await read_in_a_task(client, "/slow", until_interrupt=False)
    await client.close()
    with pytest.raises(ClientClosedError):
        await task
    assert outcome(otel) == ("failed", "ClientClosedError", StatusCode.ERROR)


async def test_a_stream_dropped_without_closing_ends_its_span_when_collected(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    stream = client.chat(await new_conversation(client)).stream("/slow")
    await stream.__aenter__()
    await stream.__anext__()
    del stream
    gc.collect()
    assert outcome(otel) == ("abandoned", None, StatusCode.UNSET)


async def test_a_stream_cut_off_fails_the_span(
    otel: Otel, serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(chat_app(lambda _: chunk("half a"))), **otel.options)
    with pytest.raises(StreamError):
        async with client.chat("c1").stream("hi") as stream:
            async for _ in stream:
                pass
    assert outcome(otel) == ("failed", "StreamError", StatusCode.ERROR)


async def test_a_refused_request_fails_the_span(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    with pytest.raises(Exception, match="no paused run"):
        await client.chat(await new_conversation(client)).complete(
            "", hitl_decisions=[HitlDecision(decision="approve")]
        )
    assert outcome(otel) == ("failed", "ConflictError", StatusCode.ERROR)


# --- propagation -----------------------------------------------------------------------


def header_app(seen: list[tuple[str, str | None]]) -> web.Application:
    """Records the ``traceparent`` of every request; a chat turn waits for ``stop``."""
    stopped = asyncio.Event()

    async def conversation(request: web.Request) -> web.Response:
        seen.append(("get", request.headers.get("traceparent")))
        return web.json_response({"id": "c1", "title": "t"})

    async def chat(request: web.Request) -> web.StreamResponse:
        seen.append(("chat", request.headers.get("traceparent")))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(chunk("hi"))
        await stopped.wait()
        await response.write(frame({"channel": "error", "type": "cancelled"}))
        return response

    async def stop(request: web.Request) -> web.Response:
        seen.append(("stop", request.headers.get("traceparent")))
        stopped.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/api/open/v1/conversations/{id}", conversation)
    app.router.add_post(CHAT, chat)
    app.router.add_post(CHAT + "/stop", stop)
    return app


async def test_traceparent_goes_out_on_every_request_made_inside_a_span(
    otel: Otel, serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    seen: list[tuple[str, str | None]] = []
    client = make_client(await serve(header_app(seen)), **otel.options)
    await client.conversations.get("c1")
    with otel.tracer.start_as_current_span("caller") as caller:
        await client.conversations.get("c1")
        async with client.chat("c1").stream("hi") as stream:
            await stream.__anext__()
            await stream.stop()
            async for _ in stream:
                pass
    [turn] = otel.turns()
    trace_id = f"{caller.get_span_context().trace_id:032x}"
    turn_id = f"{turn.context.span_id:016x}"
    caller_id = f"{caller.get_span_context().span_id:016x}"
    assert seen[0] == ("get", None)
    sent = [(what, header.split("-")[1:3]) for what, header in seen[1:] if header is not None]
    assert sent == [
        ("get", [trace_id, caller_id]),
        ("chat", [trace_id, turn_id]),
        ("stop", [trace_id, turn_id]),
    ]


async def test_the_configured_propagator_writes_the_headers(
    otel: Otel, serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    from opentelemetry import propagate
    from opentelemetry.propagators.textmap import TextMapPropagator, default_setter

    class Tagged(TextMapPropagator):
        """A propagator of its own: the span id under a header of its own."""

        @property
        def fields(self) -> set[str]:
            return {"x-trace-tag"}

        def inject(self, carrier: Any, context: Any = None, setter: Any = default_setter) -> None:
            span = trace.get_current_span(context).get_span_context()
            setter.set(carrier, "x-trace-tag", f"{span.span_id:016x}")

        def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
            return context

    tags: list[str | None] = []

    async def conversation(request: web.Request) -> web.Response:
        tags.append(request.headers.get("x-trace-tag"))
        return web.json_response({"id": "c1", "title": "t"})

    app = web.Application()
    app.router.add_get("/api/open/v1/conversations/{id}", conversation)
    client = make_client(await serve(app), **otel.options)
    before = propagate.get_global_textmap()
    propagate.set_global_textmap(Tagged())
    try:
        with otel.tracer.start_as_current_span("caller") as caller:
            await client.conversations.get("c1")
    finally:
        propagate.set_global_textmap(before)
    assert tags == [f"{caller.get_span_context().span_id:016x}"]


# --- content ---------------------------------------------------------------------------


def everything_recorded(otel: Otel) -> str:
    spans = [json.loads(span.to_json()) for span in otel.spans()]
    return json.dumps(spans) + otel.reader.get_metrics_data().to_json()  # type: ignore[union-attr]


async def test_content_is_absent_by_default(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    client = traced()
    await client.chat(await new_conversation(client)).complete("secret words /tool /subagent")
    recorded = everything_recorded(otel)
    for name in (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    ):
        assert name not in recorded
    assert "secret words" not in recorded
    assert SECRET not in recorded


def text_message(role: str, raw: object) -> str:
    """The text of a one-message list in the conventions' message JSON (checked field by field)."""
    assert isinstance(raw, str)
    messages = json.loads(raw)
    assert isinstance(messages, list) and len(messages) == 1
    [message] = messages
    assert message["role"] == role
    [part] = message["parts"]
    assert part["type"] == "text"
    assert isinstance(part["content"], str)
    return str(part["content"])


@pytest.mark.parametrize("switch", ["option", "environment"])
async def test_content_is_captured_when_opted_in(
    otel: Otel,
    traced: Callable[..., LlmrixClient],
    monkeypatch: pytest.MonkeyPatch,
    switch: str,
) -> None:
    if switch == "option":
        client = traced(otel_capture_content=True)
    else:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        client = traced()
    async with client.chat(await new_conversation(client)).stream("hello /tool /hitl") as stream:
        async for _ in stream:
            if stream.interrupt is not None:
                await stream.decide([HitlDecision(decision="reject", reason="not today")])
        text = stream.snapshot.text
    [turn] = otel.turns()
    attributes = dict(turn.attributes or {})
    assert text_message("user", attributes["gen_ai.input.messages"]) == "hello /tool /hitl"
    assert text_message("assistant", attributes["gen_ai.output.messages"]) == text
    [tool] = otel.spans("execute_tool")
    tool_attributes = dict(tool.attributes or {})
    assert "query" in json.loads(str(tool_attributes["gen_ai.tool.call.arguments"]))
    assert "web_search finished" in str(tool_attributes["gen_ai.tool.call.result"])
    [interrupt] = events(turn, "llmrix.hitl.interrupt")
    assert json.loads(str(interrupt["llmrix.hitl.arguments"]))
    assert events(turn, "llmrix.hitl.decision") == [
        {"llmrix.hitl.decision": "reject", "llmrix.hitl.reason": "not today"}
    ]
    assert SECRET not in everything_recorded(otel)


# --- metrics ---------------------------------------------------------------------------


async def test_metrics_of_a_run(otel: Otel, traced: Callable[..., LlmrixClient]) -> None:
    client = traced()
    await client.chat(await new_conversation(client)).complete("hi /tool a /tool_error b")
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1
    assert duration.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert duration.attributes["gen_ai.provider.name"] == "llmrix"
    assert duration.attributes["server.address"] == "127.0.0.1"
    assert "error.type" not in duration.attributes
    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.sum <= duration.sum
    points = otel.points("gen_ai.execute_tool.duration")
    tools = {point.attributes["gen_ai.tool.name"]: point for point in points}
    assert set(tools) == {"a", "b"}
    assert tools["b"].attributes["error.type"] == "tool_error"
    calls = {p.attributes["gen_ai.tool.name"]: p.value for p in otel.points("llmrix.tool_calls")}
    assert calls == {"a": 1, "b": 1}
    [runs] = otel.points("llmrix.runs")
    assert runs.value == 1 and runs.attributes["llmrix.run.outcome"] == "finished"


# --- switching it off, bad settings ----------------------------------------------------


@pytest.mark.parametrize("how", ["option", "environment"])
async def test_nothing_is_emitted_when_switched_off(
    otel: Otel,
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    seen: list[tuple[str, str | None]] = []
    url = await serve(header_app(seen))
    if how == "option":
        client = make_client(url, otel=False, **otel.options)
    else:
        monkeypatch.setenv("LLMRIX_OTEL", "off")
        client = make_client(url, **otel.options)
    with otel.tracer.start_as_current_span("caller"):
        await client.conversations.get("c1")
        async with client.chat("c1").stream("hi") as stream:
            await stream.__anext__()
            await stream.stop()
            async for _ in stream:
                pass
    assert [span.name for span in otel.spans()] == ["caller"]
    assert otel.points("llmrix.runs") == []
    assert [header for _, header in seen] == [None, None, None]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("tracer_provider", "nope", "tracer_provider must be an OpenTelemetry tracer provider"),
        ("meter_provider", 3, "meter_provider must be an OpenTelemetry meter provider"),
        ("otel", "yes", "otel must be a bool"),
        ("otel_capture_content", "true", "otel_capture_content must be a bool or None"),
    ],
)
def test_bad_settings_are_refused(option: str, value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        LlmrixClient("http://127.0.0.1:9", **{option: value})  # type: ignore[arg-type]


def test_without_the_api_the_client_works_and_providers_ask_for_the_extra() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None
        import llmrix
        client = llmrix.LlmrixClient("http://127.0.0.1:9")
        assert client._transport.telemetry is None
        try:
            llmrix.LlmrixClient("http://127.0.0.1:9", tracer_provider=object())
        except TypeError as exc:
            assert "tracer provider" in str(exc)
        class Provider:
            def get_tracer(self, *args):
                raise AssertionError
        try:
            llmrix.LlmrixClient("http://127.0.0.1:9", tracer_provider=Provider())
        except ImportError as exc:
            print(exc)
        assert not any(name.startswith("opentelemetry.") for name in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'llmrix[otel]'" in done.stdout


# --- the sync client -------------------------------------------------------------------


async def test_the_sync_clients_spans_are_children_of_the_callers_span(
    otel: Otel, server: DevServer
) -> None:
    def work() -> int:
        with SyncClient(server.base_url, api_key=SECRET, **otel.options) as client:
            conversation = client.conversations.create("otel").id
            with otel.tracer.start_as_current_span("caller") as caller:
                with client.chat(conversation).stream("hi /tool") as stream:
                    for _ in stream:
                        pass
                with client.chat(conversation).stream("/slow") as stream:
                    for _ in stream:
                        break
                with pytest.raises(KeyError), client.chat(conversation).stream("/slow") as stream:
                    for _ in stream:
                        raise KeyError("boom")
                with client.chat(conversation).stream("/slow") as stream:
                    next(iter(stream))
                    stream.stop()
                    for _ in stream:
                        pass
            return caller.get_span_context().span_id

    caller_id = await asyncio.to_thread(work)
    turns = sorted(otel.turns(), key=lambda span: span.start_time or 0)
    assert [parent_of(turn) for turn in turns] == [caller_id] * 4
    outcomes = [dict(turn.attributes or {})["llmrix.run.outcome"] for turn in turns]
    assert outcomes == ["finished", "abandoned", "abandoned", "cancelled"]
    [tool] = otel.spans("execute_tool")
    assert parent_of(tool) == turns[0].context.span_id


# --- REST calls ------------------------------------------------------------------------


async def test_rest_calls_are_http_client_spans_with_the_aiohttp_instrumentation(
    otel: Otel, traced: Callable[..., LlmrixClient]
) -> None:
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        client = traced()
        with otel.tracer.start_as_current_span("caller") as caller:
            conversation = await new_conversation(client)
            await client.conversations.get(conversation)
            await client.cron.list()
            await client.agents.list()
            await client.chat(conversation).complete("hi")
    finally:
        instrumentor.uninstrument()
    [turn] = otel.turns()
    http = [span for span in otel.spans() if not span.name.startswith(("invoke_agent", "caller"))]
    assert [span.kind for span in http] == [SpanKind.CLIENT] * 5
    methods = [
        dict(span.attributes or {}).get("http.request.method")
        or dict(span.attributes or {}).get("http.method")
        for span in http
    ]
    assert methods == ["POST", "GET", "GET", "GET", "POST"]
    caller_id = caller.get_span_context().span_id
    assert [parent_of(span) for span in http] == [caller_id] * 4 + [turn.context.span_id]
    assert SECRET not in everything_recorded(otel)
