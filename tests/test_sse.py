"""The sans-IO SSE decoder against the WHATWG rules, under every chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrix.errors import StreamError
from llmrix.sse import ServerSentEvent, SSEDecoder


def decode_all(data: bytes, chunks: list[int] | None = None) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    if chunks is None:
        events += decoder.feed(data)
    else:
        start = 0
        for size in chunks:
            events += decoder.feed(data[start : start + size])
            start += size
        events += decoder.feed(data[start:])
    return events + decoder.flush()


def test_basic_frame() -> None:
    assert decode_all(b"event: greeting\ndata: hi\n\n") == [ServerSentEvent("greeting", "hi")]


def test_default_event_name_is_message() -> None:
    assert decode_all(b"data: x\n\n") == [ServerSentEvent("message", "x")]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_ends(eol: bytes) -> None:
    stream = eol.join([b"event: a", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
    assert decode_all(stream) == [ServerSentEvent("a", "1\n2"), ServerSentEvent("message", "3")]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == [ServerSentEvent("message", "a")]
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [ServerSentEvent("message", "b")]


def test_empty_chunk_between_cr_and_lf_changes_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\ndata: b\n\n") == [ServerSentEvent("message", "a\nb")]
    raw = SSEDecoder()
    assert raw.feed_raw(b"data: a\r") == []
    assert raw.feed_raw(b"") == []
    assert raw.feed_raw(b"\ndata: b\n\n") == [(b"", b"a\nb")]


def test_cr_only_frame_dispatches_without_waiting_for_more_bytes() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [ServerSentEvent("message", "a")]


def test_bom_dropped_only_at_start_even_when_split() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert decoder.feed(b"\xbfdata: x\n\n") == [ServerSentEvent("message", "x")]
    # A BOM later in the stream is data, and an unknown field name.
    assert decoder.feed(b"\xef\xbb\xbfdata: y\n\n") == []


def test_comments_and_unknown_fields_ignored() -> None:
    stream = b": ping\nfoo: bar\ndata: x\n: mid\n\n:\n\n"
    assert decode_all(stream) == [ServerSentEvent("message", "x")]


def test_space_after_colon_only_one_dropped() -> None:
    assert decode_all(b"data:x\n\ndata:  y\n\n") == [
        ServerSentEvent("message", "x"),
        ServerSentEvent("message", " y"),
    ]


def test_field_without_colon() -> None:
    # "data" alone appends an empty line; two of them give "\n".
    assert decode_all(b"data\ndata\n\n") == [ServerSentEvent("message", "\n")]
    assert decode_all(b"data\n\n") == [ServerSentEvent("message", "")]


def test_frame_without_data_is_not_dispatched() -> None:
    assert decode_all(b"event: x\nid: 1\n\n") == []


def test_event_name_resets_after_dispatch() -> None:
    assert decode_all(b"event: a\ndata: 1\n\ndata: 2\n\n") == [
        ServerSentEvent("a", "1"),
        ServerSentEvent("message", "2"),
    ]


def test_id_persists_and_nul_id_is_ignored() -> None:
    stream = b"id: 7\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\nid\ndata: d\n\n"
    assert [(e.data, e.id) for e in decode_all(stream)] == [
        ("a", "7"),
        ("b", "7"),
        ("c", "7"),
        ("d", ""),
    ]


def test_id_is_per_frame_within_one_chunk() -> None:
    events = decode_all(b"id: 1\ndata: a\n\nid: 2\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "2"]


def test_retry_only_digits() -> None:
    events = decode_all(b"retry: 1500\ndata: a\n\nretry: 1.5\ndata: b\n\nretry: x\ndata: c\n\n")
    assert [e.retry for e in events] == [1500, None, None]


def test_utf8_split_across_chunks() -> None:
    text = "héllo 世界 🎉".encode()
    stream = b"data: " + text + b"\n\n"
    for cut in range(len(stream)):
        assert decode_all(stream, [cut]) == [ServerSentEvent("message", text.decode())]


def test_invalid_utf8_is_replaced_in_the_public_decoder() -> None:
    assert decode_all(b"data: \xff\n\n") == [ServerSentEvent("message", "\ufffd")]


def test_flush_dispatches_last_frame_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: last") == []
    assert decoder.flush() == [ServerSentEvent("message", "last")]
    decoder = SSEDecoder()
    assert decoder.feed(b"data: last\n") == []
    assert decoder.flush() == [ServerSentEvent("message", "last")]


def test_frame_over_limit_raises() -> None:
    decoder = SSEDecoder(max_frame_bytes=64)
    with pytest.raises(StreamError, match="max_frame_bytes"):
        decoder.feed(b"data: " + b"x" * 100 + b"\n\n")


def test_endless_line_without_newline_is_bounded() -> None:
    decoder = SSEDecoder(max_frame_bytes=1024)
    with pytest.raises(StreamError, match="max_frame_bytes"):
        for _ in range(100):
            decoder.feed(b"y" * 100)


def test_many_data_lines_over_limit_raise() -> None:
    decoder = SSEDecoder(max_frame_bytes=1024)
    with pytest.raises(StreamError):
        decoder.feed(b"data: 0123456789\n" * 200)


EXAMPLE = (
    b"\xef\xbb\xbfevent: lifecycle\r\n"
    b'data: {"channel":"lifecycle","type":"run_start","run_id":"r1"}\r\n\r\n'
    b": ping\n\n"
    b"id: 9\nretry: 10\n"
    b"data: line one\rdata: line two \xe4\xb8\x96\r\r"
    b"event: heartbeat\ndata: :ping\n\n"
    b"data\n\n"
    b"event:x\ndata:no-space"
)


def test_every_split_point_gives_the_same_frames() -> None:
    expected = decode_all(EXAMPLE)
    assert len(expected) == 5
    for cut in range(len(EXAMPLE) + 1):
        assert decode_all(EXAMPLE, [cut]) == expected, cut
    for cut1 in range(0, len(EXAMPLE), 7):
        for cut2 in range(1, 30):
            assert decode_all(EXAMPLE, [cut1, cut2]) == expected


def test_byte_at_a_time() -> None:
    assert decode_all(EXAMPLE, [1] * len(EXAMPLE)) == decode_all(EXAMPLE)


SSE_PIECES = st.sampled_from(
    [
        b"data: ",
        b"data:",
        b"data",
        b"event: ",
        b"id: ",
        b"retry: ",
        b": ",
        b"\n",
        b"\r",
        b"\r\n",
        b"x",
        b"{}",
        b"\xe4\xb8\x96",
        b"\xef\xbb\xbf",
        b"\x00",
        b"12",
        b" ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(SSE_PIECES, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=12), max_size=20),
)
def test_chunking_never_changes_the_result(pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(pieces)
    assert decode_all(stream, cuts) == decode_all(stream)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(SSE_PIECES, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=12), max_size=20),
)
def test_raw_route_matches_public_decoder(pieces: list[bytes], cuts: list[int]) -> None:
    """The chat stream's bytes route yields exactly the public decoder's frames."""
    stream = b"".join(pieces)
    raw = SSEDecoder()
    frames = []
    start = 0
    for size in cuts:
        frames += raw.feed_raw(stream[start : start + size])
        start += size
    frames += raw.feed_raw(stream[start:]) + raw.flush_raw()
    public = decode_all(stream)
    assert [(e.event, e.data) for e in public] == [
        ((name.decode("utf-8", "replace") or "message"), data.decode("utf-8", "replace"))
        for name, data in frames
    ]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 50), max_size=10))
def test_random_bytes_never_crash(data: bytes, cuts: list[int]) -> None:
    for event in decode_all(data, cuts):
        assert isinstance(event.data, str)


FRAMES = st.sampled_from(
    [
        b'event: messages\ndata: {"type":"message_chunk","content":"a"}\n\n',
        b'event: lifecycle\ndata: {"type":"run_end"}\n\n',
        b'data: {"type":"message_chunk"}\n\n',
        b": ping\n\n",
        b'event: heartbeat\ndata: {"channel":"heartbeat","type":""}\n\n',
        b"data: :ping\n\n",
        b"event: heartbeat\n\n",
        b"event:x\ndata:y\n\n",
        b"id: 4\ndata: z\n\n",
        b"retry: 9\n\n",
        b"data: a\ndata: b\n\n",
        b"event: a\nevent: b\ndata: c\n\n",
        b"\n",
        b"\n\n",
        b": c\nevent: q\ndata: w\n\n",
        b"event: only\n",
        b"data: tail-without-blank",
        b"\r\n",
        b"data: \xe4\xb8\x96\r\n\r\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    frames=st.lists(FRAMES, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=90), max_size=12),
)
def test_raw_frames_match_the_public_decoder_under_any_chunking(
    frames: list[bytes], cuts: list[int]
) -> None:
    """``feed_raw`` (the reference route of the hot-path tests) agrees with ``feed``."""
    stream = b"".join(frames)
    raw = SSEDecoder()
    found = []
    start = 0
    for size in [*cuts, len(stream)]:
        found += raw.feed_raw(stream[start : start + size])
        start += size
    found += raw.flush_raw()
    assert [(e.event, e.data) for e in decode_all(stream)] == [
        ((name.decode("utf-8", "replace") or "message"), data.decode("utf-8", "replace"))
        for name, data in found
    ]
