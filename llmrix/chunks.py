"""The chat stream's hot path: body chunks in, typed events out; sans-IO.

```python
decoder = ChunkDecoder()
events: list[StreamEvent] = []
done = decoder.feed(chunk, events)   # once per chunk the socket gives
done = decoder.feed(b"", events)     # at the end of the body
```

Three layers, each with one job (in the spirit of h11's buffer / reader /
state split):

- `ChunkDecoder` (this module) cuts each read after its last blank line; the
  shared `ByteBuffer` drops a leading BOM, turns CR and CRLF line ends into LF,
  and carries the unfinished tail to the next read. What it hands on is a
  region of whole frames that starts and ends in a clean state.
- `llmrix.sse.frame_spans` and `llmrix.sse.data_payloads` are the bulk route,
  pure functions over that region's lines: runs of ``event:``/``data:``/blank
  triplets and their payloads, cut out with a few C-level calls, and the odd
  frames around them, which go to the general WHATWG line route (`SSEDecoder`).
- `llmrix.decoding.EventDecoder` turns payloads into typed events: one ``map``
  over msgspec per run, the exact per-frame route for whatever it refuses.

Whatever the route and the chunking, the events are those of the general
route frame by frame: keep-alives dropped, nothing after the first terminal
event, and a bad frame raises `StreamError` after the events before it are out.
"""

from __future__ import annotations

from collections.abc import MutableSequence

from ._buffer import ByteBuffer
from ._wire import COMMENT, DATA_FIELD, EVENT_FIELD, KEEP_ALIVE_HEADS, KEEP_ALIVE_LINES
from .decoding import DEFAULT_DECODER, EventDecoder
from .events import StreamEvent
from .sse import DEFAULT_MAX_FRAME_BYTES, SSEDecoder, data_payloads, frame_spans

__all__ = ["ChunkDecoder"]

_EVENT_CUT = len(EVENT_FIELD)
_DATA_CUT = len(DATA_FIELD)
_DATA_AFTER_BLANK = b"\n\n" + DATA_FIELD
_EMPTY_EVENT_DATA = b"\n\n" + EVENT_FIELD + b"\n" + DATA_FIELD
"""A frame without an ``event:`` line gets an empty one, which changes nothing."""
_LINES_PER_SPAN = 24
"""Fewer lines than this per span on average means irregular framing, where the general
line route in one go beats many short bulk runs (the result is the same either way)."""
_PROBE = 1024
"""Bytes looked at for frames without an ``event:`` line; when found, each frame of the
region gets an empty one (which changes nothing) so that it fits the bulk route."""


class ChunkDecoder:
    """Decode a chat stream's body chunk by chunk into typed events.

    ``feed(chunk, out)`` appends the events ``chunk`` completes to ``out`` and
    returns True once a terminal event is in ``out`` (stop reading then);
    ``feed(b"", out)`` (or ``finish(out)``) ends the stream, dispatching a last
    frame that lacked its blank line. A frame or line longer than
    ``max_frame_bytes`` raises `StreamError`, like bad frame data.
    """

    __slots__ = ("_buffer", "_events", "_lines", "_max")

    def __init__(
        self,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        events: EventDecoder = DEFAULT_DECODER,
    ) -> None:
        self._max = max_frame_bytes
        self._events = events
        self._lines = SSEDecoder(max_frame_bytes=max_frame_bytes)
        self._buffer = ByteBuffer(max_frame_bytes)

    def feed(self, chunk: bytes, out: MutableSequence[StreamEvent]) -> bool:
        """Decode ``chunk`` into ``out``; True once a terminal event is in. ``b""`` ends."""
        buffer = self._buffer
        if chunk[-2:] == b"\n\n" and buffer.idle:
            lines = chunk.split(b"\n", 3)
            if len(lines) == 3:
                lines.insert(0, EVENT_FIELD)
            lone = len(lines) == 4 and not (lines.pop() or lines[2])
            if lone and len(chunk) <= self._max and b"\r" not in chunk:
                return self._lone(lines, out)
        if not chunk:
            return self.finish(out)
        chunk = buffer.lf(chunk)
        cut = chunk.rfind(b"\n\n") + 2
        if cut == 1 and not (chunk[:1] == b"\n" and buffer.ends_line()):
            buffer.keep(chunk)
            return False
        return self._region(buffer.take(chunk, cut), out)

    def finish(self, out: MutableSequence[StreamEvent]) -> bool:
        """End of stream: decode a last frame that had no blank line after it."""
        rest = self._buffer.drain()
        lines = rest.split(b"\n") if rest else []
        frames = self._lines.decode_lines([*lines, b""])
        return self._events.decode_frames(
            [name for name, _ in frames], [data for _, data in frames], out
        )

    def _region(self, region: bytes, out: MutableSequence[StreamEvent]) -> bool:
        """Whole frames, clean state before and after: bulk runs, odd frames to the line route."""
        if region[:_DATA_CUT] == DATA_FIELD or region.find(_DATA_AFTER_BLANK, 0, _PROBE) >= 0:
            region = (b"\n\n" + region).replace(_DATA_AFTER_BLANK, _EMPTY_EVENT_DATA)[2:]
        lines = region.split(b"\n")
        lines.pop()
        spans = frame_spans(lines, most=1 + len(lines) // _LINES_PER_SPAN)
        if spans is None or len(region) > self._max:
            return self._general(lines, out)
        for start, stop, bulk in spans:
            if bulk:
                if self._bulk(lines, start, stop, out):
                    return True
            elif self._lone(lines[start:stop], out):
                return True
        return False

    def _lone(self, lines: list[bytes], out: MutableSequence[StreamEvent]) -> bool:
        """Frames off the bulk route. One frame of two or three lines is looked at here:
        the protocol's keep-alives are dropped, an ``event:``/``data:`` frame is decoded
        alone; anything else goes to the general line route."""
        if len(lines) == 2:
            lines = [EVENT_FIELD, *lines]
        if len(lines) == 3:
            head, data, _ = lines
            if head[:_EVENT_CUT] == EVENT_FIELD:
                if head in KEEP_ALIVE_HEADS or data[:1] == COMMENT or data in KEEP_ALIVE_LINES:
                    return False
                if data[:_DATA_CUT] == DATA_FIELD:
                    return self._events.decode_frame(data[_DATA_CUT:], head, out)
        return self._general(lines, out)

    def _bulk(
        self, lines: list[bytes], start: int, stop: int, out: MutableSequence[StreamEvent]
    ) -> bool:
        """A bulk span: its frames in one batch, but for a frame whose middle line is no data."""
        while start < stop:
            payloads, count = data_payloads(lines[start + 1 : stop : 3])
            if self._events.decode_run(lines[start : start + 3 * count : 3], payloads, out):
                return True
            start += 3 * count
            if start < stop:
                if self._general(lines[start : start + 3], out):
                    return True
                start += 3
        return False

    def _general(self, lines: list[bytes], out: MutableSequence[StreamEvent]) -> bool:
        """The WHATWG line route, then the events of its frames."""
        frames = self._lines.decode_lines(lines)
        if not frames:
            return False
        return self._events.decode_frames(
            [name for name, _ in frames], [data for _, data in frames], out
        )
