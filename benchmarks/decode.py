"""Decode throughput: SSE bytes in, typed events out, no network, all subjects in one process.

Cases (chunkings of the same stream, as a client's read loop gets them):

- ``256 KiB cut anywhere``: what aiohttp's ``readany()`` hands over at full speed
  (asyncio's read size); chunk boundaries fall anywhere, mid-line included.
- ``64 KiB cut anywhere``: what a chat turn reads at full speed (it asks asyncio's
  transport for at most 64 KiB); ``4 KiB cut anywhere``: smaller fixed-size cuts. Both
  cut anywhere (not frame-aligned).
- ``one frame per chunk``: a live, server-paced stream (the normal case for an agent).
- ``random 1-8192 B``: seeded random chunk sizes.
- ``irregular framing``: every legal SSE variant mixed (no-space fields, ids, multi-line
  JSON, data before event, extra blank lines, TypeScript shapes), 64 KiB cuts: a
  conformance load that takes the general line route.

Subjects, each fed the same chunks:

- ``llmrix``: the hot path, ``ChunkDecoder.feed(chunk, out)`` once per chunk.
- ``official 1.0.0``: ``llmrix-python-sdk``'s ``parse_sse`` over the lines
  ``httpx.Response.iter_lines()`` makes of the chunks, as that SDK reads a stream.
- ``httpx-sse + json``: its line splitter and ``SSEDecoder`` over incrementally decoded
  text (as ``EventSource.iter_sse`` does), then ``json.loads`` per frame.
- ``floor (msgspec only)``: no framing at all, the frames' JSON pre-split, one msgspec
  call per payload into the same Structs.
- ``floor2 (decode_lines)``: the same payloads pre-joined in runs of 128, one
  ``decode_lines`` call per run (per payload where a run holds an unknown type).

Every subject drops keep-alives; events/s counts the stream's non-heartbeat events for
every subject and MB/s its wire bytes. Timing is CPU time (``time.process_time``; the
machine is shared) with wall time beside it, in interleaved rounds: each round runs
every subject once. ``x official`` and ``x floor`` are the median over rounds of the
per-round ratio of CPU times (so both sides of a ratio saw the same machine), with the
lowest and highest round after it.
"""

from __future__ import annotations

import codecs
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Union

import msgspec

from benchmarks._harness import OFFICIAL, OURS, Column, Config, Row, SuiteResult
from benchmarks.corpus import build_stream
from llmrix.chunks import ChunkDecoder
from llmrix.events import KNOWN_EVENTS, StreamEvent
from llmrix.sse import SSEDecoder

__all__ = ["OURS", "Stream", "irregular_stream", "run", "server_stream"]

NAME = "decode"
HTTPX_SSE = "httpx-sse + json"
FLOOR = "floor (msgspec only)"
FLOOR2 = "floor2 (decode_lines)"
SUBJECTS = (OURS, OFFICIAL, HTTPX_SSE, FLOOR, FLOOR2)
FLOOR2_RUN = 128

COLUMNS = [
    Column("events", "events", ",.0f"),
    Column("events_per_s", "events/s", ",.0f"),
    Column("mb_per_s", "MB/s", ".1f"),
    Column("x_official", "x official", ".2f"),
    Column("x_official_lo", "lo", ".2f"),
    Column("x_official_hi", "hi", ".2f"),
    Column("x_floor", "x floor", ".3f"),
    Column("x_floor_lo", "lo", ".3f"),
    Column("x_floor_hi", "hi", ".3f"),
    Column("wall_per_cpu", "wall/CPU", ".2f"),
]

_BEAT = b'{"channel":"heartbeat","type":""}'
_HEARTBEATS = (
    b": ping\n\n",
    b"event: heartbeat\ndata: " + _BEAT + b"\n\n",
    b"data: :ping\n\n",
    b"data: " + _BEAT + b"\n\n",
)
"""The protocol's keep-alive forms: comment, heartbeat frame, ``:ping`` data, heartbeat JSON."""


@dataclass(frozen=True)
class Stream:
    """A stream to decode and the number of events a client must yield from it."""

    label: str
    data: bytes
    events: int


