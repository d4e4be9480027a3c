"""Many concurrent streams on one client: all complete, none fails, nothing is left behind.

One ``LlmrixClient(max_connections=streams)`` opens ``streams`` chat streams at once
(one conversation each, created beforehand) against a dev server in its own process,
each ``/long M``, and consumes them all with ``asyncio.gather``. A stream counts as
an error if it raises or does not yield ``run_start``, M chunks and ``run_end``.
Afterwards the client's connector must hold no acquired connection and no task but
the suite's own may be left on the loop, both checked before the client is closed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from benchmarks._harness import OURS, Column, Config, Row, SuiteResult
from benchmarks._servers import ServerProcess, dev_server_process
from llmrix import LlmrixClient

__all__ = ["OURS", "run"]

NAME = "concurrency"
STREAM_TIMEOUT = 60.0

COLUMNS = [
    Column("streams", "streams", ",.0f"),
    Column("events", "events", ",.0f"),
    Column("events_per_s", "events/s", ",.0f"),
    Column("wall_s", "wall s", ".2f"),
    Column("errors", "errors", ".0f"),
    Column("acquired", "acquired", ".0f"),
    Column("tasks_left", "tasks left", ".0f"),
    Column("client_cpu_pct", "client CPU %", ".0f"),
    Column("server_cpu_pct", "server CPU %", ".0f"),
]


async def _one(client: LlmrixClient, conversation_id: str, message: str) -> tuple[int, str, float]:
    """Consume one stream: its event count, its last event's type, its duration."""
    started = time.perf_counter()
    count = 0
    last = ""
    async with client.chat(conversation_id).stream(message) as stream:
        async for event in stream:
            count += 1
            last = event.type
    return count, last, time.perf_counter() - started


async def _measure(server: ServerProcess, streams: int, chunks: int) -> dict[str, Any]:
    async with LlmrixClient(
        server.base_url, max_connections=streams, stream_idle_timeout=STREAM_TIMEOUT
    ) as client:
        conversations = await asyncio.gather(
            *(client.conversations.create(f"concurrency {index}") for index in range(streams))
        )
        message = f"/long {chunks}"
        cpu_before = server.cpu_seconds()
        client_before = time.process_time()
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(_one(client, conversation.id, message) for conversation in conversations),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        cpu_after = server.cpu_seconds()
        await asyncio.sleep(0)
        session = client.session
        connector = session.connector if session is not None else None
        acquired = len(getattr(connector, "_acquired", ()))
        tasks_left = len(asyncio.all_tasks() - {asyncio.current_task()})
    await asyncio.sleep(0)
    tasks_after_close = len(asyncio.all_tasks() - {asyncio.current_task()})
    done = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    good = [outcome for outcome in done if outcome[:2] == (chunks + 2, "run_end")]
    failures = [repr(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
    return {
        "events": sum(count for count, _, _ in done),
        "errors": streams - len(good),
        "failures": failures[:3],
        "wall": wall,
        "acquired": acquired,
        "tasks_left": tasks_left,
        "tasks_after_close": tasks_after_close,
        "client_cpu": client_cpu,
        "durations": [duration for _, _, duration in done],
        "server_cpu": None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    }


def run(config: Config) -> SuiteResult:
    """Run ``streams`` concurrent streams on one client and check what is left afterwards."""
    streams = config.pick(1_000, 50)
    chunks = config.pick(1_000, 100)
    with dev_server_process() as server:
        result = asyncio.run(_measure(server, streams, chunks))
    case = f"{streams:,} streams x /long {chunks:,}"
    durations = result["durations"] or [0.0]
    metrics = {
        "streams": float(streams),
        "events": float(result["events"]),
        "events_per_s": result["events"] / result["wall"],
        "wall_s": result["wall"],
        "errors": float(result["errors"]),
        "acquired": float(result["acquired"]),
        "tasks_left": float(result["tasks_left"]),
        "tasks_after_close": float(result["tasks_after_close"]),
        "client_cpu_pct": result["client_cpu"] / result["wall"] * 100,
        "stream_median_s": statistics.median(durations),
        "stream_max_s": max(durations),
    }
    notes = [
        f"{case}: {result['errors']} errors, {result['acquired']} connections acquired and "
        f"{result['tasks_left']} tasks left afterwards (targets: 0, 0, 0); stream duration "
        f"median {metrics['stream_median_s']:.2f} s, max {metrics['stream_max_s']:.2f} s"
    ]
    if result["server_cpu"] is not None:
        server_pct = result["server_cpu"] / result["wall"] * 100
        metrics["server_cpu_pct"] = server_pct
        notes.append(f"the server process used {server_pct:.0f}% of a core meanwhile")
    if result["failures"]:
        notes.append("first failures: " + "; ".join(result["failures"]))
    return SuiteResult(
        NAME,
        COLUMNS,
        [Row(NAME, case, f"{OURS}, max_connections={streams}", metrics)],
        notes,
        {"streams": streams, "chunks": chunks},
    )
