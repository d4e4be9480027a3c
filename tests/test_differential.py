"""Differential decoding: our SSE decoder + ``decode_event`` against the official SDK.

The same bytes go to the official ``parse_sse`` (fed lines exactly as httpx's
``Response.iter_lines()`` cuts them, under the same body chunking) and to ours
(``SSEDecoder.feed_raw`` over random chunk splits, then ``decode_event``). The
official client is loaded from ``.official-sdk`` as ``llmrix_official``; the
module is skipped when it is not installed and cannot be installed.

Allowed differences, by design: the official parser drops unknown events and
non-JSON frames (ours yields ``UnknownEvent`` / raises ``StreamError``), knows
no rubric events, and its dataclasses lack the TypeScript fields. Every other
difference is pinned in ``test_known_behaviour`` below.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterable
from typing import Any

import msgspec
import pytest

from benchmarks.corpus import (
    CorpusStream,
    Eol,
    ExpectedEvent,
    Shape,
    build_stream,
    random_chunks,
)
from benchmarks.official import (
    OfficialParser,
    OfficialSDKMissing,
    install_official,
    load_official_parser,
)
from llmrix.chunks import ChunkDecoder
from llmrix.decoding import decode_event
from llmrix.errors import StreamError
from llmrix.events import StreamEvent, UnknownEvent
from llmrix.sse import SSEDecoder

pytestmark = pytest.mark.official

SEEDS = range(60)
EOLS: tuple[Eol, ...] = ("\n", "\r\n", "\r")
SHAPES: tuple[Shape, ...] = ("primary", "ts", "mixed")
CHUNK_SIZES = (1, 3, 17, 256, 1 << 30)


@pytest.fixture(scope="module")
def official() -> OfficialParser:
    """The official parser; installed into ``.official-sdk`` on first use if possible."""
    try:
        return load_official_parser()
    except OfficialSDKMissing:
        pass
    try:
        install_official(timeout=120)
        return load_official_parser()
    except OfficialSDKMissing as exc:
        pytest.skip(f"official llmrix-python-sdk unavailable, differential tests skipped: {exc}")


def ours(chunks: Iterable[bytes]) -> list[StreamEvent]:
    """Our hot path: raw frames over the given chunking, then typed events."""
    decoder = SSEDecoder()
    frames = []
    for chunk in chunks:
        frames.extend(decoder.feed_raw(chunk))
    frames.extend(decoder.flush_raw())
    events = [decode_event(data, name) for name, data in frames]
    return [event for event in events if event is not None]


def hot_path(chunks: Iterable[bytes]) -> list[StreamEvent]:
    """The chat stream's hot path: `ChunkDecoder`, one call per chunk, up to the terminal."""
    decoder = ChunkDecoder()
    out: list[StreamEvent] = []
    for chunk in [*chunks, b""]:
        if decoder.feed(chunk, out):
            break
    return out


def until_terminal(events: list[StreamEvent]) -> list[StreamEvent]:
    ends = [index for index, event in enumerate(events) if event.terminal]
    return events[: ends[0] + 1] if ends else events


def frames_of(data: bytes) -> list[bytes]:
    """One chunk per frame (split after each blank line), as a live stream arrives."""
    return [
        piece for piece in re.split(rb"(?:(?<=\n\n)|(?<=\r\r)|(?<=\r\n\r\n))(?!\n)", data) if piece
    ]


def theirs(official: OfficialParser, chunks: Iterable[bytes]) -> list[Any]:
    """The official client's events, heartbeats dropped as its users would."""
    heartbeat = official.events.HeartbeatEvent
    events = official.parse_sse(official.iter_lines(chunks))
    return [event for event in events if not isinstance(event, heartbeat)]


def official_types(official: OfficialParser) -> frozenset[str]:
    """Event types the official SDK has a dataclass for (heartbeat excluded)."""
    classes = official.events.StreamEvent.__args__
    return frozenset(cls().type for cls in classes) - {""}


def comparable(events: list[StreamEvent], known: frozenset[str]) -> list[StreamEvent]:
    """Our events the official parser also yields: not unknown, not TS-only."""
    return [e for e in events if not isinstance(e, UnknownEvent) and e.type in known]


