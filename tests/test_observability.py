"""Logging (LLMRIX_LOG), raw responses, tracing hooks and stream headers."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp
import pytest
from _support import ServeApp
from aiohttp import web

import llmrix
from llmrix import HitlDecision, LlmrixClient, RetryPolicy
from llmrix.devserver import DevServer

SECRET = "sk-observe-SECRET-7"
GET = "/api/open/v1/conversations/{id}"
CHAT = "/api/open/v1/conversations/{id}/chat"


def flaky_app(failures: int) -> web.Application:
    """GET fails ``failures`` times with 502, then answers with a request id header."""
    calls: list[int] = []

    async def get(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) <= failures:
            return web.json_response({"message": "busy"}, status=502)
        return web.json_response(
            {"id": request.match_info["id"], "title": "t"}, headers={"X-Request-Id": "req-7"}
        )

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Request-Id": "run-req-9"}
        )
        await response.prepare(request)
        await response.write(b'data: {"channel":"lifecycle","type":"run_end"}\n\n')
        return response

    app = web.Application()
    app.router.add_get(GET, get)
    app.router.add_post(CHAT, chat)
    return app


async def test_each_call_logs_method_url_status_time_and_retries(
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = await serve(flaky_app(2))
    client = make_client(url, api_key=SECRET, retry=RetryPolicy(initial_backoff=0.01))
    with caplog.at_level(logging.INFO, logger="llmrix"):
        await client.conversations.get("c1")
    lines = [record.getMessage() for record in caplog.records]
    assert any(
        line.startswith(f"GET {url}/api/open/v1/conversations/c1 -> 200 in ")
        and line.endswith("(2 retries)")
        for line in lines
    ), lines
    assert sum("retrying GET" in line for line in lines) == 2
    assert all(SECRET not in line for line in lines)


def test_llmrix_log_env_prints_the_logger(tmp_path: os.PathLike[str]) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from llmrix import LlmrixClient
        from llmrix.devserver import DevServer

        async def main():
            async with DevServer() as server:
                async with LlmrixClient(server.base_url, api_key={SECRET!r}) as client:
                    await client.conversations.create("logged")

        asyncio.run(main())
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMRIX_")}
    for level, expected in (("info", " INFO llmrix] POST "), ("", None)):
        env["LLMRIX_LOG"] = level
        done = subprocess.run(
            [sys.executable, "-W", "error", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert SECRET not in done.stderr
        if expected is None:
            assert "llmrix]" not in done.stderr
        else:
            assert expected in done.stderr
            assert "/api/open/v1/conversations -> 200 in " in done.stderr


async def test_with_raw_response_gives_status_headers_request_id_and_retries(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(flaky_app(1)), retry=RetryPolicy(initial_backoff=0.01))
    raw = await llmrix.with_raw_response(client.conversations.get("c9"))
    assert raw.parsed.id == "c9"
    assert raw.status_code == 200
    assert raw.request_id == "req-7"
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.retries == 1
    assert raw.method == "GET" and raw.url.endswith("/api/open/v1/conversations/c9")
    assert raw.elapsed > 0

    async def not_a_call() -> int:
        return 1

    with pytest.raises(TypeError, match="llmrix REST call"):
        await llmrix.with_raw_response(not_a_call())


async def test_an_open_stream_shows_its_response_headers(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(flaky_app(0)))
    stream = client.chat("c").stream("hi")
    assert stream.response_headers == {}
    async with stream:
        assert stream.response_headers["X-Request-Id"] == "run-req-9"
        assert [event.type async for event in stream] == ["run_end"]


async def test_trace_configs_see_every_request(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    seen: list[str] = []

    async def on_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        seen.append(f"{params.method} {params.url.path}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    client = make_client(await serve(flaky_app(0)), trace_configs=[trace])
    await client.conversations.get("c1")
    async with client.chat("c1").stream("hi") as stream:
        async for _ in stream:
            pass
    assert seen == ["GET /api/open/v1/conversations/c1", "POST /api/open/v1/conversations/c1/chat"]


async def test_trace_configs_are_checked() -> None:
    with pytest.raises(TypeError, match="TraceConfig"):
        LlmrixClient("http://example.test", trace_configs=[object()])  # type: ignore[list-item]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(TypeError, match="the session the client creates"):
            LlmrixClient(
                "http://example.test", session=session, trace_configs=[aiohttp.TraceConfig()]
            )


async def test_an_api_error_is_logged_with_its_status(
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def missing(request: web.Request) -> web.Response:
        return web.json_response({"message": "gone"}, status=404)

    app = web.Application()
    app.router.add_get(GET, missing)
    client = make_client(await serve(app))
    with caplog.at_level(logging.INFO, logger="llmrix"), pytest.raises(llmrix.NotFoundError):
        await client.conversations.get("x")
    assert any("-> 404 in " in record.getMessage() for record in caplog.records)


class _Signal(logging.Handler):
    """Sets an event when a record reaches the ``llmrix`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.seen.set()


async def test_an_interrupt_left_undecided_logs_one_warning_naming_await_decide() -> None:
    signal = _Signal()
    logging.getLogger("llmrix").addHandler(signal)
    try:
        async with (
            DevServer(heartbeat_interval=0.02) as server,
            LlmrixClient(server.base_url, undecided_warning=0.1) as client,
        ):
            conversation = await client.conversations.create("t")
            async with client.chat(conversation.id).stream("Delete logs /hitl") as stream:
                reading = asyncio.ensure_future(_drain(stream))
                await signal.seen.wait()
                assert stream.interrupt is not None
                await stream.decide([HitlDecision.approve()])
                assert await reading == "run_end"
    finally:
        logging.getLogger("llmrix").removeHandler(signal)
    (record,) = signal.records
    message = record.getMessage()
    assert "await stream.decide([...])" in message
    assert "dangerous_action" in message
    assert stream.interrupt is None


async def _drain(stream: llmrix.ChatStream) -> str:
    last = ""
    async for event in stream:
        last = event.type
    return last


async def test_no_warning_while_a_decision_is_on_its_way() -> None:
    signal = _Signal()
    logging.getLogger("llmrix").addHandler(signal)
    try:
        async with (
            DevServer() as server,
            LlmrixClient(server.base_url, undecided_warning=0.05) as client,
        ):
            conversation = await client.conversations.create("t")
            async with client.chat(conversation.id).stream("x /hitl 2") as stream:
                async for event in stream:
                    if isinstance(event, llmrix.HitlInterruptEvent):
                        await stream.decide([HitlDecision.approve()])
            silent = client.with_options(undecided_warning=None)
            assert silent.options.undecided_warning is None
    finally:
        logging.getLogger("llmrix").removeHandler(signal)
    assert signal.records == []
