"""One row of the concurrency suite, in a process of its own: N paced streams, one subject.

``python -m benchmarks._concurrency_client SUBJECT BASE_URL STREAMS FRAMES`` consumes
STREAMS concurrent streams of FRAMES events each from the paced server
(`benchmarks._paced`) and prints one JSON object. SUBJECT is ``asyncio`` or
``uvloop`` (``async for event in stream`` on one ``LlmrixClient``, all streams
gathered on one loop of that kind) or ``official`` (the official SDK's blocking
``stream()``, one thread per stream, one shared client).

Measured: the process's CPU time, the wall clock and its minor page faults between the
moments the events counted across all streams pass 10% and 90% of the total (so
connecting and closing are left out), the delay of every ``message_chunk`` in that
window from the server's write (its timestamp) to the loop body, the resident memory
before the streams open and the kernel's high-water mark after, and what is left
afterwards: file descriptors once the client is closed, plus tasks still running and
connections still acquired (ours) or threads still alive (official).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from benchmarks._paced import raise_open_files_limit

if TYPE_CHECKING:
    from llmrix._loop import EventLoopChoice

__all__ = ["SUBJECTS", "Meter", "main"]

SUBJECTS = ("asyncio", "uvloop", "official")
IDLE_TIMEOUT = 120.0
JOIN_TIMEOUT = 300.0
WINDOW = (0.1, 0.9)


class Meter:
    """Counts events across streams; reads the clocks at the window's edges."""

    def __init__(self, total: int) -> None:
        self._counter = itertools.count(1)
        self.first, self.last = (max(1, int(total * edge)) for edge in WINDOW)
        self.marks: dict[int, tuple[float, float, int]] = {}
        self.delays_ns: list[int] = []

    def event(self, stamp: str | None) -> None:
        """One event reached a loop body; ``stamp``: a chunk's server write time."""
        now = time.monotonic_ns()
        seen = next(self._counter)
        if stamp is not None and self.first <= seen < self.last:
            self.delays_ns.append(now - int(stamp))
        if seen == self.first or seen == self.last:
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            self.marks[seen] = (time.process_time(), time.perf_counter(), faults)

    def window(self) -> tuple[int, float, float, int]:
        """Events, CPU seconds, wall seconds and minor page faults inside the window
        (zeros if not reached)."""
        if len(self.marks) < 2:
            return 0, 0.0, 0.0, 0
        (cpu0, wall0, faults0) = self.marks[self.first]
        (cpu1, wall1, faults1) = self.marks[self.last]
        return self.last - self.first, cpu1 - cpu0, wall1 - wall0, faults1 - faults0


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _status_kib(field: bytes) -> int:
    """A size from ``/proc/self/status`` (``VmRSS``, ``VmHWM``), in KiB."""
    with open("/proc/self/status", "rb") as file:
        for line in file:
            if line.startswith(field + b":"):
                return int(line.split()[1])
    return 0


async def _our_stream(client: Any, index: int, meter: Meter) -> tuple[int, str]:
    count, last = 0, ""
    async with client.chat(f"c{index}").stream("go") as stream:
        async for event in stream:
            meter.event(event.content if event.type == "message_chunk" else None)
            count += 1
            last = event.type
    return count, last


async def _ours(base_url: str, streams: int, meter: Meter, out: dict[str, Any]) -> list[Any]:
    from llmrix import LlmrixClient

    async with LlmrixClient(
        base_url, max_connections=streams, stream_idle_timeout=IDLE_TIMEOUT
    ) as client:
        out["rss_before_kib"] = _status_kib(b"VmRSS")
        outcomes = await asyncio.gather(
            *(_our_stream(client, index, meter) for index in range(streams)),
            return_exceptions=True,
        )
        await asyncio.sleep(0)
        session = client.session
        connector = session.connector if session is not None else None
        out["acquired"] = len(getattr(connector, "_acquired", ()))
        out["tasks_left"] = len(asyncio.all_tasks() - {asyncio.current_task()})
    for _ in range(3):
        await asyncio.sleep(0)
    return outcomes


