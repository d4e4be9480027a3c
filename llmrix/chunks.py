"""The chat stream's hot path: body chunks in, typed events out; sans-IO.

```python
decoder = ChunkDecoder()
events: list[StreamEvent] = []
done = decoder.feed(chunk, events)   # once per chunk the socket gives
done = decoder.feed(b"", events)     # at the end of the body
```

Three layers, each with one job (in the spirit of h11's buffer / reader /
state split):

- `ChunkDecoder` (this module) buffers: it drops a leading BOM, turns CR and
  CRLF line ends into LF, and carries the unfinished tail after the last blank
  line to the next chunk. What it hands on is a region of whole frames that
  starts and ends in a clean state.
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

from .decoding import DEFAULT_DECODER, EventDecoder
from .errors import StreamError
from .events import StreamEvent
from .sse import (
    DEFAULT_MAX_FRAME_BYTES,
    SSEDecoder,
    data_payloads,
    drop_comment_lines,
    frame_spans,
)

__all__ = ["ChunkDecoder"]

_BOM = b"\xef\xbb\xbf"
_KEEP_ALIVE_DATA = frozenset({b"data: :ping", b'data: {"channel":"heartbeat","type":""}'})
"""Data lines that make a frame a keep-alive whatever its event name."""
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

    __slots__ = ("_cr", "_events", "_lines", "_max", "_started", "_tail", "_tail_size")

    def __init__(
        self,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        events: EventDecoder = DEFAULT_DECODER,
    ) -> None:
        self._max = max_frame_bytes
        self._events = events
        self._lines = SSEDecoder(max_frame_bytes=max_frame_bytes)
        self._tail: list[bytes | memoryview] = []
        self._tail_size = 0
        self._cr = False
        self._started = False

    def feed(self, chunk: bytes, out: MutableSequence[StreamEvent]) -> bool:
        """Decode ``chunk`` into ``out``; True once a terminal event is in. ``b""`` ends."""
        if chunk[-2:] == b"\n\n" and not (self._tail or self._cr) and self._started:
            lines = chunk.split(b"\n", 3)
            if len(lines) == 3:
                lines.insert(0, b"event: ")
            lone = len(lines) == 4 and not (lines.pop() or lines[2])
            if lone and len(chunk) <= self._max and b"\r" not in chunk:
                return self._lone(lines, out)
        if not chunk:
            return self.finish(out)
        if not self._started:
            chunk = self._after_bom(chunk)
            if not chunk:
                return False
        if self._cr or b"\r" in chunk:
            chunk = self._to_lf(chunk)
        cut = chunk.rfind(b"\n\n") + 2
        if cut == 1:
            if chunk[:1] == b"\n" and self._tail and self._tail[-1][-1:] == b"\n":
                cut = 1
            else:
                self._keep(chunk)
                return False
        if self._tail:
            self._tail.append(memoryview(chunk)[:cut])
            region = b"".join(self._tail)
            self._tail.clear()
            self._tail_size = 0
        else:
            region = chunk if cut == len(chunk) else chunk[:cut]
        if cut < len(chunk):
            self._keep(chunk[cut:])
        return self._region(region, out)

    def finish(self, out: MutableSequence[StreamEvent]) -> bool:
        """End of stream: decode a last frame that had no blank line after it."""
        rest = b"".join(self._tail)
        self._tail.clear()
        self._tail_size = 0
        self._cr = False
        lines = rest.split(b"\n") if rest else []
        frames = self._lines.decode_lines([*lines, b""])
        return self._events.decode_frames(
            [name for name, _ in frames], [data for _, data in frames], out
        )

    def _region(self, region: bytes, out: MutableSequence[StreamEvent]) -> bool:
        """Whole frames, clean state before and after: bulk runs, odd frames to the line route."""
        if region[:6] == b"data: " or region.find(b"\n\ndata: ", 0, _PROBE) >= 0:
            region = (b"\n\n" + region).replace(b"\n\ndata: ", b"\n\nevent: \ndata: ")[2:]
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
            lines = [b"event: ", *lines]
        if len(lines) == 3:
            head, data, _ = lines
            if head[:7] == b"event: ":
                if head == b"event: heartbeat" or data[:1] == b":" or data in _KEEP_ALIVE_DATA:
                    return False
                if data[:6] == b"data: ":
                    return self._events.decode_frame(data[6:], head, out)
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

    def _keep(self, piece: bytes) -> None:
        """Carry ``piece`` (no complete frame in it) to the next chunk, within the limit."""
        if not piece:
            return
        self._tail.append(piece)
        self._tail_size += len(piece)
        if self._tail_size > self._max:
            kept = drop_comment_lines(b"".join(self._tail))
            self._tail = [kept] if kept else []
            self._tail_size = len(kept)
            if self._tail_size > self._max:
                raise StreamError(f"SSE frame exceeds max_frame_bytes ({self._max} bytes)")

    def _after_bom(self, chunk: bytes) -> bytes:
        """``chunk`` without the stream's leading BOM (which may arrive split)."""
        head = b"".join(self._tail) + chunk
        self._tail.clear()
        self._tail_size = 0
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._tail.append(head)
            return b""
        self._started = True
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _to_lf(self, chunk: bytes) -> bytes:
        """CRLF and lone CR as LF; a CR that ends a chunk may pair with the next one's LF."""
        if self._cr:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return chunk
