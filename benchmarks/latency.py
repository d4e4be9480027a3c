"""Delivery latency: an event the server has sent reaches the caller while the next is held back.

A small aiohttp app on 127.0.0.1, on the same event loop as the client, answers a chat
request with ``run_start``, then N ``message_chunk`` events one write at a time: it
notes ``time.perf_counter_ns()`` just before each write and sends nothing more until
the consumer acknowledges that event. The consumer notes the clock when the event is
in its hands; the gap is the delivery latency. A client that held a finished event
back (waiting for more bytes) would stall here, so each wait is bounded and a stall
counts as an error.

Subjects: ``llmrix`` (``async for`` over ``chat.stream()``), ``httpx + httpx-sse``
(``aiter_sse`` and ``json.loads``), and ``official 1.0.0`` (its sync ``stream()`` in a
worker thread, acknowledging through ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from benchmarks._harness import OFFICIAL, OURS, Column, Config, Row, SuiteResult

__all__ = ["HTTPX_SSE", "OFFICIAL", "OURS", "Pacer", "run"]

NAME = "latency"
HTTPX_SSE = "httpx + httpx-sse"
ACK_TIMEOUT = 5.0
"""Seconds the server waits for an acknowledgement before it gives up (a stall)."""

COLUMNS = [
    Column("events", "events", ",.0f"),
    Column("median_us", "median us", ".1f"),
    Column("p99_us", "p99 us", ".1f"),
    Column("max_us", "max us", ".1f"),
    Column("errors", "errors", ".0f"),
]

_START = (
    b'event: lifecycle\ndata: {"channel":"lifecycle","type":"run_start",'
    b'"run_id":"run_latency","thread_id":"latency"}\n\n'
)
_END = (
    b'event: lifecycle\ndata: {"channel":"lifecycle","type":"run_end",'
    b'"run_id":"run_latency","thread_id":"latency"}\n\n'
)


def _chunk(index: int) -> bytes:
    return (
        b'event: messages\ndata: {"channel":"messages","type":"message_chunk",'
        b'"content":"%d","id":"msg_latency"}\n\n' % index
    )


class Pacer:
    """The server side: one event per write, the next only after an acknowledgement."""

    def __init__(self, n_events: int) -> None:
        self.n_events = n_events
        self.sent_ns = [0] * n_events
        self.received_ns = [0] * n_events
        self.stalls = 0
        self._ack = asyncio.Event()

    def receive(self, index: int) -> None:
        """Record that event ``index`` is in the consumer's hands (call on the loop)."""
        self.received_ns[index] = time.perf_counter_ns()
        self._ack.set()

    def acknowledge(self) -> None:
        """Let the server send the next event (call on the loop)."""
        self._ack.set()

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """The chat route: paced ``message_chunk`` events between start and end."""
        await request.read()
        self.sent_ns = [0] * self.n_events
        self.received_ns = [0] * self.n_events
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_START)
        for index in range(self.n_events):
            data = _chunk(index)
            self._ack.clear()
            self.sent_ns[index] = time.perf_counter_ns()
            await response.write(data)
            try:
                await asyncio.wait_for(self._ack.wait(), ACK_TIMEOUT)
            except asyncio.TimeoutError:
                self.stalls += 1
                break
        await response.write(_END)
        await response.write_eof()
        return response

    def gaps_us(self) -> list[float]:
        """Write-to-receipt gaps of the events that arrived, in microseconds."""
        return [
            (received - sent) / 1000
            for sent, received in zip(self.sent_ns, self.received_ns, strict=True)
            if received and sent
        ]


async def ours(base_url: str, pacer: Pacer) -> None:
    """Consume with our ``chat.stream()``; acknowledge every chunk as it is yielded."""
    from llmrix import LlmrixClient, MessageChunkEvent

    async with (
        LlmrixClient(base_url, stream_idle_timeout=ACK_TIMEOUT * 2) as client,
        client.chat("latency").stream("paced") as stream,
    ):
        async for event in stream:
            if isinstance(event, MessageChunkEvent):
                pacer.receive(int(event.content))


async def httpx_sse(base_url: str, pacer: Pacer) -> None:
    """Consume with httpx-sse; acknowledge every chunk once ``json.loads`` has parsed it."""
    import httpx
    from httpx_sse import aconnect_sse

    url = f"{base_url}/api/open/v1/conversations/latency/chat"
    async with (
        httpx.AsyncClient(timeout=ACK_TIMEOUT * 2) as client,
        aconnect_sse(client, "POST", url, json={"message": "paced"}) as source,
    ):
        async for sse in source.aiter_sse():
            event = json.loads(sse.data)
            if event.get("type") == "message_chunk":
                pacer.receive(int(event["content"]))


