"""The SSE wire rules both decoders share: field prefixes, keep-alive forms, comments.

A new keep-alive form is one edit here: an event name in `KEEP_ALIVE_NAMES` or a
frame's data in `KEEP_ALIVE_DATA` (objects on the `HEARTBEAT_CHANNEL` are keep-alives
whatever their other fields, which only the JSON decoder can see).
"""

from __future__ import annotations

__all__ = [
    "BOM",
    "COMMENT",
    "DATA_FIELD",
    "EVENT_FIELD",
    "HEARTBEAT_CHANNEL",
    "KEEP_ALIVE_DATA",
    "KEEP_ALIVE_HEADS",
    "KEEP_ALIVE_LINES",
    "KEEP_ALIVE_NAMES",
    "drop_comment_lines",
    "is_keep_alive",
]

BOM = b"\xef\xbb\xbf"
"""A UTF-8 byte order mark, dropped once at the start of a stream."""
EVENT_FIELD = b"event: "
"""How an ``event`` line starts on the bulk route (the space is what servers send)."""
DATA_FIELD = b"data: "
"""How a ``data`` line starts on the bulk route."""
COMMENT = b":"
"""How a comment line starts."""

HEARTBEAT_CHANNEL = "heartbeat"
"""The channel whose every object is a keep-alive."""
KEEP_ALIVE_NAMES = frozenset({b"heartbeat"})
"""Event names that make a frame a keep-alive whatever its data."""
KEEP_ALIVE_DATA = frozenset({b":ping", b'{"channel":"heartbeat","type":""}'})
"""Frame data that is a keep-alive whatever the event name (the JSON form as sent)."""
_LONGEST = max(map(len, KEEP_ALIVE_DATA))
KEEP_ALIVE_HEADS = frozenset(EVENT_FIELD + name for name in KEEP_ALIVE_NAMES)
"""`KEEP_ALIVE_NAMES` as whole ``event: `` lines."""
KEEP_ALIVE_LINES = frozenset(DATA_FIELD + data for data in KEEP_ALIVE_DATA)
"""`KEEP_ALIVE_DATA` as whole ``data: `` lines."""


def is_keep_alive(name: bytes, data: bytes) -> bool:
    """Whether a frame is a keep-alive by its event name or data alone (empty data and
    objects on `HEARTBEAT_CHANNEL` are keep-alives too, found while decoding)."""
    return name in KEEP_ALIVE_NAMES or (len(data) <= _LONGEST and data in KEEP_ALIVE_DATA)


def drop_comment_lines(text: bytes) -> bytes:
    """``text`` (LF line ends, starting at a line start) without its comment lines.

    Comments are ignored, so they are never kept: an unfinished comment line at
    the end shrinks to ``b":"``, which still marks the rest of that line as one.
    """
    lines = text.split(b"\n")
    last = lines.pop()
    kept = [line for line in lines if line[:1] != COMMENT]
    kept.append(COMMENT if last[:1] == COMMENT else last)
    return b"\n".join(kept)
