"""Upstream scripts for the browser-relay tests: a tiny llmrix server playing fixed SSE bodies.

``ui_app()`` answers ``POST /conversations/<script>/chat`` with the frames of
``SCRIPTS[<script>]`` (every event kind, in the primary and the TypeScript
shapes, keep-alives in all four forms) and records ``/chat/stop`` calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from _support import frame
from aiohttp import web

from llmrix import Event, LlmrixClient, ui

PREFIX = "/api/open/v1/conversations/{id}"

KEEPALIVES = (
    b": ping\n\n"
    b'event: heartbeat\ndata: {"channel":"heartbeat","type":""}\n\n'
    b"data: :ping\n\n"
    b'data: {"channel":"heartbeat","type":""}\n\n'
)


class AuditEvent(Event, tag="audit_log"):
    """A user-registered event type (relayed as AG-UI CUSTOM / data-llmrix-audit_log)."""

    user: str = ""


def ev(channel: str, type_: str, **fields: Any) -> dict[str, Any]:
    return {"channel": channel, "type": type_, **fields}


RUN_START = ev("lifecycle", "run_start", run_id="r1", thread_id="c1")
RUN_END = ev("lifecycle", "run_end", run_id="r1", thread_id="c1")

SCRIPTS: dict[str, list[dict[str, Any] | bytes]] = {
    "primary": [
        RUN_START,
        ev("messages", "message_chunk", content="Hel", id="m1"),
        KEEPALIVES,
        ev("messages", "message_chunk", content="lo", id="m1"),
        ev("messages", "message_chunk", content="", id="m1"),
        ev("tools", "tool_start", id="t1", name="web_search", args={"q": "cats"}),
        ev("tools", "tool_end", id="t1", name="web_search", result="3 hits", error=False),
        ev("tools", "tool_start", id="t2", name="fetch", args={"url": "x"}),
        ev("tools", "tool_end", id="t2", name="fetch", result="timeout", error=True),
        ev("tools", "subagent_start", id="s1", agent_name="researcher"),
        ev("tools", "tool_start", id="t3", name="read", args={}),
        ev("tools", "tool_end", id="t3", name="read", result={"pages": 2}, error=False),
        ev("tools", "subagent_end", id="s1", agent_name="researcher", error=False),
        ev("tools", "subagent_start", id="s2", agent_name="critic"),
        ev("tools", "subagent_end", id="s2", agent_name="critic", error=True),
        ev("rubric", "rubric_evaluation_start", iteration=1, grading_run_id="g1"),
        ev("rubric", "rubric_evaluation_end", iteration=1, result="pass", explanation="ok"),
        ev("audit", "audit_log", user="ann"),
        ev("audit", "error", message="not a run error"),
        ev("messages", "message_chunk", content="Bye", id="m1"),
        RUN_END,
    ],
    "typescript": [
        RUN_START,
        ev("messages", "message_chunk", content="Hi", run_id="r1"),
        ev("tools", "tool_start", tool_call_id="t1", name="web_search", input={"q": "dogs"}),
        ev("tools", "tool_end", tool_call_id="t1", name="web_search", output=["a", "b"]),
        ev(
            "tools",
            "subagent_start",
            tool_call_id="s1",
            name="researcher",
            input={"task": "dig"},
            parent_ids=[],
        ),
        ev("tools", "tool_start", tool_call_id="t2", name="read", input="raw", parent_ids=["s1"]),
        ev("tools", "tool_end", tool_call_id="t2", name="read", output="text", parent_ids=["s1"]),
        ev("tools", "subagent_end", tool_call_id="s1", name="researcher", output={"found": 1}),
        ev("messages", "message_chunk", content="Done", run_id="r1"),
        RUN_END,
    ],
    "hitl": [
        RUN_START,
        ev("messages", "message_chunk", content="Checking", id="m1"),
        ev(
            "hitl",
            "hitl_interrupt",
            id="h1",
            action_name="delete_file",
            action_args={"path": "old.tar"},
            description="Delete old.tar",
        ),
    ],
    "hitl_ts": [
        RUN_START,
        ev(
            "hitl",
            "hitl_interrupt",
            id="h2",
            action_requests=[
                {"name": "send", "args": {"to": "a"}, "description": "Send to a"},
                {"name": "pay", "args": {"sum": 3}, "decisions": ["approve", "reject"]},
            ],
        ),
    ],
    "cancelled": [
        RUN_START,
        ev("messages", "message_chunk", content="Long", id="m1"),
        ev("error", "cancelled", reason="stopped by user"),
    ],
    "cancelled_ts": [RUN_START, ev("error", "cancelled", message="user left")],
    "error": [
        RUN_START,
        ev("tools", "tool_start", id="t1", name="web_search", args={}),
        ev("error", "error", message="model overloaded", error_code="overloaded"),
    ],
    "cut": [RUN_START, ev("messages", "message_chunk", content="par", id="m1")],
}


EXTRA_SCRIPTS: dict[str, list[dict[str, Any] | bytes]] = {
    "no_start": [ev("messages", "message_chunk", content="Hi", id="m1"), RUN_END],
    "no_interrupt_id": [RUN_START, ev("hitl", "hitl_interrupt")],
    "no_ids": [
        ev("messages", "message_chunk", content="a"),
        ev("tools", "tool_start", name="t"),
        ev("messages", "message_chunk", content="b"),
        RUN_END,
    ],
}


def body(script: str) -> bytes:
    out = b""
    for item in {**SCRIPTS, **EXTRA_SCRIPTS}[script]:
        out += item if isinstance(item, bytes) else frame(item, item["channel"])
    return out


class UpstreamApp:
    """The fixed-script llmrix server; ``stops`` counts ``/chat/stop`` calls per conversation."""

    def __init__(self) -> None:
        self.stops: dict[str, int] = {}
        self.stopped = asyncio.Event()
        self.gate: asyncio.Event | None = None

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PREFIX + "/chat", self.chat)
        app.router.add_post(PREFIX + "/chat/stop", self.stop)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        script = request.match_info["id"]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if script == "waiting":
            assert self.gate is not None
            await response.write(frame(RUN_START, "lifecycle") + KEEPALIVES)
            await self.gate.wait()
            await response.write(frame(RUN_END, "lifecycle"))
        else:
            await response.write(body(script))
        await response.write_eof()
        return response

    async def stop(self, request: web.Request) -> web.StreamResponse:
        conversation = request.match_info["id"]
        self.stops[conversation] = self.stops.get(conversation, 0) + 1
        self.stopped.set()
        return web.Response(status=204)


async def relayed(base_url: str, script: str, protocol: str) -> bytes:
    """The relay's whole body for one upstream script."""
    async with LlmrixClient(base_url) as client:
        client.register_event(AuditEvent)
        async with client.chat(script).stream("hi") as stream:
            if protocol == "agui":
                body = ui.agui(stream, keepalive=None)
            else:
                body = ui.vercel(stream, message_id="msg-1", keepalive=None)
            return b"".join([chunk async for chunk in body])


