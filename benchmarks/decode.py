"""Decode throughput: SSE bytes in, typed events out, no network, all subjects in one process.

Subjects, each fed the same chunks of the same stream:

- ``llmrix``: what ``ChatStream`` does per chunk: ``SSEDecoder.feed_split`` then
  ``decode_frames`` into a queue that the consumer drains.
- ``llmrix per-frame``: the public per-frame route, ``feed_raw`` then ``decode_event``.
- ``official 1.0.0``: ``llmrix-python-sdk``'s ``parse_sse`` over the lines
  ``httpx.Response.iter_lines()`` makes of the chunks, as that SDK reads a stream.
- ``httpx-sse``: its line splitter and ``SSEDecoder`` over incrementally decoded
  text (as ``EventSource.iter_sse`` does), then ``json.loads`` per frame.
- ``floor (msgspec only)``: no framing at all, the frames' JSON pre-split, decoded
  into the same msgspec Structs.

Every subject drops keep-alives. Events/s counts the stream's non-heartbeat
events for every subject and MB/s its wire bytes, so the columns compare
like for like. ``x ours`` and ``x floor`` are events/s ratios.
"""

from __future__ import annotations

import codecs
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Union

import msgspec

from benchmarks._harness import OFFICIAL, OURS, Column, Config, Row, SuiteResult, time_round_robin
from benchmarks.corpus import build_stream
from llmrix.events import KNOWN_EVENTS, StreamEvent, decode_event, decode_frames
from llmrix.sse import SSEDecoder

__all__ = ["OURS", "Stream", "irregular_stream", "run", "server_stream"]

NAME = "decode"
PER_FRAME = "llmrix per-frame"
HTTPX_SSE = "httpx-sse + json"
FLOOR = "floor (msgspec only)"

COLUMNS = [
    Column("events", "events", ",.0f"),
    Column("events_per_s", "events/s", ",.0f"),
    Column("mb_per_s", "MB/s", ".1f"),
    Column("x_ours", "x ours", ".3f"),
    Column("x_floor", "x floor", ".3f"),
    Column("spread_pct", "median-best %", ".1f"),
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
    """``data`` cut into ``size``-byte chunks."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def ours(chunks: Sequence[bytes]) -> int:
    """ChatStream's per-chunk work; the queue is drained each chunk as a consumer would."""
    decoder = SSEDecoder()
    queue: deque[StreamEvent] = deque()
    count = 0
    for chunk in chunks:
        names, datas = decoder.feed_split(chunk)
        done = decode_frames(names, datas, queue)
        count += len(queue)
        queue.clear()
        if done:
            return count
    names, datas = decoder.flush_split()
    decode_frames(names, datas, queue)
    return count + len(queue)


def ours_per_frame(chunks: Sequence[bytes]) -> int:
    """The public per-frame route: ``feed_raw`` and ``decode_event``."""
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks:
        for name, data in decoder.feed_raw(chunk):
            event = decode_event(data, name)
            if event is not None:
                count += 1
                if event.terminal:
                    return count
    for name, data in decoder.flush_raw():
        count += decode_event(data, name) is not None
    return count


def floor_payloads(data: bytes) -> list[bytes]:
    """The JSON of every frame that reaches msgspec on our route (setup, not timed)."""
    decoder = SSEDecoder()
    frames = decoder.feed_raw(data) + decoder.flush_raw()
    return [
        body for name, body in frames if name != b"heartbeat" and body != b":ping" and body.strip()
    ]


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


_typed: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Union[KNOWN_EVENTS])  # noqa: UP007
_untyped = msgspec.json.Decoder()


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


def run(config: Config) -> SuiteResult:
    """Measure every subject on every case; see the module docstring."""
    n_events = config.pick(20_000, 300)
    repeats = config.repeats or config.pick(7, 2)
    chunk_sizes = (4096, 65536)
    regular = server_stream(config.seed, n_events)
    irregular = irregular_stream(config.seed, n_events)
    cases = [(regular, size) for size in chunk_sizes] + [(irregular, 65536)]

    factories: dict[str, Callable[[], Callable[[Sequence[bytes]], int]]] = {
        OURS: lambda: ours,
        PER_FRAME: lambda: ours_per_frame,
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
    for stream, size in cases:
        case = f"{stream.label}, {size // 1024} KiB"
        chunks = chunked(stream.data, size)
        payloads = floor_payloads(stream.data)
        subjects = {name: partial(fn, chunks) for name, fn in available.items()}
        subjects[FLOOR] = partial(floor, payloads)
        yielded = {name: subject() for name, subject in subjects.items()}
        if yielded[OURS] != stream.events:
            raise AssertionError(f"{case}: ours yielded {yielded[OURS]}, expected {stream.events}")
        timings = time_round_robin(subjects, repeats)
        rate = {name: stream.events / timing.best for name, timing in timings.items()}
        for name in [OURS, PER_FRAME, OFFICIAL, HTTPX_SSE, FLOOR]:
            if name in missing:
                rows.append(Row(NAME, case, name, skipped=missing[name]))
                continue
            timing = timings[name]
            rows.append(
                Row(
                    NAME,
                    case,
                    name,
                    {
                        "events": yielded[name],
                        "events_per_s": rate[name],
                        "mb_per_s": len(stream.data) / timing.best / 1e6,
                        "x_ours": rate[name] / rate[OURS],
                        "x_floor": rate[name] / rate[FLOOR],
                        "spread_pct": (timing.median / timing.best - 1) * 100,
                        "best_s": timing.best,
                        "median_s": timing.median,
                    },
                )
            )
        targets = [f"ours/floor {rate[OURS] / rate[FLOOR]:.2f}x (target >= 0.5x)"]
        if OFFICIAL in rate:
            targets.insert(0, f"ours/official {rate[OURS] / rate[OFFICIAL]:.1f}x (target >= 10x)")
        notes.append(f"{case}: " + "; ".join(targets))
    notes.append(
        f"{n_events} events/stream, {len(regular.data):,} B server framing, "
        f"{len(irregular.data):,} B irregular; best of {repeats} interleaved runs"
    )
    return SuiteResult(
        NAME,
        COLUMNS,
        rows,
        notes,
        {
            "n_events": n_events,
            "repeats": repeats,
            "seed": config.seed,
            "chunk_sizes": list(chunk_sizes),
            "bytes": {regular.label: len(regular.data), irregular.label: len(irregular.data)},
        },
    )
