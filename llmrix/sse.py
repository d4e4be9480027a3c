"""Sans-IO decoder for ``text/event-stream`` (WHATWG server-sent events).

Bytes go in, frames come out; no IO happens here, so the decoder behaves the
same under any chunking of its input.

```python
decoder = SSEDecoder()
decoder.feed(b"event: greeting\\ndata: hi\\n\\n")
# [ServerSentEvent(event='greeting', data='hi', id=None, retry=None)]
```

The chat stream's bulk route is here too, as pure functions over the lines of a
region of whole frames: `frame_spans` finds the runs of ``event:``/``data:``/blank
triplets and `data_payloads` takes their payloads (`llmrix.chunks` drives them).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from itertools import compress, count, repeat
from typing import NamedTuple

from ._buffer import ByteBuffer
from ._wire import COMMENT, DATA_FIELD, EVENT_FIELD, KEEP_ALIVE_HEADS
from .errors import StreamError

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "SSEDecoder",
    "ServerSentEvent",
    "Span",
    "data_payloads",
    "frame_spans",
]

DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

_EVENT_CUT = len(EVENT_FIELD)
_DATA_CUT = len(DATA_FIELD)
_COMMENT_BYTE = COMMENT[0]
_EVENT_AFTER_LF = b"\n" + EVENT_FIELD
RUN_FRAMES = 128
"""Most frames in one bulk run: bounds what one refused frame costs its neighbours."""


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched frame."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


RawFrame = tuple[bytes, bytes]
"""``(event name, data)`` as bytes; the name is ``b""`` when the frame set none."""


class SSEDecoder:
    """Incremental SSE parser.

    ``feed`` takes any slice of the stream and returns the frames it completes;
    ``flush`` ends the stream and dispatches a last frame that lacked its blank
    line. A frame or line longer than ``max_frame_bytes`` raises ``StreamError``.
    """

    __slots__ = ("_buffer", "_data", "_data_size", "_event", "_last_id", "_max", "_meta", "_retry")

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._buffer = ByteBuffer(max_frame_bytes)
        self._data: list[bytes] = []
        self._data_size = 0
        self._event = b""
        self._last_id: bytes | None = None
        self._retry: int | None = None
        self._meta: list[tuple[bytes | None, int | None]] | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk`` and return the frames it completes."""
        self._meta = []
        lines = self._complete(chunk).split(b"\n")
        lines.pop()
        return self._to_events(self._process(lines))

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch a final frame that had no blank line after it."""
        self._meta = []
        return self._to_events(self._process(self._flush_lines()))

    def feed_raw(self, chunk: bytes) -> list[RawFrame]:
        """Like `feed`, but frames stay bytes."""
        lines = self._complete(chunk).split(b"\n")
        lines.pop()
        return self._process(lines)

    def decode_lines(self, lines: list[bytes]) -> list[RawFrame]:
        """The frames that ``lines`` (LF already split off, CR already gone) complete."""
        return self._process(lines)

    def flush_raw(self) -> list[RawFrame]:
        """Like `flush`, but frames stay bytes."""
        return self._process(self._flush_lines())

    def _complete(self, chunk: bytes) -> bytes:
        """The stream's finished lines so far, LF-ended (or ``b""``); the rest stays kept."""
        buffer = self._buffer
        chunk = buffer.lf(chunk)
        end = chunk.rfind(b"\n") + 1
        if not end:
            buffer.keep(chunk, self._data_size)
            return b""
        return buffer.take(chunk, end, self._data_size)

    def _flush_lines(self) -> list[bytes]:
        rest = self._buffer.drain()
        return [rest, b""] if rest else [b""]

    def _process(self, lines: list[bytes]) -> list[RawFrame]:
        frames: list[RawFrame] = []
        comment, colon_byte = _COMMENT_BYTE, COMMENT
        for line in lines:
            if not line:
                if self._data:
                    data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
                    frames.append((self._event, data))
                    if self._meta is not None:
                        self._meta.append((self._last_id, self._retry))
                    self._retry = None
                    self._data = []
                    self._data_size = 0
                self._event = b""
                continue
            if line[0] == comment:
                continue
            name, colon, value = line.partition(colon_byte)
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value)
                self._data_size += len(value) + 1
                if self._data_size > self._max:
                    raise StreamError(f"SSE frame exceeds max_frame_bytes ({self._max} bytes)")
            elif name == b"event":
                self._event = value
            elif name == b"id":
                if b"\x00" not in value:
                    self._last_id = value
            elif name == b"retry" and value.isdigit():
                self._retry = int(value)
        return frames

    def _to_events(self, frames: list[RawFrame]) -> list[ServerSentEvent]:
        meta, self._meta = self._meta or [], None
        return [
            ServerSentEvent(
                event=event.decode("utf-8", "replace") or "message",
                data=data.decode("utf-8", "replace"),
                id=None if last_id is None else last_id.decode("utf-8", "replace"),
                retry=retry,
            )
            for (event, data), (last_id, retry) in zip(frames, meta, strict=True)
        ]


