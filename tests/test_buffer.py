"""`ByteBuffer` and the shared wire rules, on their own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrix._buffer import ByteBuffer
from llmrix._wire import BOM, KEEP_ALIVE_DATA, KEEP_ALIVE_NAMES, is_keep_alive
from llmrix.decoding import decode_event
from llmrix.errors import StreamError


def through(buffer: ByteBuffer, chunks: list[bytes]) -> bytes:
    """Every chunk cut after its last LF, as the line decoder does; then the rest."""
    out = b""
    for chunk in chunks:
        chunk = buffer.lf(chunk)
        end = chunk.rfind(b"\n") + 1
        if end:
            out += buffer.take(chunk, end)
        else:
            buffer.keep(chunk)
    return out + buffer.drain()


@given(
    text=st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b": c", b"\xef"]), max_size=40),
    bom=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=10),
)
def test_any_chunking_gives_the_same_lf_bytes(
    text: list[bytes], bom: bool, cuts: list[int]
) -> None:
    stream = (BOM if bom else b"") + b"".join(text)
    whole = through(ByteBuffer(1 << 20), [stream])
    expected = b"".join(text).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    assert whole == expected
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(stream[start:cut])
        start = max(start, cut)
    pieces.append(stream[start:])
    assert through(ByteBuffer(1 << 20), pieces) == whole


def test_idle_only_when_nothing_is_carried() -> None:
    buffer = ByteBuffer(100)
    assert not buffer.idle  # the BOM check is still ahead
    assert buffer.take(buffer.lf(b"data: x\n\n"), 9) == b"data: x\n\n"
    assert buffer.idle
    buffer.take(buffer.lf(b"data: y\r"), 8)
    assert not buffer.idle  # a CR may pair with the next read's LF
    assert buffer.lf(b"\ndata: z") == b"data: z"
    buffer.keep(b"data: z")
    assert not buffer.idle and buffer.drain() == b"data: z"


def test_the_limit_counts_what_the_caller_holds_but_never_comments() -> None:
    buffer = ByteBuffer(10)
    buffer.keep(b": a long comment line\n: and another one")
    assert buffer.drain() == b":"
    with pytest.raises(StreamError, match=r"max_frame_bytes \(10 bytes\)"):
        ByteBuffer(10).keep(b"data: 12345")
    with pytest.raises(StreamError, match="max_frame_bytes"):
        ByteBuffer(10).keep(b"data", reserved=7)


def test_one_keep_alive_rule_for_every_route() -> None:
    for name in KEEP_ALIVE_NAMES:
        assert is_keep_alive(name, b'{"type":"message_chunk"}')
        assert decode_event(b'{"type":"message_chunk"}', name) is None
    for data in KEEP_ALIVE_DATA:
        assert is_keep_alive(b"messages", data)
        assert decode_event(data, b"messages") is None
    assert not is_keep_alive(b"messages", b'{"type":"message_chunk"}')
