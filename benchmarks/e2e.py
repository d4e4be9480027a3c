"""End to end over loopback: a dev server's ``/long N`` run, consumed by three clients.

Subjects, each reading the same run (``run_start``, N message chunks, ``run_end``):

- ``llmrix``: ``async for event in stream`` over ``client.chat(id).stream(...)``.
- ``llmrix batches()``: ``async for events in stream.batches()``, one list per read.
- ``llmrix sync``: ``for`` over ``llmrix.sync.LlmrixClient``'s ``chat(id).stream(...)``,
  run like the official SDK (directly, or in a worker thread for the in-process case).
- ``official 1.0.0``: the official SDK's sync generator ``chat(id).stream(...)`` over httpx;
  called directly when the server has its own process, in a worker thread
  (``asyncio.to_thread``) when the server shares this process's event loop.
- ``httpx + httpx-sse``: ``aconnect_sse`` on an ``httpx.AsyncClient``, ``json.loads`` per event.
- ``llmrix read loop, batches`` / ``llmrix read loop, per event``: the decoder's entry
  point as the coming wire object will drive it: ``readany()`` on an aiohttp response,
  ``ChunkDecoder.feed(chunk, out)``, the events taken a read at a time, or one at a time
  through an async generator (what ``async for event`` costs on top of decoding).

Cases:

- ``dev server process``: ``llmrix serve`` in its own process (the machine's second core).
- ``replay server process``: a server that replays the same bytes, encoded once, so the
  clients are measured with the server (nearly) out of the way.
- ``dev server in-process``: ``DevServer`` on the client's own event loop, one core for both.

``client CPU %`` is this process's CPU time over wall time while the subject ran (it
includes the server in the in-process case); ``server CPU %`` is the server process's.
A server near 100 % bounds the client.

A last case, ``snapshot update (no I/O)``, prices the `RunSnapshot` kept by every
stream: the replayed bytes are decoded as the stream's wire object does, alone and then
each read's events applied to a snapshot (text kept, and not), CPU time per event,
medians of interleaved rounds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks._harness import (
    OFFICIAL,
    OURS,
    OURS_SYNC,
    Column,
    Config,
    Row,
    SuiteResult,
    time_round_robin,
)
from benchmarks._servers import (
    ServerProcess,
    dev_server_process,
    long_stream_frames,
    replay_server_process,
)
from llmrix import LlmrixClient, sync
from llmrix.chunks import ChunkDecoder
from llmrix.devserver import DevServer
from llmrix.events import StreamEvent
from llmrix.snapshot import SnapshotUpdater

__all__ = [
    "HTTPX_SSE",
    "OFFICIAL",
    "OURS",
    "OURS_BATCHES",
    "OURS_SYNC",
    "READ_BATCHES",
    "READ_EVENTS",
    "run",
]

NAME = "e2e"
HTTPX_SSE = "httpx + httpx-sse"
OURS_BATCHES = "llmrix batches()"
READ_BATCHES = "llmrix read loop, batches"
READ_EVENTS = "llmrix read loop, per event"
SUBJECTS = (OURS, OURS_BATCHES, OURS_SYNC, READ_BATCHES, READ_EVENTS, OFFICIAL, HTTPX_SSE)
SNAPSHOT_CASE = "snapshot update (no I/O)"
DECODE_ONLY = "decode"
WITH_SNAPSHOT = "decode + snapshot"
WITH_SNAPSHOT_NO_TEXT = "decode + snapshot, keep_text=False"

MIN_CPU_WALL = 0.5
"""Seconds of timed runs below which /proc's CPU ticks are too coarse to judge the bound."""

DEV_PROCESS = "dev server process"
REPLAY_PROCESS = "replay server process"
IN_PROCESS = "dev server in-process"

