"""Faults, hostile input and leaks: every failure is a clear typed error, nothing leaks."""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from collections.abc import Callable

import aiohttp
import pytest
import trustme
from _support import ServeApp, acquired
from aiohttp import web

from llmrix import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    LlmrixClient,
    MessageChunkEvent,
    RateLimitError,
    RunEndEvent,
    RunStartEvent,
    StreamError,
)
from llmrix._retry import RetryPolicy, retry_after_seconds

CHAT = "/api/open/v1/conversations/{id}/chat"
START = b'data: {"channel":"lifecycle","type":"run_start","run_id":"r"}\n\n'
CHUNK = b'data: {"channel":"messages","type":"message_chunk","content":"x"}\n\n'
END = b'data: {"channel":"lifecycle","type":"run_end"}\n\n'


def chat_app(handler: Callable[[web.Request], object]) -> web.Application:
    app = web.Application()
    app.router.add_post(CHAT, handler)  # type: ignore[arg-type]
    app.router.add_post(CHAT + "/stop", no_content)
    return app


async def no_content(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def open_sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    return response


async def wait_until_gone(request: web.Request, seconds: float = 10.0) -> None:
    """Sleep until the client disconnects (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.02)


async def test_retry_after_forms() -> None:
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("-4") == 0.0
    assert retry_after_seconds("3600") == 3600.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    in_two = email.utils.formatdate(time.time() + 2, usegmt=True)
    value = retry_after_seconds(in_two)
    assert value is not None
    assert 0.5 < value <= 2.0


async def test_retry_after_http_date_is_honoured(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            date = email.utils.formatdate(time.time() + 1.5, usegmt=True)
            return web.json_response({"message": "busy"}, status=503, headers={"Retry-After": date})
        return web.json_response({"id": "c"})

    app = web.Application()
    app.router.add_post("/api/open/v1/conversations", handler)
    client = make_client(await serve(app))
    await client.conversations.create("t")
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.4


async def test_retry_after_beyond_the_cap_is_not_waited_for(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    calls: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.method)
        wait = str(RetryPolicy().max_retry_after + 60)
        return web.json_response({"message": "later"}, status=429, headers={"Retry-After": wait})

    app = web.Application()
    app.router.add_get("/api/open/v1/conversations/{id}", handler)
    client = make_client(await serve(app))
    with pytest.raises(RateLimitError, match="later"):
        await asyncio.wait_for(client.conversations.get("c"), 5)
    assert calls == ["GET"]


async def test_json_answer_to_chat_is_a_clear_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"message": "use the SSE endpoint"})

    client = make_client(await serve(chat_app(handler)))
    with pytest.raises(APIResponseValidationError, match=r"application/json.*use the SSE endpoint"):
        async with client.chat("c").stream("hi"):
            pass
    assert acquired(client) == 0


async def test_cut_inside_a_frame_is_a_truncation(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(START + b'data: {"channel":"messages","type":"message_ch')
        return response

    client = make_client(await serve(chat_app(handler)))
    with pytest.raises(StreamError, match="ended before the run finished, inside a frame"):
        async with client.chat("c").stream("hi") as stream:
            [event async for event in stream]
    assert acquired(client) == 0


async def test_connection_reset_mid_stream_is_a_stream_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(START + CHUNK + b"data: {")
        assert request.transport is not None
        request.transport.abort()
        return response

    client = make_client(await serve(chat_app(handler)))
    seen = []
    with pytest.raises(StreamError, match="ended before the run finished"):
        async with client.chat("c").stream("hi") as stream:
            async for event in stream:
                seen.append(event)
    assert [type(e) for e in seen] == [RunStartEvent, MessageChunkEvent]
    assert acquired(client) == 0


async def test_oversized_frame_and_endless_line_are_refused(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(START)
        for _ in range(200):
            await response.write(b"z" * 1024)
        return response

    client = make_client(await serve(chat_app(handler)), max_frame_bytes=64 * 1024)
    with pytest.raises(StreamError, match="max_frame_bytes"):
        async with client.chat("c").stream("hi") as stream:
            [event async for event in stream]
    assert acquired(client) == 0


async def test_comment_lines_without_a_blank_line_do_not_count_toward_the_frame_limit(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(START)
        for _ in range(64):  # 4 MiB of comments: 64 times the limit, no blank line
            await response.write(b": " + b"." * 30000 + b"\n" + b": pad\n" * 6000)
        await response.write(CHUNK + END)
        return response

    client = make_client(await serve(chat_app(handler)), max_frame_bytes=64 * 1024)
    async with client.chat("c").stream("hi") as stream:
        assert [type(e) for e in [e async for e in stream]] == [
            RunStartEvent,
            MessageChunkEvent,
            RunEndEvent,
        ]
    assert acquired(client) == 0


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b'data: {"type":"message_chunk","content":"\xff\xfe"}\n\n', "malformed JSON"),
        (b'data: ["not", "an", "object"]\n\n', "not a JSON object"),
        (b'data: "a string"\n\n', "not a JSON object"),
        (b'data: {"type":"message_chunk","content":5}\n\n', r"\$\.content"),
        (b'data: {"type":"hitl_interrupt","description":["rm -rf"]}\n\n', r"\$\.description"),
    ],
)
async def test_bad_frames_name_what_was_wrong(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], payload: bytes, match: str
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(START + payload)
        await wait_until_gone(request)
        return response

    client = make_client(await serve(chat_app(handler)))
    with pytest.raises(StreamError, match=match):
        async with client.chat("c").stream("hi") as stream:
            [event async for event in stream]
    assert acquired(client) == 0


async def test_tls_verification_is_on_by_default(
    make_client: Callable[..., LlmrixClient],
) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"id": "secure"})

    app = web.Application()
    app.router.add_get("/api/open/v1/conversations/{id}", get)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        untrusting = make_client(f"https://127.0.0.1:{port}", max_retries=0)
        with pytest.raises(APIConnectionError, match=r"(?i)certificate"):
            await untrusting.conversations.get("c")
        client_context = ssl.create_default_context()
        authority.configure_trust(client_context)
        connector = aiohttp.TCPConnector(ssl=client_context)
        async with aiohttp.ClientSession(connector=connector) as session:
            trusting = LlmrixClient(f"https://127.0.0.1:{port}", session=session)
            assert (await trusting.conversations.get("c")).id == "secure"
    finally:
        await runner.cleanup()


ITERATIONS = 1000


def client_side_tasks() -> list[asyncio.Task[object]]:
    """Running tasks, minus the test server's idle keep-alive connection handlers."""
    return [
        task
        for task in asyncio.all_tasks()
        if not getattr(task.get_coro(), "__qualname__", "").startswith("RequestHandler.")
    ]


async def settle(baseline: int) -> list[asyncio.Task[object]]:
    """Wait (bounded) for stream handlers to finish; return what is still running."""
    for _ in range(200):
        tasks = client_side_tasks()
        if len(tasks) <= baseline:
            break
        await asyncio.sleep(0.01)
    return tasks


@pytest.mark.parametrize("how", ["break", "raise", "cancel", "stop-then-exit"])
async def test_one_thousand_early_exits_leak_nothing(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], how: str
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(START + CHUNK)
        await wait_until_gone(request)
        return response

    client = make_client(await serve(chat_app(handler)))
    chat = client.chat("c")
    baseline = len(client_side_tasks())

    async def consume(reached: asyncio.Event | None = None) -> None:
        async with chat.stream("hi") as stream:
            async for event in stream:
                if isinstance(event, MessageChunkEvent):
                    if how == "raise":
                        raise LookupError("user code failed")
                    if how == "stop-then-exit":
                        await stream.stop()
                        return
                    if reached is not None:
                        reached.set()
                        await asyncio.sleep(10)
                    break

    for _ in range(ITERATIONS):
        if how == "raise":
            with pytest.raises(LookupError):
                await consume()
        elif how == "cancel":
            reached = asyncio.Event()
            task = asyncio.create_task(consume(reached))
            await reached.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            await consume()
        assert acquired(client) == 0
    left = await settle(baseline)
    assert len(left) <= baseline, left


async def test_one_thousand_stall_timeouts_leak_nothing(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(START)
        await wait_until_gone(request)
        return response

    client = make_client(await serve(chat_app(handler)), stream_idle_timeout=0.05)
    chat = client.chat("c")
    baseline = len(client_side_tasks())

    async def stalled() -> None:
        with pytest.raises(APITimeoutError, match="stream_idle_timeout"):
            async with chat.stream("hi") as stream:
                [event async for event in stream]

    for _ in range(ITERATIONS // 100):
        await asyncio.gather(*(stalled() for _ in range(100)))
        assert acquired(client) == 0
    left = await settle(baseline)
    assert len(left) <= baseline, left
