"""Many live streams on one client: CPU per event, memory per stream and delay as streams grow.

N concurrent **paced** streams (N = 1, 100, 1,000) at the same total rate (2,000
events/s in all, so each stream gets one frame every N/2,000 s: what changes with
N is the number of open streams, not the load), from the paced server
(`benchmarks._paced`, a bare asyncio protocol in its own process, one write per
frame). Subjects, each row a fresh client process (`benchmarks._concurrency_client`):

- ``llmrix, asyncio``: ``async for event in stream`` for every stream, gathered on
  one ``LlmrixClient`` on asyncio's default loop;
- ``llmrix, uvloop``: the same on uvloop;
- ``official 1.0.0, thread per stream``: the official SDK's blocking ``stream()``,
  one thread per stream, one shared client.

Per row: client CPU per event (process CPU time while the events counted over all
streams go from 10% to 90% of the total: connecting and closing left out), minor
page faults per event in the same window, peak
memory per open stream (the kernel's high-water mark over the resident size
before the streams opened, divided by N), the delay from the server's write to the
loop body (p50, p99, of the chunks in the same window), streams that failed or
came incomplete, and what was left: file descriptors after the client closed,
tasks and acquired connections (ours), live threads (official). Every
(N, subject) row runs once per round, the order of subjects rotating; figures are
medians over rounds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks._harness import OFFICIAL, OURS, Column, Config, Row, SuiteResult
from benchmarks._servers import paced_server_process
from benchmarks.corpus import official_sdk_path

__all__ = ["ASYNCIO", "OFFICIAL_THREADS", "UVLOOP", "run"]

NAME = "concurrency"
RATE = 2_000.0
"""Events per second, all streams together."""
ASYNCIO = f"{OURS}, asyncio"
UVLOOP = f"{OURS}, uvloop"
OFFICIAL_THREADS = f"{OFFICIAL}, thread per stream"
SUBJECTS = {ASYNCIO: "asyncio", UVLOOP: "uvloop", OFFICIAL_THREADS: "official"}
CLIENT_TIMEOUT = 600.0

COLUMNS = [
    Column("streams", "streams", ",.0f"),
    Column("events", "events", ",.0f"),
    Column("cpu_us_per_event", "CPU us/event", ".1f"),
    Column("x_one_stream", "x 1 stream", ".2f"),
    Column("x_less_than_asyncio", "asyncio/this", ".2f"),
    Column("faults_per_event", "faults/event", ".2f"),
    Column("kb_per_stream", "KB/stream", ".1f"),
    Column("delay_p50_us", "delay p50 us", ",.0f"),
    Column("delay_p99_us", "delay p99 us", ",.0f"),
    Column("errors", "errors", ".0f"),
    Column("left", "left open", ".0f"),
    Column("client_cpu_pct", "client CPU %", ".0f"),
    Column("server_cpu_pct", "server CPU %", ".0f"),
]


def _row_once(subject: str, streams: int, frames: int) -> dict[str, Any]:
    """One client process against one paced server; its JSON, plus the server's CPU."""
    with paced_server_process(streams, frames, RATE) as server:
        server_before = server.cpu_seconds()
        command = [
            sys.executable,
            "-m",
            "benchmarks._concurrency_client",
            subject,
            server.base_url,
            str(streams),
            str(frames),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return {"crashed": f"no result within {CLIENT_TIMEOUT:.0f} s"}
        server_after = server.cpu_seconds()
    if done.returncode != 0 or not done.stdout.strip():
        return {"crashed": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if server_before is not None and server_after is not None:
        result["server_cpu_s"] = server_after - server_before
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(run[key]) for run in runs)


def _metrics(runs: list[dict[str, Any]], streams: int) -> dict[str, float]:
    """A row's figures: medians over rounds, except errors and leftovers (the worst)."""
    per_event = [
        run["window_cpu_s"] / run["window_events"] * 1e6 if run["window_events"] else float("nan")
        for run in runs
    ]
    left = [
        run["fds_left"]
        + run.get("tasks_left", 0)
        + run.get("acquired", 0)
        + run.get("threads_left", 0)
        for run in runs
    ]
    metrics = {
        "streams": float(streams),
        "events": _median(runs, "events"),
        "cpu_us_per_event": statistics.median(per_event),
        "faults_per_event": statistics.median(
            run["window_page_faults"] / run["window_events"] if run["window_events"] else 0.0
            for run in runs
        ),
        "kb_per_stream": statistics.median(
            (run["hwm_kib"] - run["rss_before_kib"]) * 1.024 / streams for run in runs
        ),
        "delay_p50_us": _median(runs, "delay_p50_us"),
        "delay_p99_us": _median(runs, "delay_p99_us"),
        "delay_max_us": max(float(run["delay_max_us"]) for run in runs),
        "errors": float(max(run["errors"] for run in runs)),
        "left": float(max(left)),
        "client_cpu_pct": statistics.median(
            run["window_cpu_s"] / run["window_wall_s"] * 100 if run["window_wall_s"] else 0.0
            for run in runs
        ),
        "cpu_us_per_event_lo": min(per_event),
        "cpu_us_per_event_hi": max(per_event),
    }
    server = [
        run["server_cpu_s"] / run["total_wall_s"] * 100 for run in runs if "server_cpu_s" in run
    ]
    if server:
        metrics["server_cpu_pct"] = statistics.median(server)
    return metrics


def _compare(rows: list[Row], counts: Sequence[int]) -> None:
    """Fill in each row's ratio to its subject's one-stream row and to asyncio's row."""
    by_key = {(row.subject, int(row.metrics["streams"])): row for row in rows if not row.skipped}
    for row in rows:
        if row.skipped:
            continue
        streams = int(row.metrics["streams"])
        cpu = row.metrics["cpu_us_per_event"]
        one = by_key.get((row.subject, counts[0]))
        if one is not None:
            row.metrics["x_one_stream"] = cpu / one.metrics["cpu_us_per_event"]
        mine = by_key.get((ASYNCIO, streams))
        if mine is not None:
            row.metrics["x_less_than_asyncio"] = mine.metrics["cpu_us_per_event"] / cpu


def _notes(
    rows: list[Row], counts: Sequence[int], frames: dict[int, int], rounds: int
) -> list[str]:
    most = counts[-1]
    by_key = {(row.subject, int(row.metrics["streams"])): row for row in rows if not row.skipped}
    notes = [
        f"N streams at {RATE:,.0f} events/s in all (one frame per stream every N/{RATE:,.0f} s, "
        f"one write per frame), {', '.join(f'{n:,} x {frames[n]:,}' for n in counts)} events; "
        f"CPU between 10% and 90% of the events; median of {rounds} interleaved round(s), "
        "errors and leftovers the worst"
    ]
    for subject in (ASYNCIO, UVLOOP):
        top, one = by_key.get((subject, most)), by_key.get((subject, counts[0]))
        if top is None or one is None:
            continue
        m = top.metrics
        notes.append(
            f"{subject} at {most:,} streams: {m['errors']:.0f} errors, {m['left']:.0f} left open "
            f"(targets 0, 0); CPU/event {m['cpu_us_per_event']:.1f} us, x{m['x_one_stream']:.2f} "
            f"of 1 stream's {one.metrics['cpu_us_per_event']:.1f} (target <= 1.15); "
            f"{m['kb_per_stream']:.1f} KB per open stream (target <= 40); delay p99 "
            f"{m['delay_p99_us'] / 1e3:.2f} ms (target < 5)"
        )
    ratios = [
        f"{n:,}: {by_key[(UVLOOP, n)].metrics['x_less_than_asyncio']:.2f}x"
        for n in counts
        if (UVLOOP, n) in by_key and "x_less_than_asyncio" in by_key[(UVLOOP, n)].metrics
    ]
    if ratios:
        notes.append(
            f"uvloop's CPU per event, asyncio's over it (target >= 1.3x): {', '.join(ratios)}"
        )
    official = [row for row in rows if row.subject == OFFICIAL_THREADS and not row.skipped]
    if official:
        clean = [int(row.metrics["streams"]) for row in official if row.metrics["errors"] == 0]
        reached = f"{max(clean):,}" if clean else "none"
        notes.append(f"{OFFICIAL_THREADS}: largest N with every stream complete: {reached}")
    return notes


def run(config: Config) -> SuiteResult:
    """Every subject at every N, once per round; see the module docstring."""
    counts = config.pick((1, 100, 1_000), (1, 10, 50))
    total = config.pick(12_000, 400)
    rounds = config.repeats or config.pick(5, 1)
    frames = {n: max(3, total // n) for n in counts}
    subjects = list(SUBJECTS)
    missing: dict[str, str] = {}
    if official_sdk_path() is None:
        missing[OFFICIAL_THREADS] = "official SDK not installed in .official-sdk"
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    crashes: dict[tuple[str, int], str] = {}
    for index in range(rounds):
        order = subjects[index % len(subjects) :] + subjects[: index % len(subjects)]
        for streams in counts:
            for subject in order:
                if subject in missing:
                    continue
                result = _row_once(SUBJECTS[subject], streams, frames[streams])
                if "crashed" in result:
                    crashes[(subject, streams)] = result["crashed"]
                else:
                    runs.setdefault((subject, streams), []).append(result)
    rows: list[Row] = []
    failure_notes: list[str] = []
    for streams in counts:
        case = f"{streams:,} streams"
        for subject in subjects:
            if subject in missing:
                rows.append(Row(NAME, case, subject, skipped=missing[subject]))
            elif (subject, streams) not in runs:
                reason = crashes.get((subject, streams), "no run")
                rows.append(Row(NAME, case, subject, skipped=f"failed: {reason}"))
            else:
                done = runs[(subject, streams)]
                rows.append(Row(NAME, case, subject, _metrics(done, streams)))
                failures = [f for run in done for f in run["failures"]][:2]
                if failures:
                    failure_notes.append(
                        f"{subject} at {streams:,} streams, first failures: {'; '.join(failures)}"
                    )
    _compare(rows, counts)
    return SuiteResult(
        NAME,
        COLUMNS,
        rows,
        _notes(rows, counts, frames, rounds) + failure_notes,
        {"counts": list(counts), "frames": frames, "rate": RATE, "rounds": rounds},
    )
