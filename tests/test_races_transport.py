"""Races and leaks of the transport and pool (issue 16): per-loop pool state, fork, secrets
in error chains, header validation, a dropped stream, closing from another loop.

The servers are written here: a raw HTTP/1.1 server in its own thread (it outlives the
``asyncio.run`` calls of a test and sees each client disconnect) and small aiohttp apps.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _support import ServeApp, chunk, frame
from aiohttp import web

from llmrix import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    LlmrixClient,
    LlmrixError,
    RetryPolicy,
    StreamError,
    with_raw_response,
)

ROOT = "/api/open/v1"
GET = ROOT + "/conversations/{id}"
CHAT = ROOT + "/conversations/{id}/chat"
KEY = "sk-issue16-very-secret-key"
RUN_START = frame({"channel": "lifecycle", "type": "run_start", "run_id": "r1"})
HITL = frame({"channel": "hitl", "type": "hitl_interrupt", "id": "h1", "action_name": "rm"})
NO_RETRY = RetryPolicy(max_retries=0)


class LoopbackServer:
    """HTTP/1.1 on 127.0.0.1, in a thread with its own loop.

    A GET answers ``{"id": <the client's port>}`` on a keep-alive connection; a POST
    to ``.../chat`` answers an SSE ``run_start`` and holds the stream until the client
    hangs up, which it counts in ``hangups``.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.hangups = threading.Semaphore(0)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self._thread.start()
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for writer in self._writers:
                writer.close()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("peername")[1]
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ", 1)[0]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                if method == "GET":
                    body = json.dumps({"id": str(port)}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                    continue
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Connection: close\r\n\r\n" + RUN_START
                )
                await reader.read()  # until the client hangs up
                self.hangups.release()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
def loopback() -> Iterator[str]:
    with LoopbackServer() as url:
        yield url


def open_fds() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


# 3. Fork safety of the async client's pool.


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_connections_and_leaves_the_parents(loopback: str) -> None:
    client = LlmrixClient(loopback)

    async def port() -> str:
        return (await client.conversations.get("c")).id

    parent_loop = asyncio.new_event_loop()  # a loop that lives on, like a server's
    try:
        parent_port = parent_loop.run_until_complete(port())
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: report and leave without running any pytest teardown
            code = 1
            try:

                async def child() -> str:
                    try:
                        return await port()
                    finally:
                        await client.close()

                os.write(write_end, asyncio.run(child()).encode())
                del client  # what the child inherited is dropped, as at its exit
                gc.collect()
                code = 0
            except BaseException:
                os.write(write_end, traceback.format_exc().encode())
            finally:
                os._exit(code)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read_end) as pipe:
            child_says = pipe.read()
        assert os.waitstatus_to_exitcode(status) == 0, child_says
        assert child_says != parent_port  # a connection of its own
        # The parent's pooled connection is intact: the child touched neither it nor the loop.
        assert parent_loop.run_until_complete(port()) == parent_port
        parent_loop.run_until_complete(client.close())
    finally:
        parent_loop.close()


# 7. A stream left open when its asyncio.run() ended.


def test_a_stream_left_open_when_its_loop_ended_is_closed_and_frees_no_new_slot() -> None:
    server = LoopbackServer()
    with server as url:
        client = LlmrixClient(url, max_connections=1, retry=NO_RETRY)

        async def leave_open() -> Any:
            stream = client.chat("c").stream("hi")
            await stream.__aenter__()
            await stream.__anext__()
            return stream

        stream = asyncio.run(leave_open())

        async def next_run() -> None:
            await stream.__aexit__(None, None, None)
            assert server.hangups.acquire(timeout=10)  # its socket is closed
            async with client.chat("c").stream("hi"):  # holds the one slot
                with pytest.raises(APITimeoutError, match="max_connections=1"):
                    async with client.chat("c").stream("hi", timeout=0.3):
                        pass
            await client.close()

        asyncio.run(next_run())


# 8. No socket leak per loop switch.


def test_a_client_used_across_many_asyncio_runs_leaks_no_socket(loopback: str) -> None:
    client = LlmrixClient(loopback)

    async def get() -> str:
        return (await client.conversations.get("c")).id

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(get())
        after_one = open_fds()
        for _ in range(29):
            asyncio.run(get())
        after_thirty = open_fds()
        asyncio.run(client.close())
        gc.collect()
    assert after_thirty <= after_one
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# 12. A stream dropped unclosed; close() from another loop.


