"""How much a stream asks of its socket per read on asyncio's own loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from _support import ServeApp, frame
from aiohttp import web

from llmrix import LlmrixClient, MessageChunkEvent, RunEndEvent
from llmrix._eventsource import READ_SIZE

CHAT = "/api/open/v1/conversations/{id}/chat"
BIG = "x" * (5 * READ_SIZE)


async def chat(request: web.Request) -> web.StreamResponse:
    """Two small frames, one frame five read sizes long, then the end: one write each."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for part in (
        frame({"channel": "lifecycle", "type": "run_start", "run_id": "r"}),
        frame({"channel": "messages", "type": "message_chunk", "content": "small"}),
        frame({"channel": "messages", "type": "message_chunk", "content": BIG}),
        frame({"channel": "lifecycle", "type": "run_end", "run_id": "r"}),
    ):
        await response.write(part)
        await asyncio.sleep(0.01)
    return response


async def test_a_stream_asks_its_socket_for_at_most_the_read_size(
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the headers are in, every read of the client's socket asks for at most
    `READ_SIZE` bytes (asyncio's default is 256 KiB, which churns the heap on
    each small frame), and a frame longer than that still arrives whole."""
    if not hasattr(asyncio.get_running_loop(), "_selector"):
        pytest.skip("the read size is asyncio's selector transport's; this loop reads its own way")
    app = web.Application()
    app.router.add_post(CHAT, chat)
    base_url = await serve(app)
    port = int(base_url.rsplit(":", 1)[1])
    asked: list[int] = []
    streaming = False
    plain_recv = socket.socket.recv

    def recv(sock: socket.socket, size: int, *flags: int) -> bytes:
        if streaming and sock.getpeername()[1] == port:
            asked.append(size)
        return plain_recv(sock, size, *flags)

    monkeypatch.setattr(socket.socket, "recv", recv)
    client = make_client(base_url)
    contents: list[str] = []
    async with client.chat("c").stream("hi") as stream:
        streaming = True
        async for event in stream:
            if isinstance(event, MessageChunkEvent):
                contents.append(event.content)
        assert isinstance(event, RunEndEvent)
    assert contents == ["small", BIG]
    assert asked, "the client's socket was never read"
    assert max(asked) == READ_SIZE
