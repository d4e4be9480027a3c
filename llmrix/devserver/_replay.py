"""``ReplayServer``: serves a cassette strictly, in order, and never hangs on a difference."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from . import _cassette as cs
from ._host import AppHost, base_url_of

DEFAULT_ACTION_TIMEOUT = 5.0
"""Seconds a replayed stream waits for a recorded stop or decide before failing."""


class _OpenStream:
    """A replayed stream in flight and the stop/decide requests it still expects."""

    def __init__(self, number: int, conversation: str, actions: list[cs.Exchange]) -> None:
        self.number = number
        self.conversation = conversation
        self.actions = actions
        self.next = 0
        self.failure: str | None = None
        self.arrived = asyncio.Event()

    @property
    def expecting(self) -> bool:
        return self.failure is None and self.next < len(self.actions)


class ReplayServer:
    """Answers requests from a cassette, as the recorded server did.

    Requests must come in the recorded order with the recorded method, path, query
    and JSON body; a stop or decide made during a stream must come at the recorded
    point. Any difference answers ``409`` (and ends an open stream with an ``error``
    event) whose message puts the recorded and the actual request side by side; it
    is kept in ``errors``, and `check` raises them with whatever was never asked for.

    ``speed`` ``None`` replays at once; ``1.0`` with the recorded timing, ``2.0``
    twice as fast. ``redact`` is the hook the cassette was recorded with: it is
    applied to each incoming request before the comparison.
    """

    def __init__(
        self,
        cassette: cs.Cassette | str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float | None = None,
        redact: cs.Redact | None = None,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        rewind: bool = False,
        on_mismatch: Callable[[str], None] | None = None,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive (or None for instant), got {speed!r}")
        self.cassette: cs.Cassette = (
            cassette if isinstance(cassette, cs.Cassette) else cs.load(cassette)
        )
        self.speed: float | None = speed
        self.action_timeout: float = action_timeout
        self.errors: list[str] = []
        self.rewind: bool = rewind
        self._on_mismatch = on_mismatch
        self._redact = redact
        self._cursor = 0
        self._open: list[_OpenStream] = []
        self._orphans: list[cs.Exchange] = []
        self._host = AppHost(host, port, 0.5)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return base_url_of(self._host.address)

    @property
    def consumed(self) -> int:
        """How many recorded exchanges were answered so far."""
        return self._cursor

    async def start(self) -> None:
        """Bind the socket and start serving."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        await self._host.start(app)

    async def stop(self) -> None:
        """Stop serving; idempotent."""
        for stream in self._open:
            stream.arrived.set()
        await self._host.stop()

    async def __aenter__(self) -> ReplayServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def unused(self) -> list[str]:
        """The recorded requests nobody made (those after the last answered one)."""
        left = [ex["request"] for ex in self._orphans + self.cassette.exchanges[self._cursor :]]
        return [f"{r.get('method')} {r.get('path')}" for r in left]

    def check(self) -> None:
        """Raise `CassetteMismatch` if anything differed or a recorded request never came."""
        problems = list(self.errors)
        unused = self.unused()
        if unused:
            listed = "\n".join(f"  {line}" for line in unused)
            problems.append(
                f"llmrix cassette: {len(unused)} recorded request(s) never made"
                f" ({self.cassette.source}):\n{listed}"
            )
        if problems:
            raise cs.CassetteMismatch("\n\n".join(problems))

    def _failed(self, message: str) -> None:
        self.errors.append(message)
        if self._on_mismatch is not None:
            self._on_mismatch(message)

    def _actual(self, request: web.Request, body: bytes) -> dict[str, Any]:
        actual = cs.request_record(request.method, request.raw_path, request.headers.items(), body)
        auth = request.headers.get("Authorization", "")
        token = auth.partition(" ")[2] if auth.lower().startswith("bearer ") else ""
        actual = cs.scrub(actual, [token])
        if self._redact is not None:
            actual = self._redact({"request": actual})["request"]
        return dict(actual)

    def _mismatch(self, title: str, recorded: Any, actual: dict[str, Any]) -> web.Response:
        message = cs.side_by_side(f"{title} ({self.cassette.source})", recorded, actual)
        self._failed(message)
        return web.json_response(
            {"message": message, "error_code": cs.MISMATCH_CODE}, status=cs.MISMATCH_STATUS
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        actual = self._actual(request, await request.read())
        conversation = cs.action_conversation(actual["path"])
        stream = next(
            (s for s in self._open if s.conversation == conversation and s.expecting), None
        )
        if stream is not None:
            return self._action(stream, actual)
        if self._orphans:
            return self._orphan(actual)
        exchanges = self.cassette.exchanges
        if self.rewind and self._cursor >= len(exchanges):
            self._cursor = 0
        number = self._cursor + 1
        if self._cursor >= len(exchanges):
            return self._mismatch(
                f"llmrix cassette mismatch: request {number} was not recorded"
                f" (the recording has {len(exchanges)})",
                None,
                actual,
            )
        exchange = exchanges[self._cursor]
        if not cs.same_request(exchange["request"], actual):
            return self._mismatch(
                f"llmrix cassette mismatch: request {number} differs from the recording",
                exchange["request"],
                actual,
            )
        self._cursor += 1
        response = exchange["response"]
        if "frames" in response:
            return await self._stream(request, number, exchange)
        return _answer(response)

    def _orphan(self, actual: dict[str, Any]) -> web.Response:
        """A request recorded during a stream whose client has left by now."""
        expected = self._orphans[0]
        if not cs.same_request(expected["request"], actual):
            return self._mismatch(
                "llmrix cassette mismatch: the client left a stream, then sent another"
                " request than the recorded one",
                expected["request"],
                actual,
            )
        self._orphans.pop(0)
        return _answer(expected["response"])

    def _action(self, stream: _OpenStream, actual: dict[str, Any]) -> web.Response:
        expected = stream.actions[stream.next]
        if not cs.same_request(expected["request"], actual):
            answer = self._mismatch(
                f"llmrix cassette mismatch: while the stream of request {stream.number} was"
                f" open, the client sent another request than the recorded one"
                f" (after frame {expected['at']})",
                expected["request"],
                actual,
            )
            stream.failure = self.errors[-1]
        else:
            stream.next += 1
            answer = _answer(expected["response"])
        stream.arrived.set()
        return answer

    async def _stream(
        self, request: web.Request, number: int, exchange: cs.Exchange
    ) -> web.StreamResponse:
        response = exchange["response"]
        conversation = cs.chat_conversation(exchange["request"]["path"]) or ""
        stream = _OpenStream(number, conversation, list(exchange.get("actions", [])))
        answer = web.StreamResponse(status=response["status"], headers=response.get("headers"))
        await answer.prepare(request)
        self._open.append(stream)
        pace = _Pace(self.speed)
        try:
            frames = response["frames"]
            for index in range(len(frames) + 1):
                if not await self._await_actions(stream, index, pace):
                    await answer.write(_error_frame(stream.failure or ""))
                    break
                if index == len(frames):
                    if response.get("end") == "cut" and request.transport is not None:
                        request.transport.abort()
                        return answer
                    break
                await pace.until(frames[index]["t"])
                await answer.write(frames[index]["raw"].encode("utf-8", "surrogateescape"))
            await answer.write_eof()
        except ConnectionError:
            pass
        finally:
            self._open.remove(stream)
            if stream.expecting:
                self._orphans += stream.actions[stream.next :]
        return answer

    async def _await_actions(self, stream: _OpenStream, index: int, pace: _Pace) -> bool:
        """Wait for the actions recorded before frame ``index``; False once replay failed."""
        loop = asyncio.get_running_loop()
        while stream.expecting and stream.actions[stream.next]["at"] <= index:
            expected = stream.actions[stream.next]
            deadline = loop.time() + self.action_timeout
            while stream.expecting and stream.actions[stream.next] is expected:
                left = deadline - loop.time()
                if left <= 0 or not self._host.running:
                    stream.failure = cs.side_by_side(
                        f"llmrix cassette mismatch: the stream of request {stream.number} waited"
                        f" {self.action_timeout:g} s after frame {expected['at']} for the"
                        f" recorded request, which never came ({self.cassette.source})",
                        expected["request"],
                        None,
                    )
                    self._failed(stream.failure)
                    return False
                stream.arrived.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stream.arrived.wait(), left)
            if stream.failure is not None:
                return False
            pace.restart(expected.get("t", 0.0))
        return stream.failure is None