def server_stream(seed: int, n_events: int, heartbeat_every: int = 100) -> Stream:
    """The corpus's events framed as one server frames them all: ``event: <channel>``,
    one compact ``data:`` line (raw UTF-8), a blank line; heartbeats cycle through
    every form every ``heartbeat_every`` events.
    """
    corpus = build_stream(seed, n_events, shape="primary", heartbeat_every=0)
    parts: list[bytes] = []
    for index, event in enumerate(corpus.events, 1):
        body = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":"))
        parts.append(b"event: %s\ndata: %s\n\n" % (event.channel.encode(), body.encode()))
        if heartbeat_every and index % heartbeat_every == 0:
            parts.append(_HEARTBEATS[(index // heartbeat_every) % len(_HEARTBEATS)])
    return Stream("server framing", b"".join(parts), len(corpus.events))


def irregular_stream(seed: int, n_events: int) -> Stream:
    """The corpus's own framing: every legal variant mixed (no-space fields, ids,
    multi-line JSON, data before event, extra blank lines, TypeScript shapes)."""
    corpus = build_stream(seed, n_events, shape="mixed")
    return Stream("irregular framing", corpus.data, len(corpus.events))


def chunked(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into ``size``-byte chunks (anywhere, mid-line included)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def frame_chunks(data: bytes) -> list[bytes]:
    """One chunk per frame: ``data`` split after each blank line (LF framing)."""
    return [part + b"\n\n" for part in data.split(b"\n\n")[:-1]]


def random_sized(data: bytes, seed: int, low: int = 1, high: int = 8192) -> list[bytes]:
    """``data`` cut into seeded random sizes between ``low`` and ``high`` bytes."""
    pick = random.Random(seed)
    chunks = []
    start = 0
    while start < len(data):
        size = pick.randint(low, high)
        chunks.append(data[start : start + size])
        start += size
    return chunks


def ours(chunks: Sequence[bytes]) -> int:
    """The hot path, as a read loop drives it: one ``feed`` per chunk, the list drained."""
    decoder = ChunkDecoder()
    out: list[StreamEvent] = []
    count = 0
    for chunk in chunks:
        done = decoder.feed(chunk, out)
        count += len(out)
        out.clear()
        if done:
            return count
    decoder.feed(b"", out)
    return count + len(out)


def floor_payloads(data: bytes) -> list[bytes]:
    """The JSON of every frame that reaches msgspec on our route (setup, not timed)."""
    decoder = SSEDecoder()
    frames = decoder.feed_raw(data) + decoder.flush_raw()
    return [
        body for name, body in frames if name != b"heartbeat" and body != b":ping" and body.strip()
    ]


_typed: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Union[KNOWN_EVENTS])  # noqa: UP007
_untyped = msgspec.json.Decoder()


def floor(payloads: Sequence[bytes]) -> int:
    """msgspec alone: pre-split payloads into the same Structs (unknown types as dicts)."""
    decode = _typed.decode
    fallback = _untyped.decode
    for payload in payloads:
        try:
            decode(payload)
        except msgspec.MsgspecError:
            fallback(payload)
    return len(payloads)


def floor2_runs(payloads: Sequence[bytes]) -> list[tuple[bytes, Sequence[bytes]]]:
    """Payloads joined with LF in runs of `FLOOR2_RUN` (setup, not timed)."""
    runs = []
    for start in range(0, len(payloads), FLOOR2_RUN):
        run = payloads[start : start + FLOOR2_RUN]
        runs.append((b"\n".join(run), run))
    return runs


def floor2(runs: Sequence[tuple[bytes, Sequence[bytes]]]) -> int:
    """msgspec alone, one ``decode_lines`` per run (per payload in a run it refuses)."""
    lines = _typed.decode_lines
    count = 0
    for body, run in runs:
        try:
            count += len(lines(body))
        except msgspec.MsgspecError:
            count += floor(run)
    return count


def official_subject() -> Callable[[Sequence[bytes]], int]:
    """The official SDK's route; raises ``RuntimeError`` (with the reason) when unavailable."""
    from benchmarks.official import OfficialSDKMissing, load_official_parser

    try:
        parser = load_official_parser()
    except OfficialSDKMissing as exc:
        raise RuntimeError(str(exc)) from None
    heartbeat = parser.events.HeartbeatEvent

    def run(chunks: Sequence[bytes]) -> int:
        count = 0
        for event in parser.parse_sse(parser.iter_lines(chunks)):
            if not isinstance(event, heartbeat):
                count += 1
        return count

    return run


def httpx_sse_subject() -> Callable[[Sequence[bytes]], int]:
    """httpx-sse's decoding; raises ``RuntimeError`` (with the reason) when unavailable."""
    try:
        from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder
        from httpx_sse._decoders import SSELineDecoder
    except ImportError as exc:
        reason = f"httpx-sse>=0.4.3 not installed ({exc}); pip install -e '.[bench]'"
        raise RuntimeError(reason) from None

    def run(chunks: Sequence[bytes]) -> int:
        text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        splitter = SSELineDecoder()
        decoder = HttpxSSEDecoder()
        count = 0

        def take(lines: list[str]) -> None:
            nonlocal count
            for line in lines:
                sse = decoder.decode(line.rstrip("\n"))
                if sse is None or sse.event == "heartbeat" or sse.data in ("", ":ping"):
                    continue
                if json.loads(sse.data).get("channel") != "heartbeat":
                    count += 1

        for chunk in chunks:
            piece = text.decode(chunk)
            if piece:
                take(splitter.decode(piece))
        piece = text.decode(b"", True)
        if piece:
            take(splitter.decode(piece))
        take([*splitter.flush(), ""])
        return count

    return run


@dataclass(frozen=True)
class Rounds:
    """CPU and wall seconds of each round of each subject."""

    cpu: dict[str, list[float]]
    wall: dict[str, list[float]]

    def ratio(self, slow: str, fast: str) -> tuple[float, float, float]:
        """Median, lowest and highest over rounds of ``cpu[slow] / cpu[fast]``."""
        ratios = [a / b for a, b in zip(self.cpu[slow], self.cpu[fast], strict=True)]
        return statistics.median(ratios), min(ratios), max(ratios)


def time_rounds(subjects: dict[str, Callable[[], object]], rounds: int) -> Rounds:
    """Run every subject once per round, in an order that rotates each round."""
    names = list(subjects)
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            subject = subjects[name]
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            subject()
            cpu[name].append(time.process_time() - started_cpu)
            wall[name].append(time.perf_counter() - started_wall)
    return Rounds(cpu, wall)


def _cases(config: Config) -> tuple[list[tuple[str, Stream, list[bytes]]], Stream, Stream]:
    n_events = config.pick(20_000, 300)
    regular = server_stream(config.seed, n_events)
    irregular = irregular_stream(config.seed, n_events)
    cases = [
        ("256 KiB cut anywhere", regular, chunked(regular.data, 256 * 1024)),
        ("64 KiB cut anywhere", regular, chunked(regular.data, 64 * 1024)),
        ("4 KiB cut anywhere", regular, chunked(regular.data, 4 * 1024)),
        ("one frame per chunk", regular, frame_chunks(regular.data)),
        ("random 1-8192 B", regular, random_sized(regular.data, config.seed)),
        ("irregular framing, 64 KiB", irregular, chunked(irregular.data, 64 * 1024)),
    ]
    return cases, regular, irregular


def run(config: Config) -> SuiteResult:
    """Measure every subject on every case; see the module docstring."""
    rounds = config.repeats or config.pick(7, 2)
    cases, regular, irregular = _cases(config)
    factories: dict[str, Callable[[], Callable[[Sequence[bytes]], int]]] = {
        OURS: lambda: ours,
        OFFICIAL: official_subject,
        HTTPX_SSE: httpx_sse_subject,
    }
    available: dict[str, Callable[[Sequence[bytes]], int]] = {}
    missing: dict[str, str] = {}
    for name, factory in factories.items():
        try:
            available[name] = factory()
        except RuntimeError as exc:
            missing[name] = str(exc)

    rows: list[Row] = []
    notes: list[str] = []
    for case, stream, chunks in cases:
        payloads = floor_payloads(stream.data)
        subjects: dict[str, Callable[[], object]] = {
            name: partial(fn, chunks) for name, fn in available.items()
        }
        subjects[FLOOR] = partial(floor, payloads)
        subjects[FLOOR2] = partial(floor2, floor2_runs(payloads))
        yielded = {name: subject() for name, subject in subjects.items()}
        if yielded[OURS] != stream.events:
            raise AssertionError(f"{case}: ours yielded {yielded[OURS]}, expected {stream.events}")
        timed = time_rounds(subjects, rounds)
        rows += _rows(case, stream, yielded, timed, missing)
        notes.append(_note(case, timed))
    notes.append(
        f"{regular.events} events/stream, {len(regular.data):,} B server framing, "
        f"{len(irregular.data):,} B irregular; {rounds} interleaved rounds, CPU time; "
        "ratios: median [lowest-highest round]"
    )
    return SuiteResult(
        NAME,
        COLUMNS,
        rows,
        notes,
        {
            "rounds": rounds,
            "seed": config.seed,
            "cases": [case for case, _, _ in cases],
            "bytes": {regular.label: len(regular.data), irregular.label: len(irregular.data)},
        },
    )


def _rows(
    case: str, stream: Stream, yielded: dict[str, object], timed: Rounds, missing: dict[str, str]
) -> list[Row]:
    rows = []
    for name in SUBJECTS:
        if name in missing:
            rows.append(Row(NAME, case, name, skipped=missing[name]))
            continue
        cpu = statistics.median(timed.cpu[name])
        metrics: dict[str, float] = {
            "events": float(yielded[name]),  # type: ignore[arg-type]
            "events_per_s": stream.events / cpu,
            "mb_per_s": len(stream.data) / cpu / 1e6,
            "cpu_s": cpu,
            "wall_s": statistics.median(timed.wall[name]),
            "wall_per_cpu": statistics.median(timed.wall[name]) / cpu,
        }
        if OFFICIAL in timed.cpu:
            mid, low, high = timed.ratio(OFFICIAL, name)
            metrics |= {"x_official": mid, "x_official_lo": low, "x_official_hi": high}
        mid, low, high = timed.ratio(FLOOR, name)
        metrics |= {"x_floor": mid, "x_floor_lo": low, "x_floor_hi": high}
        rows.append(Row(NAME, case, name, metrics))
    return rows


def _note(case: str, timed: Rounds) -> str:
    parts = []
    if OFFICIAL in timed.cpu:
        parts.append("ours/official {:.2f}x [{:.2f}-{:.2f}]".format(*timed.ratio(OFFICIAL, OURS)))
    parts.append("ours/floor {:.3f}x [{:.3f}-{:.3f}]".format(*timed.ratio(FLOOR, OURS)))
    return f"{case}: " + "; ".join(parts)
