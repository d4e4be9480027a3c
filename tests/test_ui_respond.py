"""``llmrix.ui.respond`` on aiohttp.web: headers, keep-alives, options, and what a disconnect does.

A browser that goes away mid-run must not orphan the platform run: the relay
calls ``stream.stop()`` (seen here as the dev server receiving
``POST .../chat/stop``), unless ``on_disconnect="detach"``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from _support import ServeApp
from _ui_support import HANDLED, UpstreamApp, relay_app, sse_data, until
from aiohttp import web

from llmrix import LlmrixClient, ui
from llmrix.devserver import DevServer

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture(params=[False, True], ids=["write-fails", "handler-cancelled"])
async def serve_relay(request: pytest.FixtureRequest) -> AsyncIterator[Serve]:
    """Serve apps with aiohttp's handler cancellation off (the default) or on."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=request.param)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def start_body(protocol: str, conversation_id: str, text: str) -> dict[str, Any]:
    if protocol == "agui":
        message = {"id": "u1", "role": "user", "content": text}
        return {"threadId": conversation_id, "runId": "run-1", "messages": [message]}
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": conversation_id, "messages": [message]}


async def leave_after_first_text(url: str, body: dict[str, Any]) -> None:
    """Read the relay until some text arrived, then drop the connection (a closed tab)."""
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        async for line in response.content:
            if b"TEXT_MESSAGE_CONTENT" in line or b"text-delta" in line:
                return


def stops(server: DevServer) -> int:
    return sum(r.method == "POST" and r.raw_path.endswith("/chat/stop") for r in server.requests)


@pytest.mark.parametrize("protocol", ["agui", "vercel"])
async def test_disconnect_stops_the_run(serve_relay: Serve, protocol: str) -> None:
    async with DevServer() as dev, LlmrixClient(dev.base_url) as client:
        app = relay_app(client)
        base = await serve_relay(app)
        conversation_id = (await client.conversations.create("leave")).id
        await leave_after_first_text(
            f"{base}/{protocol}", start_body(protocol, conversation_id, "Tell a story /slow")
        )
        await until(lambda: stops(dev) == 1, "the relay asked the server to stop the run")
        await asyncio.wait_for(app[HANDLED].wait(), 10)
        await until(lambda: dev.live_streams == 0, "the run's stream is over")
        (stop,) = [r for r in dev.requests if r.raw_path.endswith("/chat/stop")]
        assert conversation_id in stop.raw_path


async def test_detach_leaves_the_run_alone(serve_relay: Serve) -> None:
    async with DevServer() as dev, LlmrixClient(dev.base_url) as client:
        app = relay_app(client, on_disconnect="detach")
        base = await serve_relay(app)
        conversation_id = (await client.conversations.create("leave")).id
        await leave_after_first_text(
            f"{base}/agui", start_body("agui", conversation_id, "Tell a story /slow")
        )
        await asyncio.wait_for(app[HANDLED].wait(), 10)
        assert stops(dev) == 0


async def test_a_finished_run_is_not_stopped(serve: ServeApp) -> None:
    async with DevServer() as dev, LlmrixClient(dev.base_url) as client:
        base = await serve(relay_app(client))
        conversation_id = (await client.conversations.create("done")).id
        async with aiohttp.ClientSession() as session:
            body = start_body("agui", conversation_id, "hello")
            async with session.post(f"{base}/agui", json=body) as response:
                events = sse_data(await response.read())
        assert events[-1]["outcome"] == {"type": "success"}
        assert stops(dev) == 0


@pytest.mark.parametrize("protocol", ["agui", "vercel"])
async def test_respond_sends_the_protocol_headers(serve: ServeApp, protocol: str) -> None:
    async with DevServer() as dev, LlmrixClient(dev.base_url) as client:
        base = await serve(relay_app(client))
        conversation_id = (await client.conversations.create("headers")).id
        async with aiohttp.ClientSession() as session:
            body = start_body(protocol, conversation_id, "hello")
            async with session.post(f"{base}/{protocol}", json=body) as response:
                await response.read()
    wanted = ui.AGUI_HEADERS if protocol == "agui" else ui.VERCEL_HEADERS
    for name, value in wanted.items():
        assert response.headers[name] == value
    assert ("x-vercel-ai-ui-message-stream" in response.headers) == (protocol == "vercel")


async def test_keepalive_comments_while_the_run_is_quiet(serve: ServeApp) -> None:
    """A quiet upstream (only heartbeats) gives SSE comments, never heartbeat events."""
    upstream = UpstreamApp()
    upstream.gate = asyncio.Event()
    base_url = await serve(upstream.build())
    received = b""
    async with LlmrixClient(base_url) as client, client.chat("waiting").stream("hi") as stream:
        async for chunk in ui.agui(stream, keepalive=0.01):
            received += chunk
            if chunk == b": keep-alive\n\n":
                upstream.gate.set()
    comments = [block for block in received.split(b"\n\n") if block.startswith(b":")]
    assert comments
    assert set(comments) == {b": keep-alive"}
    assert b"heartbeat" not in received
    assert b"ping" not in received
    assert [e["type"] for e in sse_data(received)] == ["RUN_STARTED", "RUN_FINISHED"]


