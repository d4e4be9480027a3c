"""Decoding frame data into typed events: `EventDecoder` and its module-level form.

``decode_event`` uses `DEFAULT_DECODER` (the SDK's own event types); an
`EventDecoder` built with ``extra`` types decodes those too, on the same route.
`EventRegistry` is a client's current decoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSequence
from contextlib import suppress
from itertools import islice
from typing import Any, NamedTuple

import msgspec

from ._json import replace_lone_surrogates
from ._nulls import convert_lenient
from ._wire import EVENT_FIELD, HEARTBEAT_CHANNEL, is_keep_alive
from .errors import StreamError
from .events import KNOWN_EVENTS, Event, HeartbeatEvent, StreamEvent, UnknownEvent

__all__ = [
    "DEFAULT_DECODER",
    "EventDecoder",
    "EventRegistry",
    "decode_event",
]

_SNIPPET = 200
_EVENT_CUT = len(EVENT_FIELD)
_DECODE_ERRORS = (msgspec.MsgspecError, UnicodeDecodeError, RecursionError)


def _snippet(data: bytes | memoryview) -> str:
    text = bytes(data[:_SNIPPET]).decode("utf-8", "replace")
    return text + "..." if len(data) > _SNIPPET else text


class _Keys(NamedTuple):
    """How frames are labelled in a batch: bare event names, or whole ``event: `` lines."""

    plain: frozenset[tuple[type[Any], bytes]]
    """(class, key) pairs whose events pass as decoded."""
    named: dict[type[Any], bytes]
    """Each class's key when the frame is named after its channel."""
    cut: int
    """Bytes before the name in a key."""


def _channel_of(cls: type[Event]) -> str | None:
    """The channel a class's events live on (its ``channel`` default); None: any channel."""
    for field in msgspec.structs.fields(cls):
        if field.name == "channel" and isinstance(field.default, str) and field.default:
            return field.default
    return None


