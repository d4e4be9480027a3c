"""Races on one async ChatStream, forced with asyncio events: two enters, two
decisions at one interrupt, a close from another task (issue 16, items 4-6)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from _support import ServeApp, acquired, chunk, frame
from aiohttp import web

from llmrix import (
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    LlmrixError,
    StreamError,
    Turn,
)

CHAT = "/api/open/v1/conversations/{id}/chat"
RUN_START = frame({"type": "run_start", "run_id": "r1"})
RUN_END = frame({"type": "run_end", "run_id": "r1"})
HITL = frame({"type": "hitl_interrupt", "id": "h1", "action_name": "rm"})


class Recorder:
    """A chat server for one test: what it was sent, and when to let go."""

    def __init__(self, *, pause_at_interrupt: bool) -> None:
        self.pause_at_interrupt = pause_at_interrupt
        self.chats: list[dict[str, Any]] = []
        self.decides: list[dict[str, Any]] = []
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(CHAT, self.chat)
        app.router.add_post(CHAT + "/hitl/decide", self.decide)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.chats.append(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if "hitl_decisions" in body:
            await response.write(chunk("resumed") + RUN_END)
            return response
        await response.write(RUN_START + chunk("hello") + HITL)
        if not self.pause_at_interrupt:
            await self.release.wait()
            await response.write(chunk("after") + RUN_END)
        return response

    async def decide(self, request: web.Request) -> web.Response:
        self.decides.append(await request.json())
        self.release.set()
        return web.json_response({})


async def read_to_interrupt(stream: Any) -> None:
    async for event in stream:
        if isinstance(event, HitlInterruptEvent):
            return


@pytest.mark.parametrize("pause_at_interrupt", [True, False], ids=["paused", "held-open"])
async def test_two_decisions_at_one_interrupt_are_sent_once(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], pause_at_interrupt: bool
) -> None:
    server = Recorder(pause_at_interrupt=pause_at_interrupt)
    client = make_client(await serve(server.app()))
    async with client.chat("c").stream("rm it") as stream:
        await read_to_interrupt(stream)
        outcomes = await asyncio.gather(
            stream.decide([HitlDecision.approve()]),
            stream.decide([HitlDecision.approve()]),
            return_exceptions=True,
        )
        assert outcomes[0] is None
        assert isinstance(outcomes[1], LlmrixError)
        assert "already running" in str(outcomes[1])
        with pytest.raises(LlmrixError, match="already been decided"):
            await stream.decide([HitlDecision.approve()])
        texts = [e.content async for e in stream if e.type == "message_chunk"]
    assert texts == (["resumed"] if pause_at_interrupt else ["after"])
    resumes = [body for body in server.chats if "hitl_decisions" in body]
    assert len(resumes) + len(server.decides) == 1
    assert acquired(client) == 0


async def test_a_stream_entered_by_two_tasks_at_once_sends_the_turn_once(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    server = Recorder(pause_at_interrupt=True)
    client = make_client(await serve(server.app()))
    stream = client.chat("c").stream("hi")
    outcomes = await asyncio.gather(
        stream.__aenter__(), stream.__aenter__(), return_exceptions=True
    )
    assert outcomes[0] is stream
    assert isinstance(outcomes[1], RuntimeError)
    assert "only once" in str(outcomes[1])
    try:
        kinds = [event.type async for event in stream]
    finally:
        await stream.__aexit__(None, None, None)
    assert kinds == ["run_start", "message_chunk", "hitl_interrupt"]
    assert len(server.chats) == 1
    assert acquired(client) == 0


async def test_aclose_from_another_task_ends_the_reading_loop_cleanly(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    server = Recorder(pause_at_interrupt=False)
    client = make_client(await serve(server.app()))
    read: list[str] = []
    got_interrupt = asyncio.Event()
    async with client.chat("c").stream("hi") as stream:

        async def reader() -> None:
            async for event in stream:
                read.append(event.type)
                if isinstance(event, HitlInterruptEvent):
                    got_interrupt.set()

        task = asyncio.create_task(reader())
        await got_interrupt.wait()
        await asyncio.sleep(0)
        assert stream._reading
        await stream.aclose()
        await task
        assert stream.state is Turn.CLOSED
        assert stream.snapshot.status == "paused"
        assert acquired(client) == 0
    assert read == ["run_start", "message_chunk", "hitl_interrupt"]
    assert server.decides == []


async def test_a_close_during_the_pause_grace_wait_sends_nothing(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    server = Recorder(pause_at_interrupt=False)
    client = make_client(await serve(server.app()))
    async with client.chat("c").stream("rm it") as stream:
        await read_to_interrupt(stream)
        deciding = asyncio.create_task(stream.decide([HitlDecision.approve()]))
        await asyncio.sleep(0)
        assert stream.state is Turn.DECIDING and stream._reading
        await stream.aclose()
        with pytest.raises(StreamError, match="decision was not sent"):
            await deciding
        assert [event async for event in stream] == []
    assert len(server.chats) == 1
    assert server.decides == []
    assert stream.snapshot.status == "paused"
    assert acquired(client) == 0


async def test_a_stream_whose_request_failed_can_be_entered_again(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    answers = [web.json_response({"message": "busy"}, status=409)]
    server = Recorder(pause_at_interrupt=True)

    async def chat(request: web.Request) -> web.StreamResponse:
        if answers:
            await request.read()
            return answers.pop()
        return await server.chat(request)

    app = web.Application()
    app.router.add_post(CHAT, chat)
    client = make_client(await serve(app))
    stream = client.chat("c").stream("hi")
    with pytest.raises(LlmrixError):
        await stream.__aenter__()
    assert stream.state is Turn.NEW
    async with stream:
        assert [event.type async for event in stream][-1] == "hitl_interrupt"
    assert stream.state is Turn.CLOSED
    assert acquired(client) == 0