COLUMNS = [
    Column("events", "events", ",.0f"),
    Column("events_per_s", "events/s", ",.0f"),
    Column("mb_per_s", "MB/s", ".1f"),
    Column("x_official", "x official", ".2f"),
    Column("x_ours", "x ours", ".3f"),
    Column("client_cpu_pct", "client CPU %", ".0f"),
    Column("server_cpu_pct", "server CPU %", ".0f"),
    Column("spread_pct", "median-best %", ".1f"),
    Column("ns_per_event", "CPU ns/event", ",.0f"),
    Column("overhead_pct", "vs decode %", "+.1f"),
]


@dataclass
class _Usage:
    """CPU seconds used by each side across a subject's timed runs."""

    client: float = 0.0
    server: float | None = 0.0
    wall: float = 0.0


@dataclass
class _Case:
    """Where the server runs, and how to read its CPU time (None: same process)."""

    label: str
    base_url: str
    server_cpu: Callable[[], float | None] | None
    conversation_id: str = "bench"
    usage: dict[str, _Usage] = field(default_factory=dict)


async def ours_once(client: LlmrixClient, conversation_id: str, message: str) -> int:
    """Events yielded by our ``chat.stream()`` for one run."""
    count = 0
    async with client.chat(conversation_id).stream(message) as stream:
        async for _ in stream:
            count += 1
    return count


async def ours_batches_once(client: LlmrixClient, conversation_id: str, message: str) -> int:
    """Events in the lists ``stream.batches()`` hands out for one run."""
    count = 0
    async with client.chat(conversation_id).stream(message) as stream:
        async for events in stream.batches():
            count += len(events)
    return count


def sync_once(client: sync.LlmrixClient, conversation_id: str, message: str) -> int:
    """Events yielded by the sync client's ``chat.stream()`` for one run."""
    count = 0
    with client.chat(conversation_id).stream(message) as stream:
        for _ in stream:
            count += 1
    return count


async def _read_loop(
    session: aiohttp.ClientSession, url: str, message: str
) -> AsyncIterator[list[StreamEvent]]:
    """The events of one run, a read at a time: ``readany()`` then ``ChunkDecoder.feed``."""
    decoder = ChunkDecoder()
    async with session.post(url, json={"message": message}) as response:
        response.raise_for_status()
        while True:
            chunk = await response.content.readany()
            out: list[StreamEvent] = []
            done = decoder.feed(chunk, out)
            yield out
            if done or not chunk:
                return


async def read_loop_batches_once(session: aiohttp.ClientSession, url: str, message: str) -> int:
    """Events the read loop decodes for one run, taken a read at a time."""
    count = 0
    async for events in _read_loop(session, url, message):
        count += len(events)
    return count


async def read_loop_events_once(session: aiohttp.ClientSession, url: str, message: str) -> int:
    """Events the read loop decodes for one run, taken one at a time by ``async for``."""

    async def each() -> AsyncIterator[StreamEvent]:
        async for events in _read_loop(session, url, message):
            for event in events:
                yield event

    count = 0
    async for _ in each():
        count += 1
    return count


async def httpx_sse_once(client: Any, url: str, message: str) -> int:
    """Non-heartbeat events httpx-sse yields for one run, each parsed with ``json.loads``."""
    from httpx_sse import aconnect_sse

    count = 0
    async with aconnect_sse(client, "POST", url, json={"message": message}) as source:
        async for sse in source.aiter_sse():
            if sse.event == "heartbeat" or sse.data in ("", ":ping"):
                continue
            if json.loads(sse.data).get("channel") != "heartbeat":
                count += 1
    return count


def official_once(client: Any, heartbeat: type, conversation_id: str, message: str) -> int:
    """Non-heartbeat events the official SDK's ``stream()`` yields for one run."""
    count = 0
    for event in client.chat(conversation_id).stream(message):
        if not isinstance(event, heartbeat):
            count += 1
    return count