async def replay_forever(
    cassette: str | Path, *, host: str, port: int, speed: float | None = None
) -> None:
    """Serve a cassette until cancelled, reporting each difference on stderr."""

    def report(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    server = ReplayServer(
        cassette, host=host, port=port, speed=speed, rewind=True, on_mismatch=report
    )
    async with server:
        count = len(server.cassette.exchanges)
        print(
            f"llmrix replay server running; base_url: {server.base_url}"
            f" ({count} recorded requests from {cassette})",
            flush=True,
        )
        await asyncio.get_running_loop().create_future()


class _Pace:
    """Sleeps so frames leave at their recorded offsets (scaled by ``speed``), or not at all."""

    def __init__(self, speed: float | None) -> None:
        self._speed = speed
        self._loop = asyncio.get_running_loop()
        self.restart(0.0)

    def restart(self, offset: float) -> None:
        """Count from ``offset`` of the recording, now."""
        self._origin = offset
        self._wall = self._loop.time()

    async def until(self, offset: float) -> None:
        """Sleep until the recorded ``offset`` is due."""
        if self._speed is None:
            return
        due = self._wall + max(0.0, offset - self._origin) / self._speed
        delay = due - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


def _answer(response: dict[str, Any]) -> web.Response:
    headers = dict(response.get("headers") or {})
    headers.pop("content-length", None)
    return web.Response(status=response["status"], headers=headers, body=cs.body_bytes(response))


def _error_frame(message: str) -> bytes:
    data = json.dumps(
        {"channel": "error", "type": "error", "message": message, "error_code": cs.MISMATCH_CODE}
    )
    return f"event: error\ndata: {data}\n\n".encode()