def assert_matches_corpus(got: list[StreamEvent], expected: list[ExpectedEvent]) -> None:
    """Ours against the generator's ground truth, every field sent."""
    assert len(got) == len(expected)
    for index, (event, want) in enumerate(zip(got, expected, strict=True)):
        where = f"event {index} ({want.type})"
        assert event.type == want.type, where
        assert event.channel == want.channel, where
        if isinstance(event, UnknownEvent):
            assert event.data == want.payload, where
            continue
        for key, value in want.payload.items():
            assert msgspec.to_builtins(getattr(event, key)) == value, f"{where}.{key}"


def assert_same(theirs_: list[Any], ours_: list[StreamEvent], label: str) -> None:
    """Field by field, over the fields the official dataclasses have."""
    assert len(theirs_) == len(ours_), label
    for index, (their, our) in enumerate(zip(theirs_, ours_, strict=True)):
        assert type(their).__name__ == type(our).__name__, f"{label}: event {index}"
        for field in dataclasses.fields(their):
            ours_name = WIRE_ATTRIBUTES.get((type(our).__name__, field.name), field.name)
            assert getattr(their, field.name) == getattr(our, ours_name), (
                f"{label}: event {index} ({their.type}) field {field.name!r}"
            )


WIRE_ATTRIBUTES = {("ToolEndEvent", "result"): "raw_result"}
"""Our attribute for a wire field whose name is a shape-neutral accessor on our side."""