def _official_client(base_url: str) -> tuple[Any, type]:
    """The official client and its heartbeat class; ``RuntimeError`` when unavailable."""
    from benchmarks.official import OfficialSDKMissing, load_official_parser

    try:
        parser = load_official_parser()
    except OfficialSDKMissing as exc:
        raise RuntimeError(str(exc)) from None
    import llmrix_official

    return llmrix_official.LlmrixClient(base_url), parser.events.HeartbeatEvent


def _httpx_client() -> Any:
    """An ``httpx.AsyncClient`` for httpx-sse; ``RuntimeError`` when unavailable."""
    try:
        import httpx
        import httpx_sse  # noqa: F401
    except ImportError as exc:
        reason = f"httpx/httpx-sse not installed ({exc}); pip install -e '.[bench]'"
        raise RuntimeError(reason) from None
    return httpx.AsyncClient(timeout=None)


def _metered(case: _Case, name: str, once: Callable[[], int], expected: int) -> Callable[[], None]:
    """``once`` checked against ``expected``, its CPU use added to ``case.usage[name]``."""
    usage = case.usage.setdefault(name, _Usage())

    def subject() -> None:
        server_before = case.server_cpu() if case.server_cpu else None
        client_before, wall_before = time.process_time(), time.perf_counter()
        count = once()
        usage.wall += time.perf_counter() - wall_before
        usage.client += time.process_time() - client_before
        server_after = case.server_cpu() if case.server_cpu else None
        if server_before is None or server_after is None or usage.server is None:
            usage.server = None
        else:
            usage.server += server_after - server_before
        if count != expected:
            raise AssertionError(f"{case.label}: {name} yielded {count}, expected {expected}")

    return subject


def _measure(
    loop: asyncio.AbstractEventLoop, case: _Case, n_chunks: int, repeats: int
) -> tuple[dict[str, float], dict[str, Any], dict[str, str]]:
    """Time every available subject against ``case``; returns rates, timings, skip reasons."""
    message = f"/long {n_chunks}"
    expected = n_chunks + 2
    url = f"{case.base_url}/api/open/v1/conversations/{case.conversation_id}/chat"

    def on_loop(make: Callable[[], Awaitable[int]]) -> Callable[[], int]:
        return lambda: loop.run_until_complete(make())

    def blocking(once: Callable[[], int]) -> Callable[[], int]:
        """A sync subject; in a worker thread when the server needs this thread's loop."""
        if case.server_cpu is None:
            return on_loop(lambda: asyncio.to_thread(once))
        return once

    ours = LlmrixClient(case.base_url)
    ours_sync = sync.LlmrixClient(case.base_url)
    session = loop.run_until_complete(_session())
    closers: list[Callable[[], object]] = [
        lambda: loop.run_until_complete(ours.close()),
        ours_sync.close,
        lambda: loop.run_until_complete(session.close()),
    ]
    runs: dict[str, Callable[[], int]] = {
        OURS: on_loop(lambda: ours_once(ours, case.conversation_id, message)),
        OURS_SYNC: blocking(lambda: sync_once(ours_sync, case.conversation_id, message)),
        OURS_BATCHES: on_loop(lambda: ours_batches_once(ours, case.conversation_id, message)),
        READ_BATCHES: on_loop(lambda: read_loop_batches_once(session, url, message)),
        READ_EVENTS: on_loop(lambda: read_loop_events_once(session, url, message)),
    }
    missing: dict[str, str] = {}
    try:
        try:
            official, heartbeat = _official_client(case.base_url)
        except RuntimeError as exc:
            missing[OFFICIAL] = str(exc)
        else:
            closers.append(official.close)
            runs[OFFICIAL] = blocking(
                lambda: official_once(official, heartbeat, case.conversation_id, message)
            )
        try:
            httpx_client = _httpx_client()
        except RuntimeError as exc:
            missing[HTTPX_SSE] = str(exc)
        else:
            closers.append(lambda: loop.run_until_complete(httpx_client.aclose()))
            runs[HTTPX_SSE] = on_loop(lambda: httpx_sse_once(httpx_client, url, message))
        for name, once in runs.items():
            count = once()
            if count != expected:
                raise AssertionError(f"{case.label}: {name} yielded {count}, expected {expected}")
        subjects = {name: _metered(case, name, once, expected) for name, once in runs.items()}
        timings = time_round_robin(subjects, repeats)
    finally:
        for close in reversed(closers):
            close()
    rates = {name: expected / timing.best for name, timing in timings.items()}
    return rates, timings, missing


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