async def test_agui_run_ids(serve: ServeApp) -> None:
    base_url = await serve(UpstreamApp().build())
    async with LlmrixClient(base_url) as client:
        async with client.chat("primary").stream("hi") as stream:
            body = b"".join([c async for c in ui.agui(stream, thread_id="T", run_id="R")])
        ids = {(e.get("threadId"), e.get("runId")) for e in sse_data(body) if "runId" in e}
        assert ids == {("T", "R")}
        async with client.chat("no_start").stream("hi") as stream:
            events = sse_data(b"".join([c async for c in ui.agui(stream)]))
    assert [e["type"] for e in events] == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert len(events[0]["threadId"]) == len(events[0]["runId"]) == 32
    assert (events[0]["threadId"], events[0]["runId"]) == (
        events[-1]["threadId"],
        events[-1]["runId"],
    )
    assert events[1]["messageId"] == "m1"


async def test_an_interrupt_without_id_or_actions_still_asks(serve: ServeApp) -> None:
    base_url = await serve(UpstreamApp().build())
    async with (
        LlmrixClient(base_url) as client,
        client.chat("no_interrupt_id").stream("hi") as stream,
    ):
        events = sse_data(b"".join([c async for c in ui.agui(stream)]))
    (interrupt,) = events[-1]["outcome"]["interrupts"]
    assert interrupt["id"] == ":1/1"
    assert interrupt["message"] == "Allow approval?"
    assert ui.agui_decisions(
        {"resume": [{"interruptId": ":1/1", "status": "resolved", "payload": {"approved": True}}]}
    )


async def test_messages_without_ids_get_distinct_ones(serve: ServeApp) -> None:
    base_url = await serve(UpstreamApp().build())
    async with LlmrixClient(base_url) as client, client.chat("no_ids").stream("hi") as stream:
        chunks = sse_data(b"".join([c async for c in ui.vercel(stream)]))
    starts = [c["id"] for c in chunks if c != "[DONE]" and c["type"] == "text-start"]
    assert starts == ["msg-1", "msg-2"]


async def test_a_stream_read_to_its_end_already_relays_an_error(serve: ServeApp) -> None:
    base_url = await serve(UpstreamApp().build())
    async with LlmrixClient(base_url) as client, client.chat("primary").stream("hi") as stream:
        await stream.until_done()
        events = sse_data(b"".join([c async for c in ui.agui(stream)]))
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
    assert events[1] == {
        "type": "RUN_ERROR",
        "message": "the stream had no events left to relay",
        "code": "StreamEnded",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"on_disconnect": "hang"}, 'on_disconnect must be "stop" or "detach", not \'hang\''),
        ({"keepalive": 0}, "keepalive must be a number of seconds above 0 or None, not 0"),
        ({"keepalive": -1.5}, "keepalive must be a number"),
    ],
)
async def test_bad_relay_options(serve: ServeApp, options: dict[str, Any], message: str) -> None:
    base_url = await serve(UpstreamApp().build())
    async with LlmrixClient(base_url) as client, client.chat("primary").stream("hi") as stream:
        with pytest.raises(ValueError, match=message):
            ui.agui(stream, **options)
        with pytest.raises(ValueError, match=message):
            ui.vercel(stream, **options)


async def test_bad_answers_given_to_the_encoders_fail_at_once(serve: ServeApp) -> None:
    base_url = await serve(UpstreamApp().build())
    async with LlmrixClient(base_url) as client, client.chat("primary").stream("hi") as stream:
        with pytest.raises(ValueError, match=r"resume\[0\]: Object missing required field"):
            ui.agui(stream, run_input={"threadId": "t", "runId": "r", "resume": [{}]})
        assistant = {"id": "a1", "role": "assistant", "parts": []}
        with pytest.raises(ValueError, match="answers no approval"):
            ui.vercel(stream, messages=[assistant])
        events = sse_data(b"".join([c async for c in ui.vercel(stream, messages=[])]))
    assert events[0] == {"type": "start"}


async def test_respond_refuses_an_unknown_protocol(serve: ServeApp) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        async with LlmrixClient(upstream) as client, client.chat("primary").stream("x") as stream:
            try:
                await ui.respond(request, stream, protocol="sse")  # type: ignore[arg-type]
            except ValueError as exc:
                seen.append(str(exc))
        return web.Response(text="refused")

    upstream = await serve(UpstreamApp().build())
    app = web.Application()
    app.router.add_post("/", handler)
    base = await serve(app)
    async with aiohttp.ClientSession() as session, session.post(base + "/") as response:
        assert await response.text() == "refused"
    assert seen == ['protocol must be "agui" or "vercel", not \'sse\'']


def test_respond_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, llmrix.ui; assert 'aiohttp.web' not in sys.modules, 'eager';"
        " llmrix.ui.respond; assert 'aiohttp.web' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