async def official(base_url: str, pacer: Pacer) -> None:
    """Consume with the official SDK in a worker thread; acknowledge through the loop."""
    from benchmarks.official import load_official_parser

    load_official_parser()
    import llmrix_official
    from llmrix_official.streaming import MessageChunkEvent

    loop = asyncio.get_running_loop()

    def consume() -> None:
        with llmrix_official.LlmrixClient(base_url) as client:
            for event in client.chat("latency").stream("paced"):
                if isinstance(event, MessageChunkEvent):
                    received = time.perf_counter_ns()
                    loop.call_soon_threadsafe(_received_at, pacer, int(event.content), received)

    await asyncio.to_thread(consume)


def _received_at(pacer: Pacer, index: int, received_ns: int) -> None:
    pacer.received_ns[index] = received_ns
    pacer.acknowledge()


def _available(name: str) -> str | None:
    """Why subject ``name`` cannot run here, or None."""
    if name == HTTPX_SSE:
        try:
            import httpx  # noqa: F401
            import httpx_sse  # noqa: F401
        except ImportError as exc:
            return f"httpx/httpx-sse not installed ({exc}); pip install -e '.[bench]'"
    if name == OFFICIAL:
        from benchmarks.official import OfficialSDKMissing, load_official_parser

        try:
            load_official_parser()
        except OfficialSDKMissing as exc:
            return str(exc)
    return None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _measure(
    n_events: int,
    subjects: dict[str, Callable[[str, Pacer], Awaitable[None]]],
    failures: dict[str, str],
) -> dict[str, Pacer]:
    """Serve one paced route per subject and run the subjects one after another."""
    pacers = {name: Pacer(n_events) for name in subjects}
    app = web.Application()
    for index, pacer in enumerate(pacers.values()):
        app.router.add_post(f"/s{index}/api/open/v1/conversations/{{id}}/chat", pacer.chat)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        for index, (name, consume) in enumerate(subjects.items()):
            try:
                await asyncio.wait_for(
                    consume(f"http://{host}:{port}/s{index}", pacers[name]),
                    ACK_TIMEOUT * 4 + n_events * 0.05,
                )
            except Exception as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
    finally:
        await runner.cleanup()
    return pacers


def run(config: Config) -> SuiteResult:
    """Measure each subject's write-to-receipt gap over paced events."""
    n_events = config.pick(1_000, 100)
    factories: dict[str, Callable[[str, Pacer], Awaitable[None]]] = {
        OURS: ours,
        HTTPX_SSE: httpx_sse,
        OFFICIAL: official,
    }
    missing = {name: reason for name in factories if (reason := _available(name)) is not None}
    subjects = {name: fn for name, fn in factories.items() if name not in missing}
    failures: dict[str, str] = {}
    pacers = asyncio.run(_measure(n_events, subjects, failures))
    rows: list[Row] = []
    notes: list[str] = []
    for name in factories:
        if name in missing:
            rows.append(Row(NAME, "paced, one event per write", name, skipped=missing[name]))
            continue
        gaps = pacers[name].gaps_us()
        errors = n_events - len(gaps)
        metrics: dict[str, Any] = {
            "events": float(len(gaps)),
            "errors": float(errors),
            "stalls": float(pacers[name].stalls),
        }
        if gaps:
            metrics |= {
                "median_us": statistics.median(gaps),
                "p99_us": _percentile(gaps, 0.99),
                "max_us": max(gaps),
                "mean_us": statistics.fmean(gaps),
            }
        rows.append(Row(NAME, "paced, one event per write", name, metrics))
        if name in failures:
            notes.append(f"{name} failed: {failures[name]}")
        if name == OURS:
            verdict = "every event delivered" if not errors else f"{errors} events not delivered"
            notes.append(f"{OURS}: {verdict} while the server held the next one back")
    notes.append(
        f"{n_events:,} events per subject; gap = perf_counter_ns at receipt minus just before "
        "the server's write, server and client on one event loop (official: worker thread)"
    )
    return SuiteResult(NAME, COLUMNS, rows, notes, {"n_events": n_events})