def sse_data(raw: bytes) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded (``[DONE]`` kept as text)."""
    out: list[Any] = []
    for block in raw.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                text = line[len("data: ") :]
                out.append(text if text == "[DONE]" else json.loads(text))
    return out


def relay_app(client: LlmrixClient, **options: Any) -> web.Application:
    """A backend relaying the dev server to browsers: ``POST /agui`` and ``POST /vercel``.

    ``handled`` (an app key) is set each time a relay handler has returned.
    """
    app = web.Application()
    app[HANDLED] = asyncio.Event()

    async def agui_route(request: web.Request) -> web.StreamResponse:
        run_input = await request.json()
        decisions = ui.agui_decisions(run_input) if run_input.get("resume") else None
        users = [m for m in run_input["messages"] if m.get("role") == "user"]
        message = users[-1]["content"] if users else "continue"
        try:
            chat = client.chat(run_input["threadId"])
            async with chat.stream(message, hitl_decisions=decisions) as stream:
                return await ui.respond(
                    request, stream, protocol="agui", run_input=run_input, **options
                )
        finally:
            app[HANDLED].set()

    async def vercel_route(request: web.Request) -> web.StreamResponse:
        chat_request = await request.json()
        messages = chat_request["messages"]
        last = messages[-1]
        decisions = ui.vercel_decisions(messages) if last["role"] == "assistant" else None
        users = [m for m in messages if m["role"] == "user"]
        message = "".join(p.get("text", "") for p in users[-1]["parts"])
        try:
            chat = client.chat(chat_request["id"])
            async with chat.stream(message, hitl_decisions=decisions) as stream:
                return await ui.respond(
                    request, stream, protocol="vercel", messages=messages, **options
                )
        finally:
            app[HANDLED].set()

    app.router.add_post("/agui", agui_route)
    app.router.add_post("/vercel", vercel_route)
    return app


HANDLED = web.AppKey("handled", asyncio.Event)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (at most 10 s, polling) until ``condition()`` holds."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")
