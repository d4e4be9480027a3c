"""`ByteBuffer`: the bytes of an SSE body between reads, for both decoders.

It owns what the stream's framing needs carried from one read to the next: the
leading BOM (dropped, even when it arrives split), a CR that ends a read (it may
pair with the next read's LF), and the unfinished tail (kept within the frame
limit, comment lines never counted). The decoders decide where a read is cut.
"""

from __future__ import annotations

from ._wire import BOM, drop_comment_lines
from .errors import StreamError

__all__ = ["ByteBuffer"]


class ByteBuffer:
    """Bytes carried between reads of one stream; sans-IO.

    ``lf(chunk)`` turns a read into LF-only bytes (BOM dropped); ``take(chunk, end)``
    hands on what is buffered plus ``chunk[:end]`` and keeps the rest; ``keep``
    keeps bytes; ``drain`` ends the stream. ``idle`` is True when nothing is kept
    and no CR is pending, so a read can be decoded on its own.
    """

    __slots__ = ("_cr", "_parts", "_size", "_started", "idle", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        """Most bytes kept at once (with the caller's ``reserved``), else `StreamError`."""
        self._parts: list[bytes | memoryview] = []
        self._size = 0
        self._cr = False
        self._started = False
        self.idle = False
        """Nothing kept, no CR pending, the BOM check done."""

    def lf(self, chunk: bytes) -> bytes:
        """``chunk`` as the stream's next bytes: leading BOM dropped, CRLF and CR as LF."""
        if not self._started:
            chunk = self._after_bom(chunk)
        if self._cr or b"\r" in chunk:
            if self._cr and chunk:
                self._cr = False
                if chunk[:1] == b"\n":
                    chunk = chunk[1:]
            if b"\r" in chunk:
                self._cr = chunk[-1:] == b"\r"
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return chunk

    def take(self, chunk: bytes, end: int, reserved: int = 0) -> bytes:
        """What is kept plus ``chunk[:end]``; ``chunk[end:]`` is kept in its place."""
        parts = self._parts
        if parts:
            parts.append(memoryview(chunk)[:end])
            head = b"".join(parts)
            parts.clear()
            self._size = 0
        else:
            head = chunk if end == len(chunk) else chunk[:end]
        if end < len(chunk):
            self.keep(chunk[end:], reserved)
        else:
            self.idle = not self._cr
        return head

    def keep(self, piece: bytes, reserved: int = 0) -> None:
        """Keep ``piece``; past ``limit`` (counting ``reserved`` bytes the caller holds),
        comment lines are dropped, and if that is not enough, `StreamError`."""
        if not piece:
            return
        self.idle = False
        self._parts.append(piece)
        self._size += len(piece)
        if self._size + reserved > self.limit:
            kept = drop_comment_lines(b"".join(self._parts))
            self._parts = [kept] if kept else []
            self._size = len(kept)
            if self._size + reserved > self.limit:
                raise StreamError(f"SSE frame exceeds max_frame_bytes ({self.limit} bytes)")

    def ends_line(self) -> bool:
        """Whether the kept bytes end with a line end (the next LF makes a blank line)."""
        return bool(self._parts) and self._parts[-1][-1:] == b"\n"

    def drain(self) -> bytes:
        """End of stream: everything kept, and the buffer empty."""
        rest = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        self._cr = False
        return rest

    def _after_bom(self, chunk: bytes) -> bytes:
        """``chunk`` without the stream's leading BOM; ``b""`` while it may still be one."""
        head = b"".join(self._parts) + chunk if self._parts else chunk
        self._parts.clear()
        self._size = 0
        if len(head) < len(BOM) and BOM.startswith(head):
            if head:
                self._parts.append(head)
                self._size = len(head)
            return b""
        self._started = True
        return head[len(BOM) :] if head.startswith(BOM) else head
