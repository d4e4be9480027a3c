"""``Recorder``: a loopback reverse proxy that writes what passes through it as a cassette.

Any client can be pointed at it (the async or sync SDK, another language's SDK, a
browser): it forwards each request to the real server with the API key, streams the
answer back as it arrives, and notes every SSE frame with its time offset. A stop or
decide request made while a chat stream of the same conversation is open is noted
inside that stream's exchange, at the number of frames forwarded by then.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from .._version import __version__
from ..devserver import _cassette as cs
from ..devserver._host import AppHost, base_url_of

__all__ = ["Recorder"]

_CONNECT_TIMEOUT = 30.0
_HOP_HEADERS = frozenset(
    {
        "host",
        "authorization",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "accept-encoding",
    }
)


class FrameSplitter:
    """Cuts an SSE byte stream into frames as sent (a frame ends at a blank line).

    Lines may end in LF, CRLF or a lone CR; a CR at the end of the data waits for
    the next chunk, which may start with its LF.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan = 0
        self._line_start = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; returns the frames it completed."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        pos = self._scan
        while True:
            lf, cr = buffer.find(b"\n", pos), buffer.find(b"\r", pos)
            ends = [i for i in (lf, cr) if i >= 0]
            if not ends:
                break
            at = min(ends)
            if buffer[at] == 0x0D:
                if at + 1 == len(buffer):
                    break
                end = at + 2 if buffer[at + 1] == 0x0A else at + 1
            else:
                end = at + 1
            blank = at == self._line_start
            pos = self._line_start = end
            if blank:
                frames.append(bytes(buffer[:end]))
                del buffer[:end]
                pos = self._line_start = 0
        self._scan = pos
        return frames

    def finish(self) -> list[bytes]:
        """Whatever is left when the stream ends, as a last frame."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        self._scan = self._line_start = 0
        return [rest] if rest else []


class _Streaming:
    """An open chat stream being recorded."""

    def __init__(self, request: web.Request, conversation: str, exchange: cs.Exchange) -> None:
        self.request = request
        self.conversation = conversation
        self.exchange = exchange
        self.frames: list[dict[str, Any]] = []
        self.started = asyncio.get_running_loop().time()

    @property
    def client_gone(self) -> bool:
        """Whether the client already closed this stream's connection."""
        transport = self.request.transport
        return transport is None or transport.is_closing()

    def offset(self) -> float:
        return round(asyncio.get_running_loop().time() - self.started, 4)


class Recorder:
    """Records the traffic between clients and ``base_url`` (``async with``; then `save`).

    ``api_key`` is sent upstream as ``Authorization: Bearer``; a client's own bearer
    key is forwarded when none is given. Neither is ever stored: every occurrence of
    a key (headers, URLs, bodies, frames) becomes ``<redacted>``. ``redact`` gets each
    exchange as plain data and returns it with the user's own secrets removed.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        redact: cs.Redact | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.upstream: str = base_url.rstrip("/")
        self._api_key = api_key
        self._redact = redact
        self._secrets: set[str] = {api_key} if api_key else set()
        self._exchanges: list[cs.Exchange] = []
        self._open: list[_Streaming] = []
        self._session: aiohttp.ClientSession | None = None
        self._host = AppHost(host, port, 0.5)
        self.recorded_at: datetime.datetime = datetime.datetime.now(datetime.timezone.utc)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the proxy: point clients here."""
        return base_url_of(self._host.address)

    @property
    def exchanges(self) -> list[cs.Exchange]:
        """What was recorded so far, secrets removed and the ``redact`` hook applied."""
        cleaned = [cs.scrub(exchange, self._secrets) for exchange in self._exchanges]
        return [self._redact(e) if self._redact else e for e in cleaned]

    def header(self) -> dict[str, Any]:
        """The cassette's header fields."""
        stamp = self.recorded_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return {"sdk_version": __version__, "recorded_at": stamp}

    def save(self, path: str | Path) -> None:
        """Write the cassette to ``path`` (directories are created)."""
        cs.dump(path, self.header(), self.exchanges)

    async def start(self) -> None:
        """Start the proxy."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # No total timeout: a stream may wait on a human decision for as long as it takes.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT)
        self._session = aiohttp.ClientSession(auto_decompress=False, timeout=timeout)
        try:
            await self._host.start(app)
        except BaseException:
            await self._session.close()
            raise

    async def stop(self) -> None:
        """Stop the proxy; idempotent."""
        await self._host.stop()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Recorder:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _upstream_headers(self, request: web.Request) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        auth = request.headers.get("Authorization")
        if auth and auth.lower().startswith("bearer "):
            self._secrets.add(auth.partition(" ")[2])
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        elif auth:
            headers["Authorization"] = auth
        return headers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = self._upstream_headers(request)
        record = cs.request_record(request.method, request.raw_path, request.headers.items(), body)
        conversation = cs.action_conversation(record["path"])
        streaming = next(
            (
                s
                for s in reversed(self._open)
                if s.conversation == conversation and not s.client_gone
            ),
            None,
        )
        exchange: cs.Exchange = {"request": record}
        if streaming is not None:
            action = {"at": len(streaming.frames), "t": streaming.offset(), **exchange}
            streaming.exchange.setdefault("actions", []).append(action)
            exchange = action
        else:
            self._exchanges.append(exchange)
        url = self.upstream + request.raw_path
        try:
            async with self._session.request(
                request.method, url, data=body, headers=headers, allow_redirects=False
            ) as upstream:
                status: dict[str, Any] = {
                    "status": upstream.status,
                    "headers": cs.kept_headers(upstream.headers.items(), response=True),
                }
                if upstream.content_type == "text/event-stream":
                    return await self._relay(request, upstream, exchange, status)
                data = await upstream.read()
        except aiohttp.ClientConnectionError as exc:
            message = f"llmrix recorder: cannot reach {self.upstream}: {type(exc).__name__}"
            exchange["response"] = {"status": 502, "headers": {}, "json": {"message": message}}
            return web.json_response({"message": message}, status=502)
        exchange["response"] = cs.with_body(status, data, exact=True)
        return web.Response(status=status["status"], body=data, headers=status["headers"])

    async def _relay(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        exchange: cs.Exchange,
        status: dict[str, Any],
    ) -> web.StreamResponse:
        conversation = cs.chat_conversation(exchange["request"]["path"]) or ""
        streaming = _Streaming(request, conversation, exchange)
        exchange["response"] = {**status, "frames": streaming.frames, "end": "eof"}
        answer = web.StreamResponse(status=upstream.status, headers=status["headers"])
        answer.headers["Cache-Control"] = "no-cache"
        await answer.prepare(request)
        splitter = FrameSplitter()
        self._open.append(streaming)
        try:
            async for data in upstream.content.iter_any():
                await answer.write(data)
                self._note(streaming, splitter.feed(data))
            self._note(streaming, splitter.finish())
        except aiohttp.ClientPayloadError:
            self._note(streaming, splitter.finish())
            exchange["response"]["end"] = "cut"
            if request.transport is not None:
                request.transport.abort()
            return answer
        finally:
            self._open.remove(streaming)
        await answer.write_eof()
        return answer

    @staticmethod
    def _note(streaming: _Streaming, frames: list[bytes]) -> None:
        for frame in frames:
            raw = frame.decode("utf-8", "surrogateescape")
            streaming.frames.append({"t": streaming.offset(), "raw": raw})
