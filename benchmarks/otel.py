"""What the built-in OpenTelemetry costs a client: ``async for`` over a dev server run.

Subjects, each a client reading the same runs from ``llmrix serve`` in its own process:

- ``no OpenTelemetry``: the client holds no telemetry (``otel=False``: the code path of
  an install without the API, which is the same ``None``).
- ``API, no SDK``: the API installed and no provider configured (the global no-op one):
  what every user of ``llmrix[otel]`` who has not set up an SDK pays.
- ``SDK, no-op exporter``: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` over
  an exporter that drops everything, and an SDK ``MeterProvider`` with a reader: spans,
  events and metrics are all built.

Cases: ``long run`` (``/long N``: one turn of many events, the per-event cost),
``short turns`` (turns of a tool call, a sub-agent and a few words: the per-turn cost)
and ``turn overhead (no I/O)``: what telemetry adds to one turn by itself (the span
opened around a stub connect, the trace context put into the request's headers, the
run's events seen and the span ended), CPU time per turn, without a server's noise.
Timing is this process's CPU time (the machine is shared; wall time would measure the
neighbours), in interleaved rounds with the order rotating; ``vs none`` is the median of
the per-round ratios to ``no OpenTelemetry``, with the lowest and highest beside it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._harness import Column, Config, Row, SuiteResult
from benchmarks._servers import dev_server_process
from llmrix import LlmrixClient
from llmrix.events import (
    MessageChunkEvent,
    RunEndEvent,
    RunStartEvent,
    ToolEndEvent,
    ToolStartEvent,
)
from llmrix.models import ChatRequest

NAME = "otel"
NONE = "no OpenTelemetry"
API_ONLY = "API, no SDK"
SDK = "SDK, no-op exporter"
SUBJECTS = (NONE, API_ONLY, SDK)
LONG = "long run"
SHORT = "short turns"
OVERHEAD = "turn overhead (no I/O)"

COLUMNS = [
    Column("events", "events", ",.0f"),
    Column("cpu_ms", "CPU ms", ",.1f"),
    Column("x_none", "vs none", ".3f"),
    Column("x_none_lo", "lo", ".3f"),
    Column("x_none_hi", "hi", ".3f"),
    Column("us_per_turn", "CPU us/turn", ",.0f"),
]


def _sdk_providers() -> dict[str, Any]:
    """SDK providers whose output goes nowhere; ``RuntimeError`` without the SDK."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError as exc:
        raise RuntimeError(f"opentelemetry-sdk not installed ({exc})") from None

    class Dropped(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Dropped()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}


async def _turns(client: LlmrixClient, conversation_id: str, message: str, turns: int) -> int:
    count = 0
    chat = client.chat(conversation_id)
    for _ in range(turns):
        async with chat.stream(message) as stream:
            async for _ in stream:
                count += 1
    return count


def _measure(
    loop: asyncio.AbstractEventLoop,
    clients: dict[str, LlmrixClient],
    conversation_id: str,
    message: str,
    turns: int,
    rounds: int,
) -> tuple[dict[str, list[float]], int]:
    """CPU seconds of each subject in each round (order rotating), and the events per run."""
    runs: dict[str, Callable[[], int]] = {
        name: (
            lambda client=client: loop.run_until_complete(
                _turns(client, conversation_id, message, turns)
            )
        )
        for name, client in clients.items()
    }
    counts = {name: run() for name, run in runs.items()}
    if len(set(counts.values())) != 1:
        raise AssertionError(f"subjects read different event counts: {counts}")
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            before = time.process_time()
            runs[name]()
            cpu[name].append(time.process_time() - before)
    return cpu, counts[NONE]


def _rows(case: str, cpu: dict[str, list[float]], events: int, turns: int) -> list[Row]:
    rows = []
    for name, times in cpu.items():
        ratios = sorted(t / b for t, b in zip(times, cpu[NONE], strict=True))
        median = statistics.median(times)
        metrics = {
            "events": float(events),
            "cpu_ms": median * 1e3,
            "x_none": statistics.median(ratios),
            "x_none_lo": ratios[0],
            "x_none_hi": ratios[-1],
            "us_per_turn": median / turns * 1e6,
        }
        rows.append(Row(NAME, case, name, metrics))
    return rows


