"""Load and faults against servers written for the test: closing, pooling, slow consumers,
body retries, hostile answers, option checks, answer caps, derived clients and proxies."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _support import ServeApp, acquired
from aiohttp import web

from llmrix import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    CancelledEvent,
    ClientClosedError,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    LlmrixError,
    MessageChunkEvent,
    NotFoundError,
    RetryPolicy,
    RunEndEvent,
    RunStartEvent,
    StreamError,
)

ROOT = "/api/open/v1"
CHAT = ROOT + "/conversations/{id}/chat"
GET = ROOT + "/conversations/{id}"
FAST_RETRY = RetryPolicy(initial_backoff=0.01, max_backoff=0.01)
HOLD = 10.0


def frame(obj: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


RUN_START = frame({"channel": "lifecycle", "type": "run_start", "run_id": "r1"})
RUN_END = frame({"channel": "lifecycle", "type": "run_end", "run_id": "r1"})
CANCELLED = frame({"channel": "error", "type": "cancelled", "reason": "stopped"})
HITL = frame({"channel": "hitl", "type": "hitl_interrupt", "id": "h1", "action_name": "rm"})


def chunk(text: str) -> bytes:
    return frame({"channel": "messages", "type": "message_chunk", "content": text})


async def open_sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    return response


def held_stream_app(*parts: bytes, counter: list[str] | None = None) -> web.Application:
    """Chat writes ``parts`` then keeps the connection open; GET answers at once."""

    async def chat(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        for part in parts:
            await response.write(part)
        await asyncio.sleep(HOLD)
        return response

    async def get(request: web.Request) -> web.Response:
        if counter is not None:
            counter.append(request.method)
        return web.json_response({"id": request.match_info["id"]})

    app = web.Application()
    app.router.add_post(CHAT, chat)
    app.router.add_get(GET, get)
    return app


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


# 1. Closing the client ends everything in flight.


async def test_close_ends_a_stream_read_in_another_task(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(held_stream_app(RUN_START)), stream_idle_timeout=60)
    seen: list[object] = []

    async def consume() -> None:
        async with client.chat("c").stream("hi") as stream:
            async for event in stream:
                seen.append(event)

    task = asyncio.create_task(consume())
    await until(lambda: bool(seen))
    await client.close()
    with pytest.raises(ClientClosedError, match="client was closed"):
        await asyncio.wait_for(task, 5)
    assert acquired(client) == 0


async def test_close_ends_a_call_in_flight(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    arrived = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.set()
        await asyncio.sleep(HOLD)
        return web.json_response({"id": "late"})

    app = web.Application()
    app.router.add_get(GET, slow)
    client = make_client(await serve(app))
    task = asyncio.create_task(client.conversations.get("c"))
    await asyncio.wait_for(arrived.wait(), 5)
    await client.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 5)


async def test_close_ends_a_retry_backoff_and_nothing_is_retried_after(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    calls: list[str] = []

    async def busy(request: web.Request) -> web.Response:
        calls.append(request.method)
        return web.json_response({"message": "busy"}, status=502)

    app = web.Application()
    app.router.add_get(GET, busy)
    slow_retry = RetryPolicy(initial_backoff=HOLD, max_backoff=HOLD)
    client = make_client(await serve(app), retry=slow_retry)
    task = asyncio.create_task(client.conversations.get("c"))
    await until(lambda: len(calls) == 1)
    await asyncio.sleep(0.05)
    await client.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 5)
    with pytest.raises(ClientClosedError, match="closed"):
        await client.conversations.get("c")
    assert calls == ["GET"]


# 2. Waiting for a pooled connection is not a connect timeout.


async def test_calls_beyond_max_connections_wait_their_turn(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return web.json_response({"id": request.match_info["id"]})

    app = web.Application()
    app.router.add_get(GET, slow)
    client = make_client(await serve(app), max_connections=2, connect_timeout=0.05)
    answers = await asyncio.gather(*(client.conversations.get(f"c{i}") for i in range(6)))
    assert [a.id for a in answers] == [f"c{i}" for i in range(6)]
    assert acquired(client) == 0


async def test_streams_beyond_max_connections_wait_their_turn(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(RUN_START)
        await asyncio.sleep(0.2)
        await response.write(RUN_END)
        return response

    app = web.Application()
    app.router.add_post(CHAT, chat)
    client = make_client(await serve(app), max_connections=1, connect_timeout=0.05)

    async def run(cid: str) -> list[type]:
        async with client.chat(cid).stream("hi") as stream:
            return [type(event) async for event in stream]

    results = await asyncio.gather(run("a"), run("b"), run("c"))
    assert results == [[RunStartEvent, RunEndEvent]] * 3
    assert acquired(client) == 0


async def test_stop_and_decide_work_while_every_slot_holds_a_stream(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    stopped = asyncio.Event()
    decided = asyncio.Event()

    async def chat(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(RUN_START + HITL)
        await asyncio.wait_for(decided.wait(), HOLD)
        await response.write(chunk("deleted"))
        await asyncio.wait_for(stopped.wait(), HOLD)
        await response.write(CANCELLED)
        return response

    async def stop(request: web.Request) -> web.Response:
        stopped.set()
        return web.Response(status=204)

    async def decide(request: web.Request) -> web.Response:
        decided.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(CHAT, chat)
    app.router.add_post(CHAT + "/stop", stop)
    app.router.add_post(CHAT + "/hitl/decide", decide)
    client = make_client(await serve(app), max_connections=1, timeout=5)
    kinds: list[type] = []
    async with client.chat("c").stream("rm it") as stream:
        async for event in stream:
            kinds.append(type(event))
            if isinstance(event, HitlInterruptEvent):
                await stream.decide([HitlDecision.approve()])
            elif isinstance(event, MessageChunkEvent):
                await stream.stop()
    assert kinds == [RunStartEvent, HitlInterruptEvent, MessageChunkEvent, CancelledEvent]
    assert acquired(client) == 0


async def test_a_pool_wait_that_times_out_names_max_connections(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(held_stream_app(RUN_START)), max_connections=1, timeout=0.3)
    async with client.chat("c").stream("hi") as stream:
        await stream.__anext__()
        with pytest.raises(APITimeoutError, match="max_connections=1"):
            await client.conversations.get("c")
    assert acquired(client) == 0


# 3. A slow consumer never loses events.


async def test_a_busy_consumer_still_gets_every_buffered_event(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    app = held_stream_app(RUN_START, chunk("a"), chunk("b"), RUN_END)
    client = make_client(await serve(app), stream_idle_timeout=0.1)
    kinds: list[type] = []
    async with client.chat("c").stream("hi") as stream:
        async for event in stream:
            kinds.append(type(event))
            await asyncio.sleep(0.3)
    assert kinds == [RunStartEvent, MessageChunkEvent, MessageChunkEvent, RunEndEvent]


async def test_idle_timeout_still_fires_while_waiting_for_bytes(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(held_stream_app(RUN_START)), stream_idle_timeout=0.2)
    async with client.chat("c").stream("hi") as stream:
        assert isinstance(await stream.__anext__(), RunStartEvent)
        with pytest.raises(APITimeoutError, match="stream_idle_timeout"):
            await stream.__anext__()
    assert acquired(client) == 0


def paced_stream_app(*parts: tuple[float, bytes]) -> web.Application:
    """Chat writes each ``(delay, part)`` after sleeping ``delay`` seconds, then ends."""

    async def chat(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        for delay, part in parts:
            await asyncio.sleep(delay)
            await response.write(part)
        return response

    app = web.Application()
    app.router.add_post(CHAT, chat)
    return app


async def test_a_stream_busier_than_its_idle_timeout_never_times_out(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    """The one idle timer, armed by the first wait, is re-armed for each later wait."""
    parts = [(0.0, RUN_START), *((0.05, chunk(str(i))) for i in range(12)), (0.05, RUN_END)]
    client = make_client(await serve(paced_stream_app(*parts)), stream_idle_timeout=0.2)
    async with client.chat("c").stream("hi") as stream:
        events = [event async for event in stream]
    assert len(events) == 14 and isinstance(events[-1], RunEndEvent)


async def test_each_wait_gets_the_whole_idle_timeout(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    """A consumer busy for most of the timeout, then waiting: the deadline of the first
    wait (0.6 s) passes during the second, which still has until 0.5 + 0.6 s."""
    app = paced_stream_app((0.0, RUN_START), (0.8, chunk("late")), (0.0, RUN_END))
    client = make_client(await serve(app), stream_idle_timeout=0.6)
    kinds: list[type] = []
    async with client.chat("c").stream("hi") as stream:
        async for event in stream:
            kinds.append(type(event))
            if isinstance(event, RunStartEvent):
                await asyncio.sleep(0.5)
    assert kinds == [RunStartEvent, MessageChunkEvent, RunEndEvent]


async def test_a_stream_over_leaves_no_idle_timer_armed(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    """Ended or left early, a stream cancels its timer: nothing keeps it for the timeout."""
    parts = [(0.0, RUN_START), (0.1, chunk("a")), (0.1, chunk("b")), (0.0, RUN_END)]
    client = make_client(await serve(paced_stream_app(*parts)), stream_idle_timeout=60)
    for leave_early in (False, True):
        async with client.chat("c").stream("hi") as stream:
            async for event in stream:
                source = stream._source
                assert source is not None
                if isinstance(event, MessageChunkEvent) and event.content == "a":
                    assert source._idle_timer is not None  # armed by the wait for "a"
                    if leave_early:
                        break
        assert source._idle_timer is None
    assert acquired(client) == 0


# 4. Idempotent calls are retried when the body read fails.


async def raw_server(answers: list[Callable[[asyncio.StreamWriter], Any]]) -> tuple[str, Any]:
    """A raw HTTP server: connection i is answered by ``answers[i]``."""
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = len(served)
        served.append(index)
        await reader.readuntil(b"\r\n\r\n")
        try:
            await answers[min(index, len(answers) - 1)](writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    return f"http://{host}:{port}", (server, served)


def full_answer(body: bytes) -> Callable[[asyncio.StreamWriter], Any]:
    async def answer(writer: asyncio.StreamWriter) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        writer.write(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()

    return answer


async def cut_body(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n"
    )
    writer.write(b'{"id": "c1", "ti')
    await writer.drain()
    writer.transport.abort()


async def stalled_body(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n"
    )
    writer.write(b'{"id": "c1", "ti')
    await writer.drain()
    await asyncio.sleep(HOLD)


@pytest.mark.parametrize("failure", [cut_body, stalled_body], ids=["reset", "stall"])
async def test_a_get_whose_body_fails_is_retried(
    failure: Callable[[asyncio.StreamWriter], Any], make_client: Callable[..., LlmrixClient]
) -> None:
    url, (server, served) = await raw_server([failure, full_answer(b'{"id": "c1"}')])
    try:
        client = make_client(url, retry=FAST_RETRY, timeout=0.5)
        assert (await client.conversations.get("c1")).id == "c1"
        assert len(served) == 2
    finally:
        server.close()


async def test_a_create_whose_body_fails_is_not_retried(
    make_client: Callable[..., LlmrixClient],
) -> None:
    url, (server, served) = await raw_server([cut_body, full_answer(b'{"id": "c1"}')])
    try:
        client = make_client(url, retry=FAST_RETRY)
        with pytest.raises(APIConnectionError):
            await client.conversations.create("t")
        assert len(served) == 1
    finally:
        server.close()


# 5. Every failure is an LlmrixError.

DEEP = b"[" * 100_000 + b"]" * 100_000


async def test_deeply_nested_json_is_an_llmrix_error_everywhere(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    deep_event = b'data: {"type": "message_chunk", "content": "x", "extra": ' + DEEP + b"}\n\n"

    async def chat(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(RUN_START + deep_event + RUN_END)
        return response

    async def get(request: web.Request) -> web.Response:
        body = b'{"agent": {"id": 1, "metadata": {"deep": ' + DEEP + b"}}}"
        return web.Response(body=body, content_type="application/json")

    async def bad(request: web.Request) -> web.Response:
        return web.Response(body=b'{"message": ' + DEEP + b"}", status=400)

    app = web.Application()
    app.router.add_post(CHAT, chat)
    app.router.add_get(ROOT + "/agent/{id}", get)
    app.router.add_get(ROOT + "/conversations", bad)
    client = make_client(await serve(app))
    with pytest.raises(StreamError, match="nested too deeply"):
        async with client.chat("c").stream("hi") as stream:
            async for _ in stream:
                pass
    with pytest.raises(APIResponseValidationError, match="nested too deeply"):
        await client.agents.get(1)
    with pytest.raises(BadRequestError, match=r"\[\[\["):
        await client.conversations.list()
    assert acquired(client) == 0


def test_credentials_in_base_url_and_an_api_key_are_refused() -> None:
    with pytest.raises(ValueError, match="api_key or credentials in base_url"):
        LlmrixClient("http://user:pw@example.test", api_key="sk-1")


async def test_an_api_key_read_from_a_file_is_trimmed(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"id": request.headers["Authorization"]})

    app = web.Application()
    app.router.add_get(GET, echo)
    client = make_client(await serve(app), api_key="  sk-from-file\n")
    assert (await client.conversations.get("c")).id == "Bearer sk-from-file"


@pytest.mark.parametrize("key", ["sk one", "sk-\none", "sk-\x00"])
def test_an_api_key_with_inner_whitespace_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        LlmrixClient("http://example.test", api_key=key)
    assert key.strip() not in str(info.value)


async def test_a_redirect_loop_is_named_and_not_retried(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    hits: list[str] = []

    async def loop_back(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound(request.path)

    app = web.Application()
    app.router.add_get(GET, loop_back)
    client = make_client(await serve(app), retry=FAST_RETRY)
    with pytest.raises(APIConnectionError, match="redirect"):
        await client.conversations.get("c")
    assert 1 < len(hits) <= 11


class _JSONHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"id": self.path.rsplit("/", 1)[-1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def threaded_server() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JSONHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_client_works_across_asyncio_run_calls(threaded_server: str) -> None:
    client = LlmrixClient(threaded_server)

    async def get(cid: str) -> str:
        return (await client.conversations.get(cid)).id

    assert asyncio.run(get("first")) == "first"
    assert asyncio.run(get("second")) == "second"
    asyncio.run(client.close())


def test_a_client_in_use_by_a_live_loop_refuses_another(threaded_server: str) -> None:
    client = LlmrixClient(threaded_server)

    async def get() -> str:
        return (await client.conversations.get("c")).id

    first = asyncio.new_event_loop()
    try:
        assert first.run_until_complete(get()) == "c"
        with pytest.raises(LlmrixError, match="another event loop"):
            asyncio.run(get())
        first.run_until_complete(client.close())
    finally:
        first.close()


async def test_api_errors_carry_request_id_and_headers(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def missing(request: web.Request) -> web.Response:
        return web.json_response(
            {"message": "no such conversation"}, status=404, headers={"X-Request-Id": "req-42"}
        )

    app = web.Application()
    app.router.add_get(GET, missing)
    client = make_client(await serve(app))
    with pytest.raises(NotFoundError) as info:
        await client.conversations.get("c")
    assert info.value.request_id == "req-42"
    assert info.value.headers["x-request-id"] == "req-42"


# 6. Lone UTF-16 surrogate escapes.


async def test_lone_surrogates_become_replacement_characters(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    cut_emoji = b'data: {"type": "message_chunk", "content": "hi \\ud83d"}\n\n'

    async def chat(request: web.Request) -> web.StreamResponse:
        response = await open_sse(request)
        await response.write(RUN_START + cut_emoji + chunk("\U0001f600") + RUN_END)
        return response

    async def get(request: web.Request) -> web.Response:
        body = b'{"id": "c", "title": "\\ude00 half"}'
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post(CHAT, chat)
    app.router.add_get(GET, get)
    client = make_client(await serve(app))
    async with client.chat("c").stream("hi") as stream:
        texts = [e.content async for e in stream if isinstance(e, MessageChunkEvent)]
    assert texts == ["hi \ufffd", "\U0001f600"]
    assert (await client.conversations.get("c")).title == "\ufffd half"


# 7. Options are validated at construction.


@pytest.mark.parametrize(
    ("options", "error", "name"),
    [
        ({"max_connections": -1}, ValueError, "max_connections"),
        ({"max_connections": 0}, ValueError, "max_connections"),
        ({"max_connections": 2.5}, TypeError, "max_connections"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": -3}, ValueError, "timeout"),
        ({"connect_timeout": float("nan")}, ValueError, "connect_timeout"),
        ({"stream_idle_timeout": "..."}, TypeError, "stream_idle_timeout"),
        ({"stream_idle_timeout": True}, TypeError, "stream_idle_timeout"),
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"max_retries": "3"}, TypeError, "max_retries"),
        ({"max_frame_bytes": 0}, ValueError, "max_frame_bytes"),
        ({"max_response_bytes": -5}, ValueError, "max_response_bytes"),
        ({"trust_env": "yes"}, TypeError, "trust_env"),
        ({"headers": {"X-N": 1}}, TypeError, "headers"),
        ({"retry": 3}, TypeError, "retry"),
    ],
)
def test_bad_options_are_refused_at_construction(
    options: dict[str, Any], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        LlmrixClient("http://example.test", **options)


def test_bad_per_stream_and_derived_options_are_refused() -> None:
    client = LlmrixClient("http://example.test")
    with pytest.raises(ValueError, match="stream_idle_timeout"):
        client.chat("c").stream("hi", stream_idle_timeout=0)
    with pytest.raises(TypeError, match="timeout"):
        client.with_options(timeout="soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown option"):
        client.with_options(max_retry=1)  # type: ignore[call-arg]


# 8. Answers are bounded.


async def test_a_compressed_answer_past_max_response_bytes_is_refused(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    bomb = gzip.compress(b'{"id": "' + b"a" * (8 << 20) + b'"}')

    async def get(request: web.Request) -> web.Response:
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=bomb, headers=headers)

    async def big(request: web.Request) -> web.Response:
        return web.json_response({"items": [], "pad": "b" * (2 << 20)})

    app = web.Application()
    app.router.add_get(GET, get)
    app.router.add_get(ROOT + "/conversations", big)
    client = make_client(await serve(app), max_response_bytes=1 << 20)
    assert len(bomb) < 1 << 20
    with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
        await client.conversations.get("c")
    with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
        await client.conversations.list()
    assert acquired(client) == 0


# 9. A derived client never closes the session it shares.


async def test_leaving_a_derived_client_keeps_the_parent_open(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(held_stream_app()))
    await client.conversations.get("a")
    async with client.with_options(timeout=5, headers={"X-Team": "ops"}) as derived:
        assert (await derived.conversations.get("b")).id == "b"
    assert derived.session is client.session
    assert client.session is not None and not client.session.closed
    assert (await client.conversations.get("c")).id == "c"


# 10. Proxy environment variables.


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def test_proxy_environment_is_honoured_unless_turned_off(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], no_proxy_env: pytest.MonkeyPatch
) -> None:
    async def direct(request: web.Request) -> web.Response:
        return web.json_response({"id": "direct"})

    async def proxy(request: web.Request) -> web.Response:
        return web.json_response({"id": f"proxied {request.url.path}"})

    target = web.Application()
    target.router.add_get(GET, direct)
    proxy_app = web.Application()
    proxy_app.router.add_get(GET, proxy)
    target_url = await serve(target)
    proxy_url = await serve(proxy_app)
    no_proxy_env.setenv("HTTP_PROXY", proxy_url)
    no_proxy_env.setenv("http_proxy", proxy_url)

    via_env = make_client(target_url)
    assert (await via_env.conversations.get("c")).id == f"proxied {ROOT}/conversations/c"
    ignoring_env = make_client(target_url, trust_env=False)
    assert (await ignoring_env.conversations.get("c")).id == "direct"
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    no_proxy_env.setenv("no_proxy", "127.0.0.1")
    bypassing = make_client(target_url)
    assert (await bypassing.conversations.get("c")).id == "direct"


# A server that ends the stream at the interrupt: deciding inline resumes the run.


@pytest.mark.parametrize("pause_before_deciding", [0.0, 0.3], ids=["at-once", "later"])
async def test_deciding_inline_on_a_stream_ended_at_the_interrupt_resumes(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], pause_before_deciding: float
) -> None:
    bodies: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        response = await open_sse(request)
        if "hitl_decisions" in body:
            await response.write(chunk("approved") + RUN_END)
        else:
            await response.write(RUN_START + HITL)
        return response

    async def decide(request: web.Request) -> web.Response:
        return web.json_response({"message": "no run is waiting"}, status=409)

    app = web.Application()
    app.router.add_post(CHAT, chat)
    app.router.add_post(CHAT + "/hitl/decide", decide)
    client = make_client(await serve(app))
    kinds: list[type] = []
    async with client.chat("c").stream("rm it") as stream:
        async for event in stream:
            kinds.append(type(event))
            if isinstance(event, HitlInterruptEvent):
                await asyncio.sleep(pause_before_deciding)
                await stream.decide([HitlDecision.approve()])
    assert kinds == [RunStartEvent, HitlInterruptEvent, MessageChunkEvent, RunEndEvent]
    assert [b.get("hitl_decisions") for b in bodies] == [None, [{"decision": "approve"}]]
    assert acquired(client) == 0