def _rows(
    case: _Case,
    rates: dict[str, float],
    timings: dict[str, Any],
    missing: dict[str, str],
    n_bytes: int,
    expected: int,
) -> list[Row]:
    rows: list[Row] = []
    for name in SUBJECTS:
        if name in missing:
            rows.append(Row(NAME, case.label, name, skipped=missing[name]))
            continue
        timing, usage = timings[name], case.usage[name]
        metrics = {
            "events": float(expected),
            "events_per_s": rates[name],
            "mb_per_s": n_bytes / timing.best / 1e6,
            "x_ours": rates[name] / rates[OURS],
            "client_cpu_pct": usage.client / usage.wall * 100,
            "spread_pct": (timing.median / timing.best - 1) * 100,
            "best_s": timing.best,
            "median_s": timing.median,
        }
        if OFFICIAL in rates:
            metrics["x_official"] = rates[name] / rates[OFFICIAL]
        if usage.server is not None:
            metrics["server_cpu_pct"] = usage.server / usage.wall * 100
        rows.append(Row(NAME, case.label, name, metrics))
    return rows


def _note(case: _Case, rows: list[Row]) -> str:
    by_name = {row.subject: row for row in rows if row.skipped is None}
    ours = by_name[OURS].metrics
    parts = []
    if OFFICIAL in by_name:
        batches = by_name[OURS_BATCHES].metrics["x_official"]
        sync_x = by_name[OURS_SYNC].metrics["x_official"]
        parts.append(
            f"ours/official {ours['x_official']:.1f}x (target >= 6.5x), "
            f"batches()/official {batches:.1f}x (target >= 10x), "
            f"sync/official {sync_x:.1f}x (target >= 4x), read loop per event "
            f"{by_name[READ_EVENTS].metrics['x_official']:.1f}x, a read at a time "
            f"{by_name[READ_BATCHES].metrics['x_official']:.1f}x"
        )
    server_cpu = ours.get("server_cpu_pct")
    if case.server_cpu is None:
        parts.append("server and client share one event loop and one core")
    elif server_cpu is None or case.usage[OURS].wall < MIN_CPU_WALL:
        parts.append("runs too short (or no /proc) to read the server's CPU share")
    else:
        bound = "server-bound" if server_cpu >= 90 else "client-bound"
        parts.append(
            f"while ours ran the server used {server_cpu:.0f}% of a core and this process "
            f"{ours['client_cpu_pct']:.0f}% ({bound})"
        )
    return f"{case.label}: " + "; ".join(parts)


def _run_case(
    loop: asyncio.AbstractEventLoop,
    case: _Case,
    n_chunks: int,
    n_bytes: int,
    repeats: int,
) -> tuple[list[Row], str]:
    rates, timings, missing = _measure(loop, case, n_chunks, repeats)
    rows = _rows(case, rates, timings, missing, n_bytes, n_chunks + 2)
    return rows, _note(case, rows)


async def _conversation(base_url: str) -> str:
    async with LlmrixClient(base_url) as client:
        return (await client.conversations.create("e2e benchmark")).id


def _process_case(
    loop: asyncio.AbstractEventLoop, label: str, server: ServerProcess, create: bool
) -> _Case:
    case = _Case(label, server.base_url, server.cpu_seconds)
    if create:
        case.conversation_id = loop.run_until_complete(_conversation(server.base_url))
    return case