def _official(base_url: str, streams: int, meter: Meter, out: dict[str, Any]) -> list[Any]:
    import httpx

    from benchmarks.official import load_official_parser

    load_official_parser()
    import llmrix_official

    client = llmrix_official.LlmrixClient(base_url)
    # Its one httpx client allows 100 connections by default: widened, so every
    # thread streams at once rather than waiting for a connection.
    client._transport._client.close()
    client._transport._client = httpx.Client(
        timeout=httpx.Timeout(60.0, connect=10.0),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
    )
    chunk_type = llmrix_official.streaming.MessageChunkEvent
    outcomes: list[Any] = [RuntimeError("thread did not run")] * streams

    def one(index: int) -> None:
        count, last = 0, ""
        try:
            for event in client.chat(f"c{index}").stream("go"):
                meter.event(event.content if type(event) is chunk_type else None)
                count += 1
                last = event.type
        except Exception as exc:
            outcomes[index] = exc
        else:
            outcomes[index] = (count, last)

    out["rss_before_kib"] = _status_kib(b"VmRSS")
    threads = []
    for index in range(streams):
        thread = threading.Thread(target=one, args=(index,), daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # can't start new thread
            outcomes[index] = exc
            continue
        threads.append(thread)
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    out["threads_left"] = sum(thread.is_alive() for thread in threads)
    client.close()
    return outcomes


def _percentile(values: list[int], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e3


def measure(subject: str, base_url: str, streams: int, frames: int) -> dict[str, Any]:
    """Consume the streams with ``subject``; everything the suite reports for one row."""
    meter = Meter(streams * frames)
    out: dict[str, Any] = {}
    run: Callable[[], list[Any]]
    if subject == "official":
        run = lambda: _official(base_url, streams, meter, out)  # noqa: E731
    else:
        from llmrix._loop import run as run_loop

        kind: EventLoopChoice = "uvloop" if subject == "uvloop" else "asyncio"
        # A first loop opens what a loop kind keeps for the process (uvloop: a pipe).
        run_loop(asyncio.sleep(0), kind)
        run = lambda: run_loop(_ours(base_url, streams, meter, out), kind)  # noqa: E731
    fds_before = _open_fds()
    started = time.process_time(), time.perf_counter()
    outcomes = run()
    out["fds_left"] = _open_fds() - fds_before
    good = sum(1 for outcome in outcomes if outcome == (frames, "run_end"))
    events, cpu, wall, faults = meter.window()
    out.update(
        events=sum(o[0] for o in outcomes if isinstance(o, tuple)),
        errors=streams - good,
        failures=[repr(o) for o in outcomes if not isinstance(o, tuple)][:3],
        window_events=events,
        window_cpu_s=cpu,
        window_wall_s=wall,
        window_page_faults=faults,
        total_cpu_s=time.process_time() - started[0],
        total_wall_s=time.perf_counter() - started[1],
        delay_p50_us=_percentile(meter.delays_ns, 0.5),
        delay_p99_us=_percentile(meter.delays_ns, 0.99),
        delay_max_us=_percentile(meter.delays_ns, 1.0),
        hwm_kib=_status_kib(b"VmHWM"),
    )
    return out


def main(argv: Sequence[str]) -> int:
    """``SUBJECT BASE_URL STREAMS FRAMES``: print one JSON object."""
    if len(argv) != 4 or argv[0] not in SUBJECTS:
        print(
            f"usage: python -m benchmarks._concurrency_client {{{','.join(SUBJECTS)}}} "
            "BASE_URL STREAMS FRAMES",
            file=sys.stderr,
        )
        return 2
    raise_open_files_limit()
    print(json.dumps(measure(argv[0], argv[1], int(argv[2]), int(argv[3]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
