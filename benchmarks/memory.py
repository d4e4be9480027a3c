"""Client memory while consuming one very long stream: peak RSS over the idle baseline.

The dev server runs in its own process (``llmrix serve``) and streams ``/long N`` with N
chosen for about 1 GB (quick: 20 MB). The client runs in a fresh process of its own
(``python -m benchmarks.memory client URL N MODE``), so nothing a previous suite left
in this process's heap hides or inflates its growth. It opens a conversation, runs a
1,000-chunk warm-up stream, collects garbage and reads its baseline RSS; then it
consumes the long stream with ``async for`` over ``chat.stream()``, sampling RSS from
``/proc/self/statm`` every 8,192 events. Peak is the largest of the samples and the
kernel's high-water mark (``VmHWM``). Linux only.

Two modes, each in its own client process: ``keep_text=False`` (the snapshot keeps no
text: growth measures the streaming machinery itself, target < 30 MB) and the default
``keep_text=True`` (the snapshot keeps the reply's text: growth should follow the text's
size, never the number of events; ``text MB`` is the text's size, ``over text MB`` the
growth beyond it).
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks._harness import OURS, Column, Config, Row, SuiteResult
from benchmarks._servers import REPO, dev_server_process, long_stream_frames, page_size

__all__ = ["OURS", "run"]

NAME = "memory"
MODES = {"no-text": False, "text": True}
"""Client mode argument -> ``keep_text``."""
TARGET_MB = 30.0
SAMPLE_EVERY = 8192
WARM_UP_CHUNKS = 1000
CLIENT_TIMEOUT = 600.0

COLUMNS = [
    Column("events", "events", ",.0f"),
    Column("events_per_s", "events/s", ",.0f"),
    Column("mb_per_s", "MB/s", ".1f"),
    Column("baseline_mb", "base MB", ".1f"),
    Column("peak_mb", "peak MB", ".1f"),
    Column("delta_mb", "delta MB", ".1f"),
    Column("text_mb", "text MB", ".1f"),
    Column("over_text_mb", "over text MB", ".1f"),
]


def _rss(page: int) -> int:
    with open("/proc/self/statm", "rb") as file:
        return int(file.read().split()[1]) * page


def _high_water_mark() -> int:
    with open("/proc/self/status", "rb") as file:
        for line in file:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def consume(base_url: str, n_chunks: int, keep_text: bool) -> dict[str, Any]:
    """The client side: baseline, then one long stream with RSS sampled along the way."""
    from llmrix import LlmrixClient

    page = page_size()
    if page is None:
        raise RuntimeError("needs /proc (Linux)")
    async with LlmrixClient(base_url) as client:
        conversation = (await client.conversations.create("memory benchmark")).id
        async with client.chat(conversation).stream(f"/long {WARM_UP_CHUNKS}") as stream:
            async for _ in stream:
                pass
        gc.collect()
        baseline = peak = _rss(page)
        samples = 1
        events = 0
        started = time.perf_counter()
        message = f"/long {n_chunks}"
        async with client.chat(conversation).stream(message, keep_text=keep_text) as stream:
            source = getattr(stream, "_source", None)
            async for _ in stream:
                events += 1
                if not events % SAMPLE_EVERY:
                    peak = max(peak, _rss(page))
                    samples += 1
        elapsed = time.perf_counter() - started
        peak = max(peak, _rss(page), _high_water_mark())
        text_chars = len(stream.snapshot.text) if keep_text else 0
        content = getattr(source, "_content", None)
        n_bytes = getattr(content, "total_bytes", 0)
    return {
        "events": events,
        "seconds": elapsed,
        "bytes": n_bytes,
        "baseline": baseline,
        "peak": peak,
        "samples": samples,
        "text_bytes": text_chars,
    }


def _client(base_url: str, n_chunks: int, mode: str) -> dict[str, Any]:
    """Run the client in a fresh interpreter; its JSON result."""
    command = [sys.executable, "-m", "benchmarks.memory", "client", base_url, str(n_chunks), mode]
    done = subprocess.run(
        command,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory client failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(config: Config) -> SuiteResult:
    """Measure the client's RSS growth over one long stream, per subject."""
    frame_bytes = len(long_stream_frames(1)[1])
    target_bytes = config.pick(1 << 30, 20 << 20)
    n_chunks = target_bytes // frame_bytes
    case = f"{target_bytes / (1 << 20):,.0f} MiB stream"
    rows: list[Row] = []
    notes: list[str] = []
    if page_size() is None:
        reason = "needs /proc/self/statm (Linux)"
        rows.append(Row(NAME, case, OURS, skipped=reason))
        return SuiteResult(NAME, COLUMNS, rows, notes, {"n_chunks": n_chunks})
    results: dict[str, dict[str, Any]] = {}
    with dev_server_process() as server:
        for mode, keep_text in MODES.items():
            results[f"{OURS}, keep_text={keep_text}"] = _client(server.base_url, n_chunks, mode)
    for name, result in results.items():
        if result["events"] != n_chunks + 2:
            raise AssertionError(f"{name}: {result['events']} events, expected {n_chunks + 2}")
        delta = (result["peak"] - result["baseline"]) / 1e6
        rows.append(
            Row(
                NAME,
                case,
                name,
                {
                    "events": float(result["events"]),
                    "events_per_s": result["events"] / result["seconds"],
                    "mb_per_s": result["bytes"] / result["seconds"] / 1e6,
                    "baseline_mb": result["baseline"] / 1e6,
                    "peak_mb": result["peak"] / 1e6,
                    "delta_mb": delta,
                    "text_mb": result["text_bytes"] / 1e6,
                    "over_text_mb": delta - result["text_bytes"] / 1e6,
                    "bytes": float(result["bytes"]),
                    "samples": float(result["samples"]),
                    "seconds": result["seconds"],
                },
            )
        )
        per_event = (result["peak"] - result["baseline"]) / result["events"]
        if result["text_bytes"]:
            notes.append(
                f"{name}: peak {delta:.1f} MB above baseline for {result['text_bytes'] / 1e6:.1f} "
                f"MB of text ({delta / (result['text_bytes'] / 1e6):.2f} B per text byte, "
                f"{per_event:.1f} B per event) over {result['bytes']:,} B"
            )
            continue
        verdict = "met" if delta < TARGET_MB else "NOT met"
        notes.append(
            f"{name}: peak {delta:.1f} MB above baseline (target < {TARGET_MB:.0f} MB: {verdict}; "
            f"{per_event:.1f} B per event) over {result['bytes']:,} B"
        )
    notes.append(
        f"/long {n_chunks:,} from a dev server process; client in a fresh process; "
        f"RSS sampled every {SAMPLE_EVERY:,} events and the kernel's VmHWM"
    )
    return SuiteResult(
        NAME,
        COLUMNS,
        rows,
        notes,
        {"n_chunks": n_chunks, "target_bytes": target_bytes, "sample_every": SAMPLE_EVERY},
    )


def main(argv: Sequence[str]) -> int:
    """``client URL N MODE``: consume ``/long N`` and print the measurements as JSON."""
    if len(argv) != 4 or argv[0] != "client" or argv[3] not in MODES:
        usage = f"usage: python -m benchmarks.memory client URL N {{{','.join(MODES)}}}"
        print(usage, file=sys.stderr)
        return 2
    result = asyncio.run(consume(argv[1], int(argv[2]), MODES[argv[3]]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