def _snapshot_cost(n_chunks: int, repeats: int) -> tuple[list[Row], str]:
    """CPU time per event of decoding alone and with a snapshot kept; see the module doc."""
    reads = long_stream_frames(n_chunks)
    events = n_chunks + 2

    def decoding(keep_text: bool | None) -> Callable[[], None]:
        """Decode every read as the stream's wire object does; ``None``: no snapshot."""

        def subject() -> None:
            updater = None if keep_text is None else SnapshotUpdater(keep_text=keep_text)
            decoder = ChunkDecoder()
            for read in reads:
                batch: list[StreamEvent] = []
                decoder.feed(read, batch)
                if updater is not None:
                    updater.apply(batch)
            if updater is not None and updater.snapshot.status != "finished":
                raise AssertionError("the snapshot did not see the run end")

        return subject

    subjects = {
        DECODE_ONLY: decoding(None),
        WITH_SNAPSHOT: decoding(True),
        WITH_SNAPSHOT_NO_TEXT: decoding(False),
    }
    cpu: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(max(repeats, 3)):
        for name, subject in subjects.items():
            before = time.process_time()
            subject()
            cpu[name].append(time.process_time() - before)
    medians = {name: statistics.median(times) for name, times in cpu.items()}
    rows = [
        Row(
            NAME,
            SNAPSHOT_CASE,
            name,
            {
                "events": float(events),
                "events_per_s": events / medians[name],
                "ns_per_event": medians[name] / events * 1e9,
                "overhead_pct": (medians[name] / medians[DECODE_ONLY] - 1) * 100,
            },
        )
        for name in subjects
    ]
    extra = (medians[WITH_SNAPSHOT] - medians[DECODE_ONLY]) / events * 1e9
    note = (
        f"{SNAPSHOT_CASE}: the snapshot adds {extra:.0f} ns of CPU per event, "
        f"{(medians[WITH_SNAPSHOT] / medians[DECODE_ONLY] - 1) * 100:+.1f}% of decoding "
        f"(target <= 10%); medians of {max(repeats, 3)} interleaved rounds"
    )
    return rows, note


def run(config: Config) -> SuiteResult:
    """Measure every subject in every case; see the module docstring."""
    n_chunks = config.pick(200_000, 3_000)
    repeats = config.repeats or config.pick(5, 1)
    n_bytes = sum(len(batch) for batch in long_stream_frames(n_chunks))
    rows: list[Row] = []
    notes: list[str] = []
    loop = asyncio.new_event_loop()
    try:
        with dev_server_process() as server:
            case = _process_case(loop, DEV_PROCESS, server, create=True)
            case_rows, note = _run_case(loop, case, n_chunks, n_bytes, repeats)
            rows += case_rows
            notes.append(note)
        with replay_server_process(n_chunks) as server:
            case = _process_case(loop, REPLAY_PROCESS, server, create=False)
            case_rows, note = _run_case(loop, case, n_chunks, n_bytes, repeats)
            rows += case_rows
            notes.append(note)
        dev = DevServer()
        loop.run_until_complete(dev.start())
        try:
            case = _Case(IN_PROCESS, dev.base_url, None)
            case.conversation_id = dev.seed_conversation("e2e benchmark").id
            case_rows, note = _run_case(loop, case, n_chunks, n_bytes, repeats)
            rows += case_rows
            notes.append(note)
        finally:
            loop.run_until_complete(dev.stop())
        snapshot_rows, note = _snapshot_cost(n_chunks, repeats)
        rows += snapshot_rows
        notes.append(note)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    notes.append(
        f"{n_chunks:,} message chunks + run_start + run_end per run, {n_bytes:,} B; "
        f"best of {repeats} interleaved runs after one warm-up"
    )
    return SuiteResult(
        NAME,
        COLUMNS,
        rows,
        notes,
        {"n_chunks": n_chunks, "events": n_chunks + 2, "bytes": n_bytes, "repeats": repeats},
    )
