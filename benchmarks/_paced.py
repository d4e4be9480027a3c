"""A paced live-stream server for the concurrency suite, cheap enough to stay out of the way.

``python -m benchmarks._paced STREAMS FRAMES RATE`` listens on a free port of
127.0.0.1 and prints its URL. It answers every POST (any path) with a chunked
``text/event-stream`` and, once STREAMS requests have come (or `START_WAIT`
seconds after the first), writes the frames of all streams in turn at RATE frames
per second in all: frame ``k`` goes to stream ``k % STREAMS``, so each stream gets
one frame every STREAMS/RATE seconds and what changes with STREAMS is the number
of open streams, not the load. Each stream is ``run_start``, FRAMES - 2
``message_chunk`` events whose ``content`` is the server's ``time.monotonic_ns()``
at the write (the client subtracts it from its own clock: both read the same
system-wide monotonic clock), and ``run_end``; then the connection is closed.
Every frame is its own write and its own HTTP chunk.

It is a bare asyncio protocol writing precomputed bytes (only the timestamp is
formatted per write). Timers resolve to a millisecond, too coarse for a write
every 0.5 ms, so the pacer sleeps between writes inside a callback and yields to
the loop after each write (the loop then polls without waiting).
"""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import sys
import time
import uuid
from collections.abc import Sequence

__all__ = ["START_WAIT", "TIMESTAMP_DIGITS", "main"]

START_WAIT = 30.0
"""Seconds after the first request to start with the streams that came, if not all did."""
TIMESTAMP_DIGITS = 20
RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)
LAST_CHUNK = b"0\r\n\r\n"


def _chunk(frame: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(frame), frame)


class _Frames:
    """The bytes of one stream's frames; only a chunk's timestamp changes per write."""

    def __init__(self) -> None:
        run, thread, message = "run_0123456789ab", uuid.uuid4().hex, uuid.uuid4().hex
        ids = f'"run_id":"{run}","thread_id":"{thread}"'
        self.start = _chunk(
            b'event: lifecycle\ndata: {"channel":"lifecycle","type":"run_start",%s}\n\n'
            % ids.encode()
        )
        self.end = (
            _chunk(
                b'event: lifecycle\ndata: {"channel":"lifecycle","type":"run_end",%s}\n\n'
                % ids.encode()
            )
            + LAST_CHUNK
        )
        head = b'event: messages\ndata: {"channel":"messages","type":"message_chunk","content":"'
        tail = b'","id":"%s"}\n\n' % message.encode()
        self.chunk_head = b"%x\r\n%s" % (len(head) + TIMESTAMP_DIGITS + len(tail), head)
        self.chunk_tail = tail + b"\r\n"

    def chunk(self) -> bytes:
        stamp = b"%020d" % time.monotonic_ns()
        return self.chunk_head + stamp + self.chunk_tail


class _Connection(asyncio.Protocol):
    """One client connection: reads one request, then is written to by the pacer."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.request = bytearray()
        self.answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.answered:
            return
        self.request += data
        end = self.request.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in bytes(self.request[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.request) < end + 4 + length:
            return
        self.answered = True
        assert self.transport is not None
        self.transport.write(RESPONSE_HEAD)
        self.server.arrived(self)

    def write(self, data: bytes, last: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if last:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class _Server:
    """Collects the streams, then paces their frames."""

    def __init__(self, streams: int, frames: int, rate: float) -> None:
        self.expected = streams
        self.frames_per_stream = frames
        self.period = 1.0 / rate
        self.frames = _Frames()
        self.waiting: list[_Connection] = []
        self.pacing: list[_Connection] | None = None
        self.start_timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    def arrived(self, connection: _Connection) -> None:
        if self.pacing is not None:  # too late for this round: an empty run
            connection.write(self.frames.start, last=False)
            connection.write(self.frames.end, last=True)
            return
        self.waiting.append(connection)
        if len(self.waiting) == self.expected:
            self.start()
        elif self.start_timer is None:
            self.start_timer = self.loop.call_later(START_WAIT, self.start)

    def start(self) -> None:
        if self.start_timer is not None:
            self.start_timer.cancel()
        self.pacing, self.waiting = self.waiting, []
        self._pace(0, time.monotonic())

    def _pace(self, k: int, started: float) -> None:
        streams = self.pacing
        assert streams is not None
        count = len(streams)
        total = count * self.frames_per_stream
        delay = started + k * self.period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        index = k // count
        connection = streams[k % count]
        if index == 0:
            connection.write(self.frames.start, last=False)
        elif index == self.frames_per_stream - 1:
            connection.write(self.frames.end, last=True)
        else:
            connection.write(self.frames.chunk(), last=False)
        if k + 1 < total:
            self.loop.call_soon(self._pace, k + 1, started)


async def _serve(streams: int, frames: int, rate: float) -> None:
    loop = asyncio.get_running_loop()
    server = _Server(streams, frames, rate)
    listener = await loop.create_server(
        lambda: _Connection(server), "127.0.0.1", 0, backlog=max(128, streams * 2)
    )
    stopped = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stopped.set_result, None)
    port = listener.sockets[0].getsockname()[1]
    print(f"paced server listening on http://127.0.0.1:{port}", flush=True)
    try:
        await stopped
    finally:
        listener.close()


def raise_open_files_limit() -> None:
    """Allow as many open files as the hard limit does (a thousand sockets and more)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main(argv: Sequence[str]) -> int:
    """``STREAMS FRAMES RATE``: serve one round of paced streams until SIGTERM."""
    if len(argv) != 3 or not (argv[0].isdigit() and argv[1].isdigit()) or int(argv[1]) < 2:
        print("usage: python -m benchmarks._paced STREAMS FRAMES(>=2) RATE", file=sys.stderr)
        return 2
    raise_open_files_limit()
    asyncio.run(_serve(int(argv[0]), int(argv[1]), float(argv[2])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
