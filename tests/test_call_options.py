"""Per-call options on every resource method and chat call; 503 handling; one resource style."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from _support import ServeApp, acquired, chunk, frame
from aiohttp import web

from llmrix import (
    UNSET,
    APITimeoutError,
    ConversationUpdateRequest,
    CronCreateRequest,
    HitlDecision,
    LlmrixClient,
    Mate,
    ServiceUnavailableError,
)

PREFIX = "/api/open/v1"
CONVERSATION = {"id": "c1", "title": "t", "seq": 1}
TASK = {"id": "t1", "name": "n"}
AGENT = {"id": 3, "name": "a"}
SSE = frame({"type": "run_start", "run_id": "r1"}) + chunk("hi") + frame({"type": "run_end"})


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def answer_for(method: str, path: str) -> Any:
    """A valid answer for every route of the protocol."""
    parts = path.strip("/").split("/")
    if method == "DELETE" or parts[-1] in ("stop", "decide"):
        return None
    if parts[0] == "conversations":
        return (
            {"items": [], "has_more": False}
            if method == "GET" and len(parts) != 2
            else CONVERSATION
        )
    if parts[0] == "cron":
        return {"tasks": []} if len(parts) == 2 and method == "GET" else TASK
    if parts[-1] == "mates":
        return {"mates": []}
    return {"agents": []} if len(parts) == 1 and method == "GET" else {"agent": AGENT}


def recorder(seen: list[Seen], delay: float = 0.0) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        path = request.raw_path.split("?")[0].removeprefix(PREFIX)
        seen.append(
            Seen(
                request.method,
                path,
                dict(request.query),
                dict(request.headers),
                json.loads(raw) if raw else None,
            )
        )
        if delay and request.query.get("slow"):
            await asyncio.sleep(delay)
        if path.endswith("/chat"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(SSE)
            return response
        answer = answer_for(request.method, path)
        return web.Response(status=204) if answer is None else web.json_response(answer)

    app = web.Application()
    app.router.add_route("*", PREFIX + "/{tail:.*}", handle)
    return app


async def drain(items: AsyncIterator[Any]) -> None:
    async for _ in items:
        pass


Call = Callable[..., Awaitable[Any]]


async def streamed(client: LlmrixClient, **options: Any) -> None:
    async with client.chat("c1").stream("hi", **options) as stream:
        await stream.until_done()


CALLS: dict[str, Call] = {
    "conversations.create": lambda c, **o: c.conversations.create("t", **o),
    "conversations.list": lambda c, **o: c.conversations.list(**o),
    "conversations.iter": lambda c, **o: drain(c.conversations.iter(**o)),
    "conversations.get": lambda c, **o: c.conversations.get("c1", **o),
    "conversations.update": lambda c, **o: c.conversations.update("c1", title="x", **o),
    "conversations.delete": lambda c, **o: c.conversations.delete("c1", **o),
    "conversations.messages": lambda c, **o: c.conversations.messages("c1", **o),
    "conversations.iter_messages": lambda c, **o: drain(c.conversations.iter_messages("c1", **o)),
    "cron.list": lambda c, **o: c.cron.list(**o),
    "cron.create": lambda c, **o: c.cron.create("n", prompt="p", schedule_expr="1", **o),
    "cron.get": lambda c, **o: c.cron.get("t1", **o),
    "cron.update": lambda c, **o: c.cron.update("t1", prompt="q", **o),
    "cron.pause": lambda c, **o: c.cron.pause("t1", **o),
    "cron.resume": lambda c, **o: c.cron.resume("t1", **o),
    "cron.delete": lambda c, **o: c.cron.delete("t1", **o),
    "agents.list": lambda c, **o: c.agents.list(**o),
    "agents.create": lambda c, **o: c.agents.create("a", **o),
    "agents.get": lambda c, **o: c.agents.get(3, **o),
    "agents.update": lambda c, **o: c.agents.update(3, name="b", **o),
    "agents.delete": lambda c, **o: c.agents.delete(3, **o),
    "agents.list_mates": lambda c, **o: c.agents.list_mates(3, **o),
    "agents.save_mates": lambda c, **o: c.agents.save_mates(3, [Mate(name="m")], **o),
    "chat.stream": streamed,
    "chat.complete": lambda c, **o: c.chat("c1").complete("hi", **o),
    "chat.complete_text": lambda c, **o: c.chat("c1").complete_text("hi", **o),
    "chat.send": lambda c, **o: c.chat("c1").send("hi", lambda event: None, **o),
    "chat.stop": lambda c, **o: c.chat("c1").stop(**o),
    "chat.decide": lambda c, **o: c.chat("c1").decide([HitlDecision.approve()], **o),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_extra_headers_query_and_body_apply_to_that_call_only(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], name: str
) -> None:
    seen: list[Seen] = []
    client = make_client(await serve(recorder(seen)), headers={"X-Client": "c"})
    call = CALLS[name]
    await call(
        client,
        extra_headers={"X-Call": "yes", "X-Client": "overridden"},
        extra_query={"trace": "t1"},
        extra_body={"extra": [1, 2]},
    )
    await call(client)
    assert len(seen) == 2
    with_options, without = seen
    assert with_options.headers["X-Call"] == "yes"
    assert with_options.headers["X-Client"] == "overridden"
    assert with_options.query.get("trace") == "t1"
    assert with_options.body["extra"] == [1, 2]
    assert "X-Call" not in without.headers
    assert without.headers["X-Client"] == "c"
    assert "trace" not in without.query
    assert without.body is None or "extra" not in without.body
    assert (with_options.method, with_options.path) == (without.method, without.path)
    if name.startswith("chat.") and name not in ("chat.stop", "chat.decide"):
        assert with_options.headers["Cache-Control"] == without.headers["Cache-Control"]
        assert with_options.body["message"] == "hi"
    assert acquired(client) == 0


async def test_timeout_applies_to_that_call_only(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    seen: list[Seen] = []
    client = make_client(await serve(recorder(seen, delay=0.5)), max_retries=0)
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="timed out"):
        await client.conversations.get("c1", timeout=0.1, extra_query={"slow": "1"})
    with pytest.raises(APITimeoutError):
        await client.chat("c1").complete("hi", timeout=0.1, extra_query={"slow": "1"})
    assert time.monotonic() - started < 0.45
    assert (await client.conversations.get("c1", extra_query={"slow": "1"})).id == "c1"
    snapshot = await client.chat("c1").complete("hi", extra_query={"slow": "1"})
    assert snapshot.text == "hi"
    assert acquired(client) == 0


def test_a_misspelt_client_option_names_the_closest_valid_one() -> None:
    from llmrix.sync import LlmrixClient as SyncClient

    hint = r"'stream_idel_timeout' \(did you mean 'stream_idle_timeout'\?\)"
    bad: dict[str, Any] = {"stream_idel_timeout": 5}
    with pytest.raises(TypeError, match=f"unknown LlmrixClient option: {hint}"):
        LlmrixClient("http://127.0.0.1:9", **bad)
    with pytest.raises(TypeError, match=f"unknown LlmrixClient option: {hint}"):
        SyncClient("http://127.0.0.1:9", **bad)
    with pytest.raises(TypeError, match=r"unknown LlmrixClient option: 'zzz'$"):
        LlmrixClient("http://127.0.0.1:9", **{"zzz": 1})  # type: ignore[arg-type]


async def test_a_misspelt_with_options_change_names_the_closest_valid_one() -> None:
    async with LlmrixClient("http://127.0.0.1:9") as client:
        with pytest.raises(TypeError, match=r"'max_retires' \(did you mean 'max_retries'\?\)"):
            client.with_options(**{"max_retires": 2})  # type: ignore[arg-type]


async def test_misspelt_or_ill_typed_options_are_a_clear_type_error(
    make_client: Callable[..., LlmrixClient],
) -> None:
    client = make_client("http://127.0.0.1:9", max_retries=0)
    bad: dict[str, Any] = {"extra_header": {"a": "b"}}
    with pytest.raises(
        TypeError,
        match=r"unknown per-call option: 'extra_header' \(did you mean 'extra_headers'\?\)",
    ):
        await client.conversations.get("c1", **bad)
    with pytest.raises(TypeError, match=r"unknown per-call option.*modle"):
        await client.chat("c1").complete("hi", **{"modle": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'timeuot' \(did you mean 'timeout'\?\)"):
        client.chat("c1").stream("hi", **{"timeuot": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="extra_headers must be a mapping of str to str"):
        await client.cron.list(extra_headers={"X-N": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="timeout must be a number"):
        await client.agents.list(timeout="soon")  # type: ignore[arg-type]


async def test_503_is_not_retried_without_retry_after_and_says_why(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    calls: list[str] = []
    retry_after: list[str] = []

    async def unavailable(request: web.Request) -> web.Response:
        calls.append(request.path)
        if retry_after:
            headers = {"Retry-After": retry_after.pop()}
            return web.json_response({"detail": "warming up"}, status=503, headers=headers)
        if request.path.endswith("/cron/tasks"):
            return web.json_response({"tasks": []})
        return web.json_response({"detail": "auth not configured"}, status=503)

    app = web.Application()
    app.router.add_route("*", PREFIX + "/{tail:.*}", unavailable)
    client = make_client(await serve(app), max_retries=3)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError, match="HTTP 503: auth not configured") as info:
        await client.agents.list()
    assert info.value.message == "auth not configured"
    assert calls == [PREFIX + "/agent"]
    assert time.monotonic() - started < 0.3
    retry_after.append("0")
    assert await client.cron.list() == []
    assert calls[1:] == [PREFIX + "/cron/tasks"] * 2


async def test_one_resource_style_and_unset(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    seen: list[Seen] = []
    client = make_client(await serve(recorder(seen)))
    await client.conversations.update("c1", ConversationUpdateRequest(agent_id=None))
    await client.conversations.update("c1", title="x", agent_id=UNSET)
    await client.cron.create(CronCreateRequest(name="n", prompt="p", schedule_expr="60"))
    await client.cron.create("n", prompt="p", schedule_expr="60", schedule_type="interval")
    await client.cron.update("t1", channel="web")
    await client.agents.update(3, mcps=("fs",))
    await client.agents.create("a", type="team", outlines=[{"k": 1}])
    assert [s.body for s in seen] == [
        {"agent_id": None},
        {"title": "x"},
        {"name": "n", "prompt": "p", "schedule_expr": "60", "schedule_type": "cron"},
        {"name": "n", "prompt": "p", "schedule_expr": "60", "schedule_type": "interval"},
        {"channel": "web"},
        {"mcps": ["fs"]},
        {"name": "a", "type": "team", "outlines": [{"k": 1}]},
    ]
    with pytest.raises(TypeError, match="expected a ConversationUpdateRequest"):
        wrong: Any = CronCreateRequest(name="n", prompt="p", schedule_expr="1")
        await client.conversations.update("c1", wrong)
    with pytest.raises(TypeError, match="positional"):
        await client.cron.create("n", "p", "1")  # type: ignore[call-overload]