class EventDecoder:
    """Frame data to typed events: the SDK's union plus ``extra`` event types.

    Holds the msgspec decoder built once for that union, so registered types
    decode on the same fast path as the SDK's. ``decode`` is the exact route,
    one frame; ``decode_frames``, ``decode_run`` and ``decode_frame`` decode
    frames with as little Python per frame as they can and give the same result
    as ``decode`` frame by frame.
    """

    __slots__ = (
        "_any",
        "_by_tag",
        "_channels",
        "_heads",
        "_names",
        "_one",
        "extra",
    )

    def __init__(self, extra: Iterable[type[Event]] = ()) -> None:
        self.extra: tuple[type[Event], ...] = tuple(extra)
        classes = (*KNOWN_EVENTS, *self.extra)
        self._by_tag: dict[str, type[Event]] = {}
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, Event)):
                raise TypeError(f"{cls!r} is not an llmrix.events.Event subclass")
            tag = cls.__struct_config__.tag
            if not isinstance(tag, str):
                raise TypeError(f"{cls.__name__} needs a string tag: class X(Event, tag='...')")
            if tag in self._by_tag and self._by_tag[tag] is not cls:
                raise ValueError(f"event type {tag!r} is taken by {self._by_tag[tag].__name__}")
            self._by_tag[tag] = cls
        union: Any = classes[0]
        for cls in classes[1:]:
            union = union | cls
        decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(union)
        self._one = decoder.decode
        self._any = msgspec.json.Decoder().decode
        self._channels = {cls: _channel_of(cls) for cls in self._by_tag.values()}
        passable = [cls for cls in self._by_tag.values() if not cls.terminal]
        passable.remove(HeartbeatEvent)
        plain = frozenset(
            (cls, name) for cls in passable for name in {b"", (self._channels[cls] or "").encode()}
        )
        named = {cls: channel.encode() for cls in passable if (channel := self._channels[cls])}
        self._names = _Keys(plain, named, 0)
        """Frames labelled by event name (``b""``: none)."""
        self._heads = _Keys(
            frozenset((cls, EVENT_FIELD + name) for cls, name in plain),
            {cls: EVENT_FIELD + name for cls, name in named.items()},
            _EVENT_CUT,
        )
        """Frames labelled by their ``event: `` line."""

    def decode(self, data: bytes, event_name: bytes = b"") -> StreamEvent | None:
        """Decode one frame's data into an event; ``None`` means a keep-alive.

        Keep-alives: what `llmrix._wire.is_keep_alive` says, empty data, and any
        object on the ``heartbeat`` channel. Raises `StreamError` for data that is
        not a JSON object or a known event whose fields have the wrong types.
        """
        if is_keep_alive(event_name, data):
            return None
        try:
            event = self._one(data)
        except _DECODE_ERRORS:
            return self._slow(data, event_name)
        return self._screened(event, data, event_name)

    def _refused(self, data: bytes, event_name: bytes) -> StreamEvent | None:
        """`decode` for data the typed decoder has just refused."""
        if is_keep_alive(event_name, data):
            return None
        return self._slow(data, event_name)

    def _screened(self, event: Any, data: bytes, event_name: bytes) -> StreamEvent | None:
        """A decoded event as the caller gets it, or the slow route's verdict."""
        cls = type(event)
        if cls is HeartbeatEvent:
            return self._slow(data, event_name)
        channel = self._channels.get(cls)
        if event_name and channel is not None and event_name.strip() != channel.encode():
            return self._slow(data, event_name)
        result: StreamEvent = event
        return result

    def _slow(self, data: bytes, event_name: bytes) -> StreamEvent | None:
        """The exact route for what the typed decoder refused: the JSON object looked at."""
        if not data.strip():
            return None
        obj = self._object(data)
        kind = obj.get("type") or ""
        channel = obj.get("channel") or event_name.decode("utf-8", "replace").strip()
        if channel == HEARTBEAT_CHANNEL:
            return None
        if not isinstance(kind, str) or not isinstance(channel, str):
            raise StreamError(f"SSE frame has a non-string channel or type: {_snippet(data)!r}")
        cls = self._by_tag.get(kind)
        home = self._channels.get(cls) if cls is not None else None
        if cls is None or cls is HeartbeatEvent or (home is not None and channel not in (home, "")):
            return UnknownEvent(channel=channel, type=kind, data=obj)
        if home is not None:
            obj = {**obj, "channel": home}
        try:
            event: StreamEvent = convert_lenient(obj, cls)
        except (msgspec.ValidationError, RecursionError) as exc:
            raise StreamError(f"invalid {kind!r} event ({exc}): {_snippet(data)!r}") from None
        return event

    def _object(self, data: bytes) -> dict[str, Any]:
        """``data`` as a JSON object; lone UTF-16 surrogate escapes read as U+FFFD."""
        try:
            try:
                obj = self._any(data)
            except msgspec.DecodeError:
                repaired = replace_lone_surrogates(data)
                if repaired is None:
                    raise
                obj = self._any(repaired)
        except RecursionError:
            raise StreamError(f"JSON nested too deeply in SSE frame: {_snippet(data)!r}") from None
        except (msgspec.DecodeError, UnicodeDecodeError):
            raise StreamError(f"malformed JSON in SSE frame: {_snippet(data)!r}") from None
        if not isinstance(obj, dict):
            raise StreamError(f"SSE frame data is not a JSON object: {_snippet(data)!r}")
        return obj

    def decode_frames(
        self, names: list[bytes], datas: list[bytes], out: MutableSequence[StreamEvent]
    ) -> bool:
        """Decode frames (parallel name and data lists) into ``out``; True once a terminal is in.

        The result is that of `decode` frame by frame: keep-alives are dropped,
        nothing after the first terminal event is decoded, and a bad frame raises
        only after the events before it are in ``out``.
        """
        return self._batch(datas, names, self._names, out)

    def decode_run(
        self, heads: list[bytes], datas: list[bytes], out: MutableSequence[StreamEvent]
    ) -> bool:
        """`decode_frames` for the bulk route: ``heads`` are the frames' ``event: `` lines."""
        return self._batch(datas, heads, self._heads, out)

    def _batch(
        self, datas: list[bytes], keys: list[bytes], kind: _Keys, out: MutableSequence[StreamEvent]
    ) -> bool:
        """One ``map`` over msgspec per stretch of frames; ``keys[i][kind.cut:]`` is frame i's name.

        A frame msgspec refuses (an unknown type, a foreign channel, bad data) ends
        the stretch: it goes to the exact route, and the next stretch starts after it.
        """
        start = 0
        stop = len(datas)
        while start < stop:
            events: list[Any] = []
            with suppress(*_DECODE_ERRORS):
                events.extend(map(self._one, islice(datas, start, stop)))
            if self._pass_on(events, keys, kind, datas, start, out):
                return True
            start += len(events)
            if start < stop:
                if self._append(self._refused(datas[start], keys[start][kind.cut :]), out):
                    return True
                start += 1
        return False

    def _pass_on(
        self,
        events: list[Any],
        keys: list[bytes],
        kind: _Keys,
        datas: list[bytes],
        start: int,
        out: MutableSequence[StreamEvent],
    ) -> bool:
        """Move events decoded from ``datas[start:]`` to ``out``, each as `decode` would.

        Events whose (class, key) pair is plain pass in slices; the others (terminal
        events, keep-alives, names that differ from the class's channel) go through
        `_screened` one by one. The common case, every frame named after its event's
        channel, is one list comparison.
        """
        stop = start + len(events)
        if list(map(kind.named.get, map(type, events))) == keys[start:stop]:
            out.extend(events)
            return False
        plain = kind.plain
        pairs = set(zip(map(type, events), islice(keys, start, stop), strict=True))
        if pairs <= plain:
            out.extend(events)
            return False
        kinds = list(map(type, events))
        suspects = {cls for cls, key in pairs if (cls, key) not in plain}
        done = 0
        for at in sorted(at for cls in suspects for at in _positions(kinds, cls)):
            index = start + at
            if (kinds[at], keys[index]) in plain:
                continue
            out.extend(events[done:at])
            done = at + 1
            name = keys[index][kind.cut :]
            if self._append(self._screened(events[at], datas[index], name), out):
                return True
        out.extend(events[done:])
        return False

    @staticmethod
    def _append(event: StreamEvent | None, out: MutableSequence[StreamEvent]) -> bool:
        if event is None:
            return False
        out.append(event)
        return event.terminal

    def decode_frame(self, data: bytes, head: bytes, out: MutableSequence[StreamEvent]) -> bool:
        """Decode one frame (``head`` its ``event: `` line) into ``out``; True if terminal."""
        try:
            event = self._one(data)
        except _DECODE_ERRORS:
            return self._append(self._refused(data, head[_EVENT_CUT:]), out)
        if (type(event), head) in self._heads.plain:
            out.append(event)
            return False
        return self._append(self._screened(event, data, head[_EVENT_CUT:]), out)


def _positions(items: list[Any], key: Any) -> Iterator[int]:
    """Every index of ``key`` in ``items``, by C-level search."""
    index = -1
    while True:
        try:
            index = items.index(key, index + 1)
        except ValueError:
            return
        yield index


DEFAULT_DECODER = EventDecoder()
"""The decoder for the SDK's own event types, used by the module-level functions."""


def decode_event(data: bytes, event_name: bytes = b"") -> StreamEvent | None:
    """`EventDecoder.decode` with the SDK's event types."""
    return DEFAULT_DECODER.decode(data, event_name)


class EventRegistry:
    """The event types one client, and the clients ``with_options`` derives from it, decode."""

    __slots__ = ("decoder",)

    def __init__(self) -> None:
        self.decoder: EventDecoder = DEFAULT_DECODER
        """The decoder for the known events plus every registered type."""

    def register(self, *event_types: type[Event]) -> None:
        """Decode ``event_types`` too (each an `Event` subclass with a unique tag)."""
        self.decoder = EventDecoder(extra=(*self.decoder.extra, *event_types))
