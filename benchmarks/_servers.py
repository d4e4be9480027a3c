"""Servers in their own processes for the network suites, and process CPU and memory readings.

``dev_server_process()`` runs ``python -m llmrix serve --port 0`` (the dev server);
``replay_server_process(n)`` runs this module's replay server, which answers every
chat request with the bytes the dev server sends for ``/long n``, encoded once at
start-up, so that serving costs next to nothing. Both bind 127.0.0.1 on a free port,
print their URL, and are stopped (SIGTERM, then SIGKILL) when the ``with`` block ends.

``python -m benchmarks._servers replay N`` runs the replay server in the foreground.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "LONG_CHUNK",
    "ServerProcess",
    "cpu_seconds",
    "dev_server_process",
    "long_stream_frames",
    "paced_server_process",
    "page_size",
    "replay_server_process",
]

REPO = Path(__file__).resolve().parent.parent
LONG_CHUNK = "lorem "
"""The text of every message chunk the dev server sends for ``/long N``."""
BATCH_BYTES = 64 * 1024
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}

_URL = re.compile(rb"(https?://[^\s/]+)")


@dataclass(frozen=True)
class ServerProcess:
    """A running server process: its URL root and its pid."""

    base_url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """User plus system CPU seconds the process has used, or None without ``/proc``."""
        return cpu_seconds(self.pid)


def page_size() -> int | None:
    """The memory page size when ``/proc`` can be read (Linux), else None."""
    if not os.path.exists("/proc/self/statm"):
        return None
    return os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) used by ``pid`` so far, read from ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _spawn(command: Sequence[str]) -> Iterator[ServerProcess]:
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        ) as process,
    ):
        try:
            yield ServerProcess(_banner_url(process, errors), process.pid)
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _banner_url(process: subprocess.Popen[bytes], errors: IO[bytes]) -> str:
    """The URL the server prints once it listens; raises if it does not within the timeout."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else b""
    match = _URL.search(line)
    if match is None:
        process.kill()
        process.wait()
        errors.seek(0)
        tail = errors.read()[-2000:]
        raise RuntimeError(
            f"server {process.args!r} did not start: {line!r} {tail.decode(errors='replace')}"
        )
    return match.group(1).decode()


def dev_server_process() -> contextlib.AbstractContextManager[ServerProcess]:
    """``llmrix serve`` on a free port of 127.0.0.1, in its own process."""
    return _spawn([sys.executable, "-m", "llmrix", "serve", "--host", "127.0.0.1", "--port", "0"])


def replay_server_process(n_chunks: int) -> contextlib.AbstractContextManager[ServerProcess]:
    """This module's replay server for ``/long n_chunks`` on 127.0.0.1, in its own process."""
    return _spawn([sys.executable, "-m", "benchmarks._servers", "replay", str(n_chunks)])


def paced_server_process(
    streams: int, frames: int, rate: float
) -> contextlib.AbstractContextManager[ServerProcess]:
    """`benchmarks._paced`: ``streams`` paced streams of ``frames`` events, ``rate`` in all."""
    return _spawn([sys.executable, "-m", "benchmarks._paced", str(streams), str(frames), str(rate)])


def _frame(payload: str, channel: str) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (channel.encode(), payload.encode())


def long_stream_frames(n_chunks: int) -> list[bytes]:
    """The dev server's ``/long n_chunks`` stream as 64 KiB batches cut at frame ends."""
    run_id, thread_id, message_id = "run_0123456789ab", uuid.uuid4().hex, uuid.uuid4().hex
    start = _frame(
        f'{{"channel":"lifecycle","type":"run_start","run_id":"{run_id}",'
        f'"thread_id":"{thread_id}"}}',
        "lifecycle",
    )
    chunk = _frame(
        f'{{"channel":"messages","type":"message_chunk","content":"{LONG_CHUNK}",'
        f'"id":"{message_id}"}}',
        "messages",
    )
    end = _frame(
        f'{{"channel":"lifecycle","type":"run_end","run_id":"{run_id}","thread_id":"{thread_id}"}}',
        "lifecycle",
    )
    per_batch = max(1, BATCH_BYTES // len(chunk))
    batches = [start]
    whole, rest = divmod(n_chunks, per_batch)
    batches += [chunk * per_batch] * whole
    if rest:
        batches.append(chunk * rest)
    batches.append(end)
    return batches


async def _replay(n_chunks: int) -> None:
    from aiohttp import web

    batches = long_stream_frames(n_chunks)

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        for batch in batches:
            await response.write(batch)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/api/open/v1/conversations/{id}/chat", chat)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    stopped = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set_result, None)
    try:
        await web.SockSite(runner, sock).start()
        print(f"replay server listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
        await stopped
    finally:
        await runner.cleanup()
        sock.close()


def main(argv: Sequence[str]) -> int:
    """``replay N``: serve ``/long N`` from memory until SIGTERM."""
    if len(argv) != 2 or argv[0] != "replay" or not argv[1].isdigit():
        print("usage: python -m benchmarks._servers replay N", file=sys.stderr)
        return 2
    asyncio.run(_replay(int(argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