async def held_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(RUN_START)
    with contextlib.suppress(ConnectionError):
        for _ in range(600):
            await asyncio.sleep(0.05)
            await response.write(b": still here\n\n")
    return response


async def conversation(request: web.Request) -> web.Response:
    return web.json_response({"id": request.match_info["id"]})


def held_app() -> web.Application:
    app = web.Application()
    app.router.add_post(CHAT, held_stream)
    app.router.add_get(GET, conversation)
    return app


async def test_a_stream_dropped_without_closing_gives_its_slot_back(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(held_app()), max_connections=1, retry=NO_RETRY)
    stream = client.chat("c").stream("hi")
    await stream.__aenter__()
    del stream
    gc.collect()
    assert (await client.conversations.get("after", timeout=5)).id == "after"


def test_close_from_another_loop_fails_cleanly_and_changes_nothing(loopback: str) -> None:
    client = LlmrixClient(loopback)

    async def get() -> str:
        return (await client.conversations.get("c")).id

    first = asyncio.new_event_loop()
    try:
        port = first.run_until_complete(get())
        with pytest.raises(LlmrixError, match="event loop that uses it"):
            asyncio.run(client.close())
        assert not client.is_closed
        assert first.run_until_complete(get()) == port  # same pooled connection
        first.run_until_complete(client.close())
        assert client.is_closed
    finally:
        first.close()