def _overhead(clients: dict[str, LlmrixClient], turns: int, rounds: int) -> list[Row]:
    """CPU time per turn of the telemetry alone: see the module docstring."""
    events = [
        RunStartEvent(run_id="r"),
        ToolStartEvent(id="t", name="tool"),
        ToolEndEvent(id="t", name="tool"),
        *(MessageChunkEvent(content="word ") for _ in range(8)),
        RunEndEvent(run_id="r"),
    ]
    request = ChatRequest(message="hi")
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}

    class Source:
        saw_terminal = True

        async def next_batch(self) -> list[Any]:
            return events

        def close(self) -> None:
            pass

    async def connect(_: ChatRequest) -> Any:
        return Source()

    async def nothing(*_: object) -> None:
        pass

    async def many(client: LlmrixClient) -> None:
        telemetry = client._transport.telemetry
        for _ in range(turns):
            if telemetry is None:
                source = await connect(request)
            else:
                turn = telemetry.turn("c", connect=connect, stop=nothing, decide=nothing)
                source = await turn.connect(request)
                telemetry.inject(headers)
            await source.next_batch()
            source.close()

    loop = asyncio.new_event_loop()
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    try:
        names = list(clients)
        for index in range(rounds):
            for name in names[index % len(names) :] + names[: index % len(names)]:
                before = time.process_time()
                loop.run_until_complete(many(clients[name]))
                cpu[name].append(time.process_time() - before)
    finally:
        loop.close()
    return _rows(OVERHEAD, cpu, len(events), turns)


async def _conversation(client: LlmrixClient) -> str:
    return (await client.conversations.create("otel benchmark")).id


def run(config: Config) -> SuiteResult:
    """Measure the three subjects in both cases; see the module docstring."""
    n_chunks = config.pick(200_000, 200)
    short_turns = config.pick(400, 5)
    rounds = config.repeats or config.pick(21, 1)
    loop = asyncio.new_event_loop()
    rows: list[Row] = []
    notes: list[str] = []
    try:
        with dev_server_process() as server:
            try:
                sdk = _sdk_providers()
            except RuntimeError as exc:
                sdk = None
                notes.append(f"{SDK} skipped: {exc}")
            clients = {
                NONE: LlmrixClient(server.base_url, otel=False),
                API_ONLY: LlmrixClient(server.base_url),
            }
            if sdk is not None:
                clients[SDK] = LlmrixClient(server.base_url, **sdk)
            try:
                conversation_id = loop.run_until_complete(_conversation(clients[NONE]))
                for case, message, turns in (
                    (LONG, f"/long {n_chunks}", 1),
                    (SHORT, "hi /tool /subagent", short_turns),
                ):
                    cpu, events = _measure(loop, clients, conversation_id, message, turns, rounds)
                    rows += _rows(case, cpu, events, turns)
                rows += _overhead(clients, config.pick(5_000, 20), rounds)
            finally:
                for client in clients.values():
                    loop.run_until_complete(client.close())
                if sdk is not None:
                    sdk["tracer_provider"].shutdown()
                    sdk["meter_provider"].shutdown()
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    for case in (LONG, SHORT):
        api = next(r for r in rows if r.case == case and r.subject == API_ONLY).metrics
        notes.append(
            f"{case}: API without SDK {(api['x_none'] - 1) * 100:+.1f}% CPU vs none "
            f"(target within 3%)"
        )
    per_turn = {r.subject: r.metrics["us_per_turn"] for r in rows if r.case == OVERHEAD}
    short = next(r for r in rows if r.case == SHORT and r.subject == NONE).metrics["us_per_turn"]
    for subject in (API_ONLY, SDK):
        if subject in per_turn:
            added = per_turn[subject] - per_turn[NONE]
            notes.append(
                f"{OVERHEAD}: {subject} adds {added:.1f} us of CPU per turn, "
                f"{added / short * 100:.2f}% of a short turn's {short:,.0f} us"
            )
    notes.append(
        f"long run: /long {n_chunks:,} once per round; short turns: {short_turns} turns of "
        f"'hi /tool /subagent' per round; medians of {rounds} interleaved rounds, CPU time"
    )
    return SuiteResult(
        NAME,
        COLUMNS,
        rows,
        notes,
        {"n_chunks": n_chunks, "short_turns": short_turns, "rounds": rounds},
    )
