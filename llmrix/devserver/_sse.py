"""Server-sent-events writer: framing, batching, keep-alives and fault injection."""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web

from . import _events as ev
from ._models import HitlDecision
from ._options import FaultOptions
from ._run import Run, ServerClosing, StreamCut, StreamDetached

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
BATCH_BYTES = 64 * 1024

_COMMENT_PING = b": ping\n\n"
_HEARTBEAT_FRAME = b'event: heartbeat\ndata: {"channel":"heartbeat","type":""}\n\n'
_DATA_PING = b"data: :ping\n\n"
_JSON_HEARTBEAT = b'data: {"channel":"heartbeat","type":""}\n\n'
_MALFORMED = b'event: messages\ndata: {"channel":"messages","type":"message_chunk","content":\n\n'

_encoder = msgspec.json.Encoder()


_BOM = "\ufeff".encode()
RETRY_MS = 3000


def frame(event: ev.Event, faults: FaultOptions | None = None, frame_id: int = 0) -> bytes:
    """Encode one event as ``event: <channel>`` plus a JSON ``data:`` line.

    ``faults`` may drop the ``event:`` line, spread the JSON over one ``data:`` line per
    member, and add ``id:`` (``frame_id``) and, for frame 1, ``retry:`` fields.
    """
    if faults is None or not (faults.no_event_line or faults.multiline_data or faults.sse_ids):
        return b"event: %s\ndata: %s\n\n" % (event["channel"].encode(), _encoder.encode(event))
    lines = [] if faults.no_event_line else [b"event: " + event["channel"].encode()]
    if faults.sse_ids:
        lines.append(b"id: %d" % frame_id)
        if frame_id == 1:
            lines.append(b"retry: %d" % RETRY_MS)
    if faults.multiline_data:
        members = [_encoder.encode(key) + b":" + _encoder.encode(v) for key, v in event.items()]
        lines.append(b"data: {" + b",\ndata: ".join(members) + b"}")
    else:
        lines.append(b"data: " + _encoder.encode(event))
    return b"\n".join(lines) + b"\n\n"


class SseStream:
    """Writes one run's events to an open response and waits on the run's signals."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        run: Run,
        faults: FaultOptions,
        heartbeat_interval: float,
    ) -> None:
        self._request = request
        self._response = response
        self._run = run
        self._faults = faults
        self._heartbeat_interval = heartbeat_interval
        self._buffer = bytearray()
        self._events = 0
        self._malformed_sent = False
        self._beats = 0
        self._started = False
        self._last_write = asyncio.get_running_loop().time()

    async def emit(self, event: ev.Event, *, flush: bool = True) -> None:
        """Send an event unless the run was stopped or the server is closing."""
        self._run.check()
        await self.send(event, flush=flush)

    async def send(self, event: ev.Event, *, flush: bool = True) -> None:
        """Send an event regardless of the run's state (used for terminal events)."""
        await self._apply_faults()
        self._events += 1
        self._buffer += frame(event, self._faults, self._events)
        if flush or len(self._buffer) >= BATCH_BYTES:
            await self.flush()

    async def emit_many(self, event: ev.Event, count: int) -> None:
        """Send ``event`` ``count`` times, encoded once and written in large batches."""
        faults = self._faults
        counted = (faults.cut_after, faults.malformed_after, faults.stall_after)
        if faults.sse_ids or counted != (None, None, None):
            for _ in range(count):
                await self.emit(event, flush=False)
            await self.flush()
            return
        encoded = frame(event, faults)
        per_batch = max(1, BATCH_BYTES // len(encoded))
        batch = encoded * per_batch
        left = count
        while left:
            self._run.check()
            take = min(left, per_batch)
            self._buffer += batch if take == per_batch else encoded * take
            self._events += take
            left -= take
            await self.flush()

    async def flush(self) -> None:
        """Write out whatever is buffered."""
        if not self._buffer:
            return
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._faults.crlf:
            data = data.replace(b"\n", b"\r\n")
        elif self._faults.cr:
            data = data.replace(b"\n", b"\r")
        if not self._started:
            self._started = True
            if self._faults.bom:
                data = _BOM + data
        if self._faults.byte_per_write:
            for index in range(len(data)):
                await self._response.write(data[index : index + 1])
                await asyncio.sleep(0)
        else:
            await self._response.write(data)
        self._last_write = asyncio.get_running_loop().time()

    async def keepalives(self) -> None:
        """Send all four keep-alive forms back to back."""
        self._run.check()
        self._buffer += _COMMENT_PING + _HEARTBEAT_FRAME + _DATA_PING + _JSON_HEARTBEAT
        await self.flush()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, sending keep-alives when idle for too long."""
        self._run.check()
        if seconds <= 0:
            return
        await self.flush()
        deadline = asyncio.get_running_loop().time() + seconds
        while await self._idle(deadline):
            self._run.check()
        self._run.check()

    async def wait_for_decisions(self) -> list[HitlDecision]:
        """Wait for the HITL decisions, sending keep-alives meanwhile."""
        await self.flush()
        while True:
            self._run.check()
            if self._run.decisions is not None:
                return self._run.decisions
            if self._faults.end_at_interrupt:
                raise StreamDetached
            await self._idle(None)

    async def finish(self) -> None:
        """Flush and end the response cleanly."""
        await self.flush()
        await self._response.write_eof()

    async def _idle(self, deadline: float | None) -> bool:
        """Sleep until woken (True) or until ``deadline`` (False), beating when due."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if deadline is not None and now >= deadline:
                return False
            beat_at = self._last_write + self._heartbeat_interval
            if now >= beat_at:
                await self._heartbeat()
                continue
            until = beat_at if deadline is None else min(beat_at, deadline)
            try:
                await asyncio.wait_for(self._run.wake.wait(), until - now)
            except asyncio.TimeoutError:
                continue
            self._run.wake.clear()
            return True

    async def _heartbeat(self) -> None:
        self._buffer += _HEARTBEAT_FRAME if self._beats % 2 else _COMMENT_PING
        self._beats += 1
        await self.flush()

    async def _apply_faults(self) -> None:
        faults = self._faults
        if faults.malformed_after == self._events and not self._malformed_sent:
            self._malformed_sent = True
            self._buffer += _MALFORMED
        if faults.cut_after == self._events:
            await self.flush()
            transport = self._request.transport
            if transport is not None:
                transport.abort()
            raise StreamCut
        if faults.stall_after == self._events:
            await self.flush()
            while not self._run.closing:
                await self._run.wake.wait()
                self._run.wake.clear()
            raise ServerClosing