async def test_events_decoded_before_a_break_within_the_grace_are_kept(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def pause_then_break(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(RUN_START + HITL + chunk("late") + b'data: {"type": "mess')
        return response  # ends inside a frame

    app = web.Application()
    app.router.add_post(CHAT, pause_then_break)
    client = make_client(await serve(app))
    source = await client._transport.open_stream(
        ("conversations", "c", "chat"), {"message": "hi"}, idle_timeout=5
    )
    try:
        rest = await source.rest_if_ended(5)
        assert rest is not None
        assert [type(event).__name__ for event in rest] == [
            "RunStartEvent",
            "HitlInterruptEvent",
            "MessageChunkEvent",
        ]
        with pytest.raises(StreamError, match="inside a frame"):
            await source.next_batch()
    finally:
        source.close()


async def test_a_second_wait_for_the_end_of_a_stream_is_refused_clearly(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(held_app()))
    source = await client._transport.open_stream(
        ("conversations", "c", "chat"), {"message": "hi"}, idle_timeout=5
    )
    try:
        first = asyncio.create_task(source.rest_if_ended(0.5))
        await asyncio.sleep(0)  # the first task now waits for the end
        with pytest.raises(LlmrixError, match="already waiting"):
            await source.rest_if_ended(0.5)
        assert await first is None  # the stream goes on
    finally:
        source.close()


# 9. The API key never appears in an error chain.


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def assert_no_secret(error: BaseException, *secrets: str) -> None:
    shown = [repr(error.__cause__), repr(error.__context__), str(error)]
    shown += [repr(item) for item in chain(error)]
    shown += traceback.format_exception(type(error), error, error.__traceback__)
    if hasattr(error, "headers"):
        shown.append(repr(dict(error.headers)))
    if hasattr(error, "body"):
        shown.append(error.body)
    for secret in secrets:
        assert not [text for text in shown if secret in text], secret


async def redirect_loop(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.path)


async def echo_key_401(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    return web.json_response(
        {"message": f"key {auth} refused"}, status=401, headers={"X-Echo": auth}
    )


async def hang_up(request: web.Request) -> web.Response:
    assert request.transport is not None
    request.transport.close()
    return web.Response()


async def echo_key_as_html(request: web.Request) -> web.Response:
    return web.Response(text=f"<p>{request.headers['Authorization']}</p>", content_type="text/html")


async def cut_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(RUN_START)
    assert request.transport is not None
    request.transport.abort()
    return response


async def read_turn(client: LlmrixClient) -> None:
    async with client.chat("c").stream("hi") as stream:
        async for _ in stream:
            pass


async def get_conversation(client: LlmrixClient) -> None:
    await client.conversations.get("c")


@pytest.mark.parametrize(
    ("handler", "call", "expected"),
    [
        (redirect_loop, get_conversation, APIConnectionError),
        (echo_key_401, get_conversation, AuthenticationError),
        (hang_up, get_conversation, APIConnectionError),
        (echo_key_as_html, read_turn, LlmrixError),
        (cut_stream, read_turn, StreamError),
    ],
)
async def test_no_error_shows_the_api_key(
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    handler: Callable[[web.Request], Any],
    call: Callable[[LlmrixClient], Any],
    expected: type[LlmrixError],
) -> None:
    app = web.Application()
    app.router.add_get(GET, handler)
    app.router.add_post(CHAT, handler)
    client = make_client(await serve(app), api_key=KEY, retry=NO_RETRY)
    with pytest.raises(expected) as info:
        await call(client)
    assert_no_secret(info.value, KEY)


async def test_no_connect_error_shows_the_proxy_password(
    make_client: Callable[..., LlmrixClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://user:proxy-password-123@127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client("http://example.test", api_key=KEY, retry=NO_RETRY)
    with pytest.raises(APIConnectionError) as info:
        await client.conversations.get("c")
    assert_no_secret(info.value, KEY, "proxy-password-123")


async def test_raw_responses_and_debug_logs_never_show_the_api_key(
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def echo(request: web.Request) -> web.Response:
        auth = request.headers["Authorization"]
        return web.json_response({"id": "c"}, headers={"X-Echo": auth})

    app = web.Application()
    app.router.add_get(GET, echo)
    client = make_client(await serve(app), api_key=KEY)
    with caplog.at_level(logging.DEBUG, logger="llmrix"):
        raw = await with_raw_response(client.conversations.get("c"))
    assert raw.headers["x-echo"] == "Bearer ***"
    assert KEY not in repr(raw)
    assert caplog.records
    assert not [r for r in caplog.records if KEY in r.getMessage()]


async def test_no_authorization_header_goes_to_another_host_on_redirect(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    seen: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"id": "moved"})

    other_app = web.Application()
    other_app.router.add_get(GET, elsewhere)
    other = await serve(other_app)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(other + request.path)

    app = web.Application()
    app.router.add_get(GET, moved)
    client = make_client(await serve(app), api_key=KEY)
    assert (await client.conversations.get("c")).id == "moved"
    assert seen == [None]


# 10. Headers are valid HTTP or refused.

BAD_HEADERS = [
    ({"X-Tenant:Id": "7"}, "X-Tenant:Id"),
    ({"": "7"}, "''"),
    ({"X Tenant": "7"}, "X Tenant"),
    ({"X-Tenant": "7\r\nX-Injected: yes"}, "X-Tenant"),
    ({"X-Tenant": "7\n"}, "X-Tenant"),
    ({"X-Tenant": "a\x00b"}, "X-Tenant"),
]


@pytest.mark.parametrize(("headers", "named"), BAD_HEADERS)
def test_invalid_client_headers_are_refused_naming_the_header_not_the_value(
    headers: dict[str, str], named: str
) -> None:
    with pytest.raises(ValueError, match="header") as info:
        LlmrixClient("http://example.test", headers=headers)
    assert named in str(info.value)
    for value in headers.values():
        assert value not in str(info.value)
    client = LlmrixClient("http://example.test")
    with pytest.raises(ValueError, match="header"):
        client.with_options(headers=headers)


@pytest.mark.parametrize(("headers", "named"), BAD_HEADERS)
async def test_invalid_extra_headers_are_refused_before_sending(
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    headers: dict[str, str],
    named: str,
) -> None:
    sent: list[web.Request] = []

    async def record(request: web.Request) -> web.Response:
        sent.append(request)
        return web.json_response({"id": "c"})

    app = web.Application()
    app.router.add_get(GET, record)
    app.router.add_post(CHAT, record)
    client = make_client(await serve(app))
    with pytest.raises(ValueError, match="extra_headers") as info:
        await client.conversations.get("c", extra_headers=headers)
    assert named in str(info.value)
    with pytest.raises(ValueError, match="extra_headers"):
        client.chat("c").stream("hi", extra_headers=headers)
    assert sent == []


async def test_valid_headers_go_out_as_given(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"id": request.headers["X-Tenant-Id"]})

    app = web.Application()
    app.router.add_get(GET, echo)
    client = make_client(await serve(app), headers={"X-Tenant-Id": "a\tb 7"})
    assert (await client.conversations.get("c")).id == "a\tb 7"