class Span(NamedTuple):
    """``lines[start:stop]``; a bulk run of ``event:``/``data:``/blank triplets, or odd lines."""

    start: int
    stop: int
    bulk: bool


def frame_spans(
    lines: list[bytes], run: int = RUN_FRAMES, most: int | None = None
) -> list[Span] | None:
    """Cut the lines of whole frames into bulk runs and odd frames; pure, no state.

    ``lines`` are the LF-split lines of a region that starts in a clean state (no
    frame open) and ends with a blank line, so the last item is ``b""``.

    A bulk span is at most ``run`` frames of exactly three lines each: an
    ``event: `` line (any name but ``heartbeat``), one more line, a blank line.
    Everything else (keep-alive comments, frames without an event line or with
    several data lines, ``id:``/``retry:`` fields, stray blank lines) is an odd span of whole
    frames, as many as follow each other: it ends at a blank line, so the general
    line route decodes it from a clean state and leaves one. Bulk spans promise
    only the rhythm and the heads; the caller still checks that each middle line
    is a ``data: `` line (`data_payloads`). None once there are more than ``most``
    spans: framing that irregular is the general route's.
    """
    spans: list[Span] = []
    end = len(lines)
    at = 0
    while at < end:
        blanks = lines[at + 2 : at + 3 * run : 3]
        frames = len(blanks)
        if blanks.count(b"") != frames:
            frames = next(compress(count(), blanks))
        if frames:
            frames = _event_heads(lines[at : at + 3 * frames : 3])
        if frames:
            spans.append(Span(at, at + 3 * frames, True))
            at += 3 * frames
        if at < end and frames < run:
            stop = lines.index(b"", at) + 1
            if spans and not spans[-1].bulk:
                spans[-1] = Span(spans[-1].start, stop, False)
            else:
                spans.append(Span(at, stop, False))
            at = stop
        if most is not None and len(spans) > most:
            return None
    return spans


def _event_heads(heads: list[bytes]) -> int:
    """How many of ``heads`` in a row are ``event: `` lines that are not keep-alives."""
    distinct = list(set(heads))
    good = len(heads)
    for keep_alive in KEEP_ALIVE_HEADS.intersection(distinct):
        good = min(good, heads.index(keep_alive))
    if (
        distinct[0][:_EVENT_CUT] != EVENT_FIELD
        or b"\n".join(distinct).count(_EVENT_AFTER_LF) != len(distinct) - 1
    ):
        flags = list(map(bytes.startswith, heads, repeat(EVENT_FIELD)))
        with suppress(ValueError):
            good = min(good, flags.index(False))
    return good


def data_payloads(lines: list[bytes]) -> tuple[list[bytes], int]:
    """The payloads of the leading ``data: `` lines of ``lines``, and how many there are.

    Pure. ``bytes.removeprefix`` strips every line in one C-level ``map``; the byte
    count removed (two joins are cheaper than summing lengths), exactly
    ``len(DATA_FIELD) * len(lines)``, proves each line had the prefix (it removes
    all of it or none). Otherwise the payloads stop before the first line without it, which
    the caller hands to the general route.
    """
    payloads = list(map(bytes.removeprefix, lines, repeat(DATA_FIELD)))
    if len(b"".join(lines)) - len(b"".join(payloads)) == _DATA_CUT * len(lines):
        return payloads, len(lines)
    flags = list(map(bytes.startswith, lines, repeat(DATA_FIELD)))
    good = flags.index(False)
    return payloads[:good], good
