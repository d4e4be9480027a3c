"""The chat stream's hot path (`ChunkDecoder`) against the general route, under any chunking.

The general route is the WHATWG line decoder (`SSEDecoder.feed_raw`) followed by
`decode_event` frame by frame: what the bulk route must reproduce exactly, events
and errors alike, whatever the chunk sizes.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from typing import Literal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llmrix.chunks import ChunkDecoder
from llmrix.decoding import DEFAULT_DECODER, EventDecoder, decode_event
from llmrix.errors import StreamError
from llmrix.events import Event, MessageChunkEvent, RunEndEvent, StreamEvent, UnknownEvent
from llmrix.sse import SSEDecoder, data_payloads, frame_spans

Outcome = tuple[list[StreamEvent], str | None]


def general(stream: bytes, decoder: EventDecoder = DEFAULT_DECODER) -> Outcome:
    """Frame by frame: the reference the hot path must match."""
    lines = SSEDecoder()
    out: list[StreamEvent] = []
    try:
        for name, data in lines.feed_raw(stream) + lines.flush_raw():
            event = decoder.decode(data, name)
            if event is not None:
                out.append(event)
                if event.terminal:
                    break
    except StreamError:
        return out, "StreamError"
    return out, None


def hot(chunks: Iterable[bytes], decoder: EventDecoder = DEFAULT_DECODER) -> Outcome:
    """ChunkDecoder as a read loop drives it: one call per chunk, b"" at the end."""
    chunk_decoder = ChunkDecoder(events=decoder)
    out: list[StreamEvent] = []
    try:
        for chunk in [*chunks, b""]:
            if chunk_decoder.feed(chunk, out):
                break
    except StreamError:
        return out, "StreamError"
    return out, None


def cut(stream: bytes, sizes: list[int]) -> list[bytes]:
    chunks = []
    start = 0
    for size in sizes:
        if size:
            chunks.append(stream[start : start + size])
            start += size
    return [*chunks, stream[start:]] if start < len(stream) else chunks


def frames_of(stream: bytes) -> list[bytes]:
    """One frame per chunk, as a live, server-paced stream arrives."""
    return [part + b"\n\n" for part in stream.split(b"\n\n")[:-1]]


CHUNK = b'{"channel":"messages","type":"message_chunk","content":"%s","id":"m"}'
GOOD = [
    b"event: messages\ndata: " + CHUNK % b"a" + b"\n\n",
    b"event: messages\ndata: " + CHUNK % b'\\u4e16\\"}\\ndata: {' + b"\n\n",
    b'event: tools\ndata: {"channel":"tools","type":"tool_start","id":"t","args":{"q":[1]}}\n\n',
    b'event: tools\ndata: {"channel":"tools","type":"tool_end","id":"t","result":{"k":1}}\n\n',
    b'event: hitl\ndata: {"channel":"hitl","type":"hitl_interrupt","action_args":"rm"}\n\n',
    b'data: {"type":"message_chunk","content":"no name"}\n\n',
    b'event: \ndata: {"type":"message_chunk","content":"empty name"}\n\n',
]
KEEP_ALIVES = [
    b": ping\n\n",
    b'event: heartbeat\ndata: {"channel":"heartbeat","type":""}\n\n',
    b"data: :ping\n\n",
    b'data: {"channel":"heartbeat","type":""}\n\n',
    b"event: heartbeat\ndata: not json\n\n",
]
ODD = [
    b'event: usage\ndata: {"channel":"usage","type":"token_usage","n":1}\n\n',
    b'event: messages\ndata: {"channel":"messages","type":"reasoning_chunk"}\n\n',
    b'event: audit\ndata: {"type":"error","message":"foreign"}\n\n',
    b'data: {"channel":"audit","type":"run_end"}\n\n',
    b'event: messages\ndata: {"type":"run_end"}\n\n',
    b'event: lifecycle\ndata: {"channel":"messages","type":"message_chunk"}\n\n',
    b'data: {"channel":"messages","type":"message_chunk","content":null}\n\n',
    b"data: " + CHUNK % b"\\ud83d" + b"\n\n",
    b'data:{"type":"message_chunk","content":"no space"}\n\n',
    b'event: messages\ndata: {"type":"message_chunk",\ndata: "content":"two lines"}\n\n',
    b'id: 7\nevent: messages\ndata: {"type":"message_chunk"}\n\n',
    b"\n",
    b"retry: 5\n\n",
]
ADVERSARIAL = [
    b'event: messages\ndata: {"type":"message_chunk"}{"type":"message_chunk"}\n\n',
    b'event: messages\ndata: {"type":"message_chunk","content":"x"} {"type":"run_end"}\n\n',
    b'event: messages\ndata: {"type":"message_chunk","content":[1\n\n',
    b"event: messages\ndata: 2]}\n\n",
    b"event: messages\ndata: \n\n",
    b'event: messages\ndata: {"type":"message_chunk","content":5}\n\n',
    b"event: messages\ndata: []\n\n",
    b"event: messages\ndata: " + b"[" * 5000 + b"]" * 5000 + b"\n\n",
    b'event: messages\ndata: {"type":"message_chunk","content":"\xff"}\n\n',
]
TERMINALS = [
    b'event: lifecycle\ndata: {"channel":"lifecycle","type":"run_end","run_id":"r"}\n\n',
    b'event: error\ndata: {"channel":"error","type":"error","message":"boom"}\n\n',
    b'event: error\ndata: {"channel":"error","type":"cancelled"}\n\n',
]
FRAME = st.sampled_from(GOOD * 4 + KEEP_ALIVES + ODD + ADVERSARIAL + TERMINALS)


@settings(max_examples=400, deadline=None)
@example(frames=[ADVERSARIAL[0], ODD[1]], sizes=[], eol=b"\n", bom=False)
@given(
    frames=st.lists(FRAME, max_size=60),
    sizes=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
    eol=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    bom=st.booleans(),
)
def test_hot_path_matches_the_general_route(
    frames: list[bytes], sizes: list[int], eol: bytes, bom: bool
) -> None:
    stream = (b"\xef\xbb\xbf" if bom else b"") + b"".join(frames).replace(b"\n", eol)
    expected = general(stream)
    assert hot(cut(stream, sizes)) == expected
    assert hot([stream]) == expected
    assert hot([stream[i : i + 1] for i in range(len(stream))]) == expected


@settings(max_examples=200, deadline=None)
@given(frames=st.lists(FRAME, max_size=60))
def test_one_frame_per_chunk_matches_the_general_route(frames: list[bytes]) -> None:
    stream = b"".join(frames)
    assert hot(frames) == general(stream)
    assert hot(frames_of(stream)) == general(stream)


def test_big_chunks_with_many_keep_alives_stay_exact() -> None:
    """256 KiB reads carrying thousands of frames, a keep-alive every other frame."""
    pick = random.Random(7)
    parts = []
    for index in range(12_000):
        parts.append(GOOD[index % len(GOOD)])
        parts.append(KEEP_ALIVES[index % len(KEEP_ALIVES)])
        if index % 97 == 0:
            parts.append(pick.choice(ODD))
    stream = b"".join([*parts, TERMINALS[0]])
    expected = general(stream)
    assert expected[1] is None and len(expected[0]) > 12_000
    assert isinstance(expected[0][-1], RunEndEvent)
    assert hot(cut(stream, [256 * 1024] * (len(stream) // (256 * 1024)))) == expected
    assert hot(cut(stream, [pick.randint(1, 8192) for _ in range(len(stream) // 2000)])) == expected


def test_nothing_after_the_terminal_event_is_decoded() -> None:
    stream = GOOD[0] + TERMINALS[0] + b"event: messages\ndata: {broken\n\n" + GOOD[0]
    events, error = hot([stream])
    assert error is None
    assert [type(event) for event in events] == [MessageChunkEvent, RunEndEvent]


def test_events_before_a_bad_frame_are_kept() -> None:
    stream = GOOD[0] * 300 + b"event: messages\ndata: {broken}\n\n" + GOOD[0] * 300
    events, error = hot([stream])
    assert error == "StreamError"
    assert len(events) == 300


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (b"event: messages\ndata: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n", "too deeply"),
        (b"event: messages\ndata: {broken}\n\n", "malformed JSON"),
        (b'event: messages\ndata: {"type":"message_chunk","content":5}\n\n', r"\$\.content"),
    ],
)
def test_bad_frames_raise_stream_error_on_every_route(frame: bytes, match: str) -> None:
    for chunks in ([frame], [GOOD[0] * 50 + frame], [GOOD[0] * 50 + frame + GOOD[0] * 50]):
        decoder = ChunkDecoder()
        with pytest.raises(StreamError, match=match):
            for chunk in [*chunks, b""]:
                decoder.feed(chunk, [])


def test_lone_surrogate_escape_reads_as_replacement_character() -> None:
    frame = b"event: messages\ndata: " + CHUNK % b"\\ud83d" + b"\n\n"
    for chunks in ([frame], [GOOD[0] * 40 + frame + GOOD[0] * 40]):
        events, error = hot(chunks)
        assert error is None
        texts = [e.content for e in events if isinstance(e, MessageChunkEvent)]
        assert "\ufffd" in texts
    pair = b"event: messages\ndata: " + CHUNK % b"\\ud83d\\ude00" + b"\n\n"
    assert hot([pair])[0] == [MessageChunkEvent(content="\U0001f600", id="m")]


def test_frame_over_the_limit_raises() -> None:
    decoder = ChunkDecoder(max_frame_bytes=100)
    with pytest.raises(StreamError, match="max_frame_bytes"):
        decoder.feed(b"event: messages\ndata: " + b"x" * 200, [])
    decoder = ChunkDecoder(max_frame_bytes=100)
    with pytest.raises(StreamError, match="max_frame_bytes"):
        decoder.feed(b"event: messages\ndata: " + CHUNK % (b"x" * 200) + b"\n\n", [])
    for size in (1, 7, 64):
        decoder = ChunkDecoder(max_frame_bytes=100)
        stream = (b"event: messages\ndata: " + CHUNK % b"x" + b"\n\n") * 20
        out: list[StreamEvent] = []
        for chunk in cut(stream, [size] * len(stream)):
            decoder.feed(chunk, out)
        assert len(out) == 20


class AuditEvent(Event, tag="audit_log"):
    """A custom event for the tests, on the ``audit`` channel."""

    channel: Literal["audit"] = "audit"
    user: str = ""


class PingedEvent(Event, tag="pinged"):
    """A custom event with no channel of its own."""

    count: int = 0


def test_custom_events_decode_typed_on_the_bulk_route(monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = EventDecoder(extra=(AuditEvent, PingedEvent))
    audit = b'event: audit\ndata: {"channel":"audit","type":"audit_log","user":"ann"}\n\n'
    pinged = b'data: {"type":"pinged","count":3}\n\n'
    stream = (GOOD[0] + audit + pinged) * 400
    calls: list[bytes] = []
    slow = EventDecoder._slow

    def counting(self: EventDecoder, data: bytes, event_name: bytes) -> StreamEvent | None:
        calls.append(data)
        return slow(self, data, event_name)

    monkeypatch.setattr(EventDecoder, "_slow", counting)
    events, error = hot([stream[: len(stream) // 2], stream[len(stream) // 2 :]], decoder)
    assert error is None and not calls
    assert events.count(AuditEvent(user="ann")) == 400  # type: ignore[arg-type]
    assert events.count(PingedEvent(count=3)) == 400  # type: ignore[arg-type]
    assert (events, error) == general(stream, decoder)
    plain, _ = hot([stream])
    assert isinstance(plain[1], UnknownEvent) and plain[1].type == "audit_log"


def test_custom_event_on_a_foreign_channel_is_unknown() -> None:
    decoder = EventDecoder(extra=(AuditEvent,))
    event = decoder.decode(b'{"channel":"billing","type":"audit_log"}')
    assert isinstance(event, UnknownEvent) and event.channel == "billing"
    assert decoder.decode(b'{"type":"audit_log"}', b"audit") == AuditEvent()


def test_bad_custom_event_types_are_refused() -> None:
    class Clash(Event, tag="run_end"):
        pass

    with pytest.raises(ValueError, match="taken by RunEndEvent"):
        EventDecoder(extra=(Clash,))
    with pytest.raises(TypeError, match=r"not an llmrix\.events\.Event subclass"):
        EventDecoder(extra=(dict,))  # type: ignore[arg-type]


def test_module_functions_use_the_default_decoder() -> None:
    assert decode_event(GOOD[0].split(b"data: ")[1].strip()) == MessageChunkEvent(
        content="a", id="m"
    )
    assert DEFAULT_DECODER.extra == ()


def test_data_payloads_strip_only_proven_prefixes() -> None:
    good = [b'data: {"a":1}', b"data: data: x", b"data: "]
    assert data_payloads(good) == ([b'{"a":1}', b"data: x", b""], 3)
    for lines, count in [
        ([b"data: {}", b"data:{}", b"data: {}"], 1),
        ([b"event: x", b"data: {}"], 0),
        ([b"data: {}", b"data: {}", b"id: data: "], 2),
    ]:
        payloads, found = data_payloads(lines)
        assert found == count and payloads == [line[6:] for line in lines[:count]]
    assert data_payloads([]) == ([], 0)


def test_frame_spans_cover_every_line_once() -> None:
    stream = b"".join(GOOD * 3 + KEEP_ALIVES + ODD + GOOD * 300)
    lines = stream.split(b"\n")
    lines.pop()
    spans = frame_spans(lines, run=64)
    assert spans is not None
    assert frame_spans(lines, run=64, most=2) is None
    assert spans[0].start == 0 and spans[-1].stop == len(lines)
    assert all(a.stop == b.start for a, b in itertools.pairwise(spans))
    for start, stop, bulk in spans:
        assert not lines[stop - 1]
        if bulk:
            assert (stop - start) % 3 == 0 and (stop - start) // 3 <= 64
            assert all(head.startswith(b"event: ") for head in lines[start:stop:3])
            assert b"event: heartbeat" not in lines[start:stop:3]
            assert lines[start + 2 : stop : 3] == [b""] * ((stop - start) // 3)
    assert sum(stop - start for start, stop, bulk in spans if bulk) > len(lines) // 2


COMMENTS = st.lists(
    st.sampled_from([b": ping", b":" + b"c" * 150, b":", b": " + b"\xff" * 90]), min_size=1
).map(lambda lines: b"\n".join(lines) + b"\n")


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.one_of(COMMENTS, st.sampled_from(GOOD + KEEP_ALIVES)), max_size=30),
    sizes=st.lists(st.integers(min_value=1, max_value=300), max_size=20),
    eol=st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_comment_lines_never_count_toward_the_frame_limit(
    parts: list[bytes], sizes: list[int], eol: bytes
) -> None:
    """Long runs of comment lines, even inside a frame, with frames far below the limit."""
    stream = b"".join(parts).replace(b"\n", eol)
    expected = general(stream)
    assert expected[1] is None
    unlimited = SSEDecoder()
    reference = unlimited.feed_raw(stream) + unlimited.flush_raw()
    for chunks in (
        cut(stream, sizes),
        [stream],
        [stream[i : i + 7] for i in range(0, len(stream), 7)],
    ):
        decoder = ChunkDecoder(max_frame_bytes=160)
        out: list[StreamEvent] = []
        for chunk in [*chunks, b""]:
            if decoder.feed(chunk, out):
                break
        assert (out, None) == expected
        lines = SSEDecoder(max_frame_bytes=160)
        frames = [f for c in chunks for f in lines.feed_raw(c)] + lines.flush_raw()
        assert frames == reference


def test_200_mib_of_comment_lines_without_a_blank_line_do_not_fail_the_stream() -> None:
    comments = b": keep-alive padding " + b"." * 1000 + b"\n"
    block = comments * 1024  # 1 MiB of comment lines, no blank line among them
    frame = b"event: messages\ndata: " + CHUNK % b"after" + b"\n\n"
    decoder = ChunkDecoder()
    lines = SSEDecoder()
    out: list[StreamEvent] = []
    raw: list[tuple[bytes, bytes]] = []
    for _ in range(200):
        assert not decoder.feed(block, out)
        raw += lines.feed_raw(block)
    decoder.feed(b"event: messages\ndata: " + CHUNK % b"inside" + b"\n" + block + b"\n", out)
    decoder.feed(frame, out)
    assert [e.content for e in out if isinstance(e, MessageChunkEvent)] == ["inside", "after"]
    raw += lines.feed_raw(b": unfinished" + b"." * (17 * 1024 * 1024))
    raw += lines.feed_raw(b"\n" + frame)
    assert raw == [(b"messages", CHUNK % b"after")]


def test_a_frame_over_the_limit_still_fails_among_comment_lines() -> None:
    decoder = ChunkDecoder(max_frame_bytes=100)
    with pytest.raises(StreamError, match="max_frame_bytes"):
        decoder.feed(b": c\n" * 50 + b"data: " + b"x" * 200, [])
    with pytest.raises(StreamError, match="max_frame_bytes"):
        SSEDecoder(max_frame_bytes=100).feed_raw(b": c\n" * 50 + b"data: " + b"x" * 200)