def stream_for(seed: int) -> tuple[CorpusStream, str]:
    eol = EOLS[seed % 3]
    shape = SHAPES[(seed // 3) % 3]
    unicode = seed % 5 != 4
    stream = build_stream(
        seed,
        20 + (seed * 37) % 180,
        eol=eol,
        shape=shape,
        heartbeat_every=1 + seed % 9,
        unicode=unicode,
    )
    label = f"seed={seed} eol={eol!r} shape={shape} unicode={unicode}"
    return stream, label


def test_official_is_aliased_not_shadowing(official: OfficialParser) -> None:
    import llmrix

    assert official.events.__name__ == "llmrix_official.streaming.events"
    assert "llmrix" in sys.modules
    assert sys.modules["llmrix"] is llmrix
    assert llmrix.__file__ is not None
    assert ".official-sdk" not in llmrix.__file__
    assert not any(entry.endswith(".official-sdk") for entry in sys.path)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: f"seed{seed:02d}")
def test_differential(official: OfficialParser, seed: int) -> None:
    stream, label = stream_for(seed)
    known = official_types(official)
    reference = ours([stream.data])
    assert_matches_corpus(reference, stream.events)
    for size in CHUNK_SIZES:
        chunks = random_chunks(stream.data, seed * 1000 + size, size)
        where = f"{label} max_chunk={size}"
        got = ours(chunks)
        assert got == reference, where
        assert hot_path(chunks) == until_terminal(reference), where
        assert hot_path(frames_of(stream.data)) == until_terminal(reference), label
        assert_same(theirs(official, chunks), comparable(got, known), where)


def test_corpus_covers_the_protocol() -> None:
    """The seeds above exercise every event type, both shapes and all heartbeat forms."""
    types: set[str] = set()
    ts_fields: set[str] = set()
    text = b""
    for seed in SEEDS:
        stream, _ = stream_for(seed)
        text += stream.data
        for event in stream.events:
            types.add(event.type)
            ts_fields.update(event.payload)
    assert types >= {
        "run_start",
        "run_end",
        "message_chunk",
        "tool_start",
        "tool_end",
        "subagent_start",
        "subagent_end",
        "hitl_interrupt",
        "error",
        "cancelled",
        "rubric_evaluation_start",
        "rubric_evaluation_end",
        "token_usage",
    }
    assert ts_fields >= {
        "tool_call_id",
        "input",
        "output",
        "parent_ids",
        "action_requests",
        "run_id",
        "message",
        "reason",
        "grading_run_id",
    }
    for needle in (
        b": ping",
        b"event: heartbeat",
        b"data: :ping",
        b'data: {"channel":"heartbeat","type":""}',
        b"\\u",
        b'\\"',
        b"\\n",
        "\u4f60".encode(),
        "\U0001f600".encode(),
        b"\r\n",
        b"data:{",
        b"id: ",
    ):
        assert needle in text, needle


def _summary(events: list[Any]) -> list[str]:
    out = []
    for event in events:
        if isinstance(event, UnknownEvent):
            out.append(f"unknown:{event.channel}/{event.type}")
        elif event.type == "message_chunk":
            out.append(f"message_chunk:{event.content!a}")
        else:
            out.append(event.type)
    return out


def summarize_theirs(official: OfficialParser, data: bytes) -> list[str] | str:
    try:
        return _summary(theirs(official, [data]))
    except Exception as exc:
        return f"raises {type(exc).__name__}"


def summarize_ours(data: bytes) -> list[str] | str:
    try:
        return _summary(ours([data]))
    except StreamError:
        return "raises StreamError"


RUN_END = b'{"channel":"lifecycle","type":"run_end","run_id":"r1"}'
CHUNK = b'{"channel":"messages","type":"message_chunk","content":"%s"}'

# (name, stream, official result, our result); equal results mean agreement.
KNOWN: list[tuple[str, bytes, list[str] | str, list[str] | str]] = [
    # Agreements worth pinning.
    ("cr-only", b"event: lifecycle\rdata: " + RUN_END + b"\r\r", ["run_end"], ["run_end"]),
    ("data-no-space", b"data:" + RUN_END + b"\n\n", ["run_end"], ["run_end"]),
    ("data-two-spaces", b"data:  " + RUN_END + b"\n\n", ["run_end"], ["run_end"]),
    ("event-no-space-heartbeat", b"event:heartbeat\ndata: " + RUN_END + b"\n\n", [], []),
    ("event-heartbeat-any-data", b"event: heartbeat\ndata: ping\n\n", [], []),
    ("data-colon-ping", b"data: :ping\n\n", [], []),
    ("comment-ping", b": ping\n\n:ping\n\n", [], []),
    ("heartbeat-json", b'data: {"channel":"heartbeat","type":""}\n\n', [], []),
    ("heartbeat-json-no-type", b'data: {"channel":"heartbeat"}\n\n', [], []),
    (
        "event-name-as-channel",
        b'event: lifecycle\ndata: {"type":"run_end"}\n\n',
        ["run_end"],
        ["run_end"],
    ),
    (
        "event-name-padded",
        b'event:   lifecycle  \ndata: {"type":"run_end"}\n\n',
        ["run_end"],
        ["run_end"],
    ),
    (
        "multi-line-data",
        b'data: {"channel":"lifecycle",\ndata: "type":"run_end"}\n\n',
        ["run_end"],
        ["run_end"],
    ),
    ("no-final-blank-line", b"data: " + RUN_END, ["run_end"], ["run_end"]),
    (
        "duplicate-key",
        b'data: {"channel":"messages","type":"message_chunk","content":"a","content":"b"}\n\n',
        ["message_chunk:'b'"],
        ["message_chunk:'b'"],
    ),
    ("id-retry-ignored", b"id: 7\nretry: 10\ndata: " + RUN_END + b"\n\n", ["run_end"], ["run_end"]),
    # Allowed: the official parser drops unknown events and non-JSON frames.
    (
        "unknown-event",
        b'data: {"channel":"usage","type":"tokens"}\n\n',
        [],
        ["unknown:usage/tokens"],
    ),
    ("non-json", b"data: hello\n\n", [], "raises StreamError"),
    ("empty-data", b"data:\n\n", [], []),
    # Disagreements.
    ("bom-then-data", b"\xef\xbb\xbfdata: " + RUN_END + b"\n\n", [], ["run_end"]),
    (
        "bom-then-event-name",
        b'\xef\xbb\xbfevent: lifecycle\ndata: {"type":"run_end"}\n\n',
        [],
        ["run_end"],
    ),
    (
        "u2028-in-json",
        b"data: " + CHUNK % "a\u2028b".encode() + b"\n\n",
        [],
        ["message_chunk:'a\\u2028b'"],
    ),
    (
        "u2029-in-json",
        b"data: " + CHUNK % "a\u2029b".encode() + b"\n\n",
        [],
        ["message_chunk:'a\\u2029b'"],
    ),
    (
        "nel-in-json",
        b"data: " + CHUNK % "a\x85b".encode() + b"\n\n",
        [],
        ["message_chunk:'a\\x85b'"],
    ),
    ("no-channel-no-event-name", b'data: {"type":"run_end"}\n\n', [], ["run_end"]),
    (
        "empty-event-name",
        b'event: lifecycle\nevent:\ndata: {"type":"run_end"}\n\n',
        [],
        ["run_end"],
    ),
    # PROTOCOL.md: an event is its channel and type together; a known type on a
    # foreign channel is an unknown event (the official parser drops it).
    (
        "channel-type-mismatch",
        b'data: {"channel":"messages","type":"tool_start"}\n\n',
        [],
        ["unknown:messages/tool_start"],
    ),
    (
        "foreign-channel-terminal-type",
        b'data: {"channel":"audit","type":"error"}\n\n',
        [],
        ["unknown:audit/error"],
    ),
    (
        "event-name-foreign-channel",
        b'event: audit\ndata: {"type":"run_end"}\n\n',
        [],
        ["unknown:audit/run_end"],
    ),
    (
        "heartbeat-channel-known-type",
        b'data: {"channel":"heartbeat","type":"run_end"}\n\n',
        [],
        [],
    ),
    (
        "heartbeat-channel-other-type",
        b'data: {"channel":"heartbeat","type":"x"}\n\n',
        [],
        [],
    ),
    (
        "event-heartbeat-trailing-space",
        b"event: heartbeat \ndata: ping\n\n",
        [],
        "raises StreamError",
    ),
    ("bare-data-field", b"data\n\n", [], []),
    ("json-array", b"data: []\n\n", "raises AttributeError", "raises StreamError"),
    ("json-null", b"data: null\n\n", "raises AttributeError", "raises StreamError"),
    ("json-number", b"data: 42\n\n", "raises AttributeError", "raises StreamError"),
    (
        "null-field",
        b'data: {"channel":"messages","type":"message_chunk","content":null}\n\n',
        ["message_chunk:None"],
        ["message_chunk:''"],
    ),
    (
        "wrong-type-field",
        b'data: {"channel":"tools","type":"tool_end","error":"false"}\n\n',
        ["tool_end"],
        "raises StreamError",
    ),
    ("null-type", b'data: {"channel":"messages","type":null}\n\n', [], ["unknown:messages/"]),
    (
        "invalid-utf8",
        b"data: " + CHUNK % b"a\xffb" + b"\n\n",
        ["message_chunk:'a\\ufffdb'"],
        "raises StreamError",
    ),
    # A lone surrogate escape is valid JSON (a JavaScript server cutting an emoji);
    # ours reads it as U+FFFD so every string handed out is valid Unicode.
    (
        "lone-surrogate-escape",
        b"data: " + CHUNK % b"\\ud83d" + b"\n\n",
        ["message_chunk:'\\ud83d'"],
        ["message_chunk:'\\ufffd'"],
    ),
]


@pytest.mark.parametrize(
    ("stream", "official_result", "our_result"),
    [pytest.param(data, theirs_, ours_, id=name) for name, data, theirs_, ours_ in KNOWN],
)
def test_known_behaviour(
    official: OfficialParser,
    stream: bytes,
    official_result: list[str] | str,
    our_result: list[str] | str,
) -> None:
    assert summarize_theirs(official, stream) == official_result
    assert summarize_ours(stream) == our_result
    chunked = random_chunks(stream, len(stream), 2)
    assert summarize_ours(b"".join(chunked)) == our_result


@pytest.mark.parametrize("seed", range(6), ids=lambda seed: f"seed{seed}")
def test_exotic_newlines_lose_official_events(official: OfficialParser, seed: int) -> None:
    """Raw U+2028/U+2029/U+0085 in JSON text: httpx splits lines there, ours does not."""
    stream = build_stream(seed, 120, shape="primary", exotic_newlines=True)
    known = official_types(official)
    got = ours(random_chunks(stream.data, seed, 64))
    assert_matches_corpus(got, stream.events)
    assert len(theirs(official, [stream.data])) < len(comparable(got, known))


@pytest.mark.parametrize("eol", EOLS, ids=("lf", "crlf", "cr"))
def test_bom_is_dropped_by_ours(eol: Eol) -> None:
    plain = build_stream(11, 30, eol=eol)
    marked = build_stream(11, 30, eol=eol, bom=True)
    assert marked.data == b"\xef\xbb\xbf" + plain.data
    for size in (1, 2, 5):
        assert ours(random_chunks(marked.data, size, size)) == ours([plain.data])
