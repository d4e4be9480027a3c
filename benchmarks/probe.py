"""Chunk-size probe: what ``readany()`` hands a client reading ``llmrix serve``'s chat stream.

The decode benchmark's chunkings come from here. Two runs on one ``llmrix serve``
process over loopback, read with aiohttp's ``response.content.readany()`` as the
SDK's read loop does:

- ``full speed``: ``/long N``, written by the server as fast as it can.
- ``paced``: ``/slow``, one word every ``slow_delay`` seconds (a live agent's pace).

Per run: how many reads, their sizes (median, 90th percentile, largest), the frames
per read, and the share of reads that are exactly one whole frame.
"""

from __future__ import annotations

import asyncio
import statistics

import aiohttp

from benchmarks._harness import Column, Config, Row, SuiteResult
from benchmarks._servers import dev_server_process
from llmrix import LlmrixClient

__all__ = ["run"]

NAME = "probe"
SUBJECT = "aiohttp readany()"

COLUMNS = [
    Column("reads", "reads", ",.0f"),
    Column("median_kib", "median KiB", ".2f"),
    Column("p90_kib", "p90 KiB", ".2f"),
    Column("max_kib", "max KiB", ".1f"),
    Column("frames_per_read", "frames/read", ".1f"),
    Column("one_frame_pct", "one frame %", ".0f"),
]


async def read_sizes(base_url: str, message: str) -> list[bytes]:
    """Every chunk ``readany()`` returns for one chat turn (a fresh conversation)."""
    async with LlmrixClient(base_url=base_url) as client:
        conversation = await client.conversations.create("probe")
    url = f"{base_url}/api/open/v1/conversations/{conversation.id}/chat"
    chunks = []
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"message": message}) as response,
    ):
        response.raise_for_status()
        while chunk := await response.content.readany():
            chunks.append(chunk)
    return chunks


def _metrics(chunks: list[bytes]) -> dict[str, float]:
    sizes = sorted(len(chunk) for chunk in chunks)
    frames = [chunk.count(b"\n\n") for chunk in chunks]
    whole = sum(1 for chunk in chunks if chunk.endswith(b"\n\n") and chunk.count(b"\n\n") == 1)
    return {
        "reads": float(len(chunks)),
        "median_kib": statistics.median(sizes) / 1024,
        "p90_kib": sizes[int(0.9 * (len(sizes) - 1))] / 1024,
        "max_kib": sizes[-1] / 1024,
        "frames_per_read": statistics.mean(frames),
        "one_frame_pct": 100 * whole / len(chunks),
    }


def run(config: Config) -> SuiteResult:
    """Probe both runs on one dev server process; see the module docstring."""
    n_chunks = config.pick(200_000, 2_000)
    cases = [(f"full speed, /long {n_chunks:,}", f"/long {n_chunks}"), ("paced, /slow", "/slow")]
    rows = []
    with dev_server_process() as server:
        for label, message in cases:
            chunks = asyncio.run(read_sizes(server.base_url, message))
            rows.append(Row(NAME, label, SUBJECT, _metrics(chunks)))
    notes = ["one frame %: reads that are exactly one whole frame (the live case)"]
    return SuiteResult(NAME, COLUMNS, rows, notes, {"n_chunks": n_chunks})
