"""Sans-IO decoder for ``text/event-stream`` (WHATWG server-sent events).

Bytes go in, frames come out; no IO happens here, so the decoder behaves the
same under any chunking of its input.

>>> decoder = SSEDecoder()
>>> decoder.feed(b"event: greeting\\ndata: hi\\n\\n")
[ServerSentEvent(event='greeting', data='hi', id=None, retry=None)]
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import StreamError

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


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

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_last_id",
        "_max",
        "_meta",
        "_pending_cr",
        "_retry",
        "_started",
        "_tail",
        "_tail_size",
    )

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._tail: list[bytes] = []
        self._tail_size = 0
        self._pending_cr = False
        self._started = False
        self._data: list[bytes] = []
        self._data_size = 0
        self._event = b""
        self._last_id: bytes | None = None
        self._retry: int | None = None
        self._meta: list[tuple[bytes | None, int | None]] | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk`` and return the frames it completes."""
        self._meta = []
        return self._to_events(self.feed_raw(chunk))

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch a final frame that had no blank line after it."""
        self._meta = []
        return self._to_events(self.flush_raw())

    @property
    def last_event_id(self) -> str | None:
        """The last ``id`` field seen, as the reconnection id."""
        return None if self._last_id is None else self._last_id.decode("utf-8", "replace")

    def feed_raw(self, chunk: bytes) -> list[RawFrame]:
        """Like :meth:`feed`, but frames stay bytes (the chat stream's hot path)."""
        if not self._started:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\n" not in chunk and b"\r" not in chunk:
            self._grow_tail(chunk)
            return []
        if self._tail:
            self._tail.append(chunk)
            chunk = b"".join(self._tail)
            self._tail.clear()
            self._tail_size = 0
        if b"\r" in chunk:
            self._pending_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        self._grow_tail(lines.pop())
        return self._process(lines)

    def flush_raw(self) -> list[RawFrame]:
        """Like :meth:`flush`, but frames stay bytes."""
        lines = [b"".join(self._tail), b""] if self._tail else [b""]
        self._tail.clear()
        self._tail_size = 0
        self._pending_cr = False
        return self._process(lines)

    def _strip_bom(self, chunk: bytes) -> bytes:
        head = b"".join(self._tail) + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._tail = [head]
            self._tail_size = len(head)
            return b""
        self._tail.clear()
        self._tail_size = 0
        self._started = True
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _grow_tail(self, piece: bytes) -> None:
        if not piece:
            return
        self._tail.append(piece)
        self._tail_size += len(piece)
        if self._tail_size + self._data_size > self._max:
            raise StreamError(f"SSE frame exceeds max_frame_bytes ({self._max} bytes)")

    def _process(self, lines: list[bytes]) -> list[RawFrame]:
        frames: list[RawFrame] = []
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
            if line[0] == 58:  # b":" starts a comment
                continue
            name, colon, value = line.partition(b":")
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
