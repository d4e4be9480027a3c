"""Typed stream events: one msgspec tagged union on the JSON ``type`` field.

Both event shapes of the protocol decode into the same classes: the primary
(Rust/Go/Python) fields and the TypeScript variant's fields live side by side,
each with a default, and shape-neutral properties (``call_id``, ``arguments``,
``result``, ``requests``, ...) read whichever was sent. Unknown fields are
ignored. An event is its ``channel`` and ``type`` together: an unknown pair
becomes an `UnknownEvent` holding the raw object.

Your own event types subclass `Event` with a tag and go to an `EventDecoder`::

    class AuditEvent(Event, tag="audit_log"):
        user: str = ""

    decoder = EventDecoder(extra=(AuditEvent,))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSequence
from contextlib import suppress
from itertools import islice
from typing import Any, ClassVar, Literal, NamedTuple, get_args

import msgspec

from ._json import replace_lone_surrogates
from ._nulls import convert_lenient
from .errors import StreamError

__all__ = [
    "DEFAULT_DECODER",
    "ActionRequest",
    "CancelledEvent",
    "ErrorEvent",
    "Event",
    "EventDecoder",
    "HeartbeatEvent",
    "HitlInterruptEvent",
    "MessageChunkEvent",
    "RubricEndEvent",
    "RubricStartEvent",
    "RunEndEvent",
    "RunStartEvent",
    "StreamEvent",
    "SubagentEndEvent",
    "SubagentStartEvent",
    "ToolEndEvent",
    "ToolStartEvent",
    "UnknownEvent",
    "decode_event",
    "decode_frames",
]


class Event(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    """Base of every typed event, the SDK's and your own; ``type`` is the wire tag.

    Subclass it with a ``tag`` to define an event of your own, and hand the
    class to an `EventDecoder` (the client's ``register_event``). Your events
    are identified by their ``type`` alone, unless the class pins its channel
    like the SDK's events do, ``channel: Literal["audit"] = "audit"``: then a
    frame on another channel (JSON ``channel``, else the ``event:`` name) is an
    `UnknownEvent`.

    Events are not tracked by the cycle collector (``gc=False``: about 10% faster
    decoding); do not make an event part of a reference cycle.
    """

    terminal: ClassVar[bool] = False
    """True for the events that end a run."""

    @property
    def type(self) -> str:
        """The event's ``type`` on the wire."""
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return tag


class RunStartEvent(Event, tag="run_start"):
    """A run began."""

    channel: Literal["lifecycle"] = "lifecycle"
    run_id: str = ""
    thread_id: str = ""


class RunEndEvent(Event, tag="run_end"):
    """The run finished normally (terminal)."""

    terminal: ClassVar[bool] = True
    channel: Literal["lifecycle"] = "lifecycle"
    run_id: str = ""
    thread_id: str = ""


class MessageChunkEvent(Event, tag="message_chunk"):
    """A piece of assistant text; concatenate ``content`` in order."""

    channel: Literal["messages"] = "messages"
    content: str = ""
    id: str = ""
    run_id: str = ""


class _ToolCallEvent(Event):
    """Fields and accessors shared by the ``tools`` channel's events."""

    channel: Literal["tools"] = "tools"
    id: str = ""
    tool_call_id: str = ""
    parent_ids: list[str] = []

    @property
    def call_id(self) -> str:
        """The tool call's id (``id``, else the TypeScript ``tool_call_id``)."""
        return self.id or self.tool_call_id


class ToolStartEvent(_ToolCallEvent, tag="tool_start"):
    """A tool call began; read ``call_id`` and ``arguments`` whatever the shape.

    Wire fields: ``id``/``args`` (primary), ``tool_call_id``/``input`` (TypeScript).
    """

    name: str = ""
    args: Any = {}
    input: Any = None

    @property
    def arguments(self) -> Any:
        """The tool's arguments (``args``, else ``input``), any JSON value."""
        return _either(self.args, self.input, {})


class ToolEndEvent(_ToolCallEvent, tag="tool_end"):
    """A tool call ended; read ``call_id``, ``result`` and ``is_error`` whatever the shape.

    Wire fields: ``id``/``result`` (primary; the attribute is ``raw_result``),
    ``tool_call_id``/``output`` (TypeScript), ``error`` in both.
    """

    name: str = ""
    raw_result: Any = msgspec.field(default="", name="result")
    error: bool = False
    output: Any = None

    @property
    def result(self) -> Any:
        """What the tool returned (``result``, else ``output``; ``""`` if neither): any JSON."""
        return _either(self.raw_result, self.output, "")

    @property
    def is_error(self) -> bool:
        """Whether the tool failed."""
        return self.error


class _SubagentEvent(_ToolCallEvent):
    """Fields and accessors shared by the sub-agent events."""

    agent_name: str = ""
    name: str = ""

    @property
    def agent(self) -> str:
        """The sub-agent's name (``agent_name``, else the TypeScript ``name``)."""
        return self.agent_name or self.name


class SubagentStartEvent(_SubagentEvent, tag="subagent_start"):
    """A sub-agent began; read ``call_id``, ``agent`` and ``arguments`` whatever the shape."""

    input: Any = None

    @property
    def arguments(self) -> Any:
        """What the sub-agent was given (TypeScript ``input``; ``{}`` if not sent)."""
        return _either({}, self.input, {})


class SubagentEndEvent(_SubagentEvent, tag="subagent_end"):
    """A sub-agent finished; read ``call_id``, ``agent``, ``result`` and ``is_error``."""

    error: bool = False
    output: Any = None

    @property
    def result(self) -> Any:
        """What the sub-agent returned (TypeScript ``output``; ``""`` if not sent)."""
        return _either("", self.output, "")

    @property
    def is_error(self) -> bool:
        """Whether the sub-agent failed."""
        return self.error


class ActionRequest(msgspec.Struct, kw_only=True, gc=False):
    """One action awaiting a decision."""

    name: str = ""
    args: Any = {}
    description: str = ""
    decisions: list[str] = []


class HitlInterruptEvent(Event, tag="hitl_interrupt"):
    """The run paused for a human decision; answer with ``decide()``.

    ``requests`` lists the actions awaiting a decision whatever the shape: the
    TypeScript ``action_requests``, or one built from ``action_name``,
    ``action_args`` and ``description``.
    """

    channel: Literal["hitl"] = "hitl"
    id: str = ""
    action_name: str = ""
    action_args: Any = {}
    description: str = ""
    action_requests: list[ActionRequest] = []

    @property
    def requests(self) -> list[ActionRequest]:
        """The actions awaiting a decision, as `ActionRequest` values."""
        if self.action_requests:
            return list(self.action_requests)
        if self.action_name or self.action_args != {} or self.description:
            return [
                ActionRequest(
                    name=self.action_name, args=self.action_args, description=self.description
                )
            ]
        return []


class ErrorEvent(Event, tag="error"):
    """The run failed (terminal)."""

    terminal: ClassVar[bool] = True
    channel: Literal["error"] = "error"
    message: str = ""
    error_code: str = ""


class CancelledEvent(Event, tag="cancelled"):
    """The run was stopped (terminal); ``why`` reads ``reason`` or the TypeScript ``message``."""

    terminal: ClassVar[bool] = True
    channel: Literal["error"] = "error"
    reason: str = ""
    message: str = ""

    @property
    def why(self) -> str:
        """Why the run was stopped (``reason``, else ``message``)."""
        return self.reason or self.message


class HeartbeatEvent(Event, tag=""):
    """Keep-alive. The SDK drops it; it never reaches the caller's loop."""

    channel: Literal["heartbeat"] = "heartbeat"


class RubricStartEvent(Event, tag="rubric_evaluation_start"):
    """A rubric evaluation began (TypeScript servers)."""

    channel: Literal["rubric"] = "rubric"
    iteration: int = 0
    grading_run_id: str = ""


class RubricEndEvent(Event, tag="rubric_evaluation_end"):
    """A rubric evaluation ended (TypeScript servers)."""

    channel: Literal["rubric"] = "rubric"
    iteration: int = 0
    result: Any = None
    explanation: str = ""


class UnknownEvent(msgspec.Struct, kw_only=True):
    """An event whose channel/type pair this SDK does not know; ``data`` is the raw object."""

    terminal: ClassVar[bool] = False
    channel: str = ""
    type: str = ""
    data: dict[str, Any] = {}


def _either(primary: Any, variant: Any, default: Any) -> Any:
    """The first of ``primary``, ``variant`` that was sent (not null, not ``default``)."""
    if primary is not None and primary != default:
        return primary
    return default if variant is None else variant


StreamEvent = (
    RunStartEvent
    | RunEndEvent
    | MessageChunkEvent
    | ToolStartEvent
    | ToolEndEvent
    | SubagentStartEvent
    | SubagentEndEvent
    | HitlInterruptEvent
    | ErrorEvent
    | CancelledEvent
    | RubricStartEvent
    | RubricEndEvent
    | UnknownEvent
)
"""Everything ``async for event in stream`` yields (plus the event types you register)."""

KNOWN_EVENTS: tuple[type[Event], ...] = (
    *(cls for cls in get_args(StreamEvent) if cls is not UnknownEvent),
    HeartbeatEvent,
)
"""The SDK's event classes, the keep-alive included: the members of the decoded union."""

_SNIPPET = 200
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
            frozenset((cls, b"event: " + name) for cls, name in plain),
            {cls: b"event: " + name for cls, name in named.items()},
            7,
        )
        """Frames labelled by their ``event: `` line."""

    def decode(self, data: bytes, event_name: bytes = b"") -> StreamEvent | None:
        """Decode one frame's data into an event; ``None`` means a keep-alive.

        Keep-alives: an ``event: heartbeat`` frame, the data ``:ping``, empty data,
        and any object on the ``heartbeat`` channel. Raises `StreamError` for data
        that is not a JSON object or a known event whose fields have the wrong types.
        """
        if event_name == b"heartbeat" or data == b":ping":
            return None
        try:
            event = self._one(data)
        except _DECODE_ERRORS:
            return self._slow(data, event_name)
        return self._screened(event, data, event_name)

    def _refused(self, data: bytes, event_name: bytes) -> StreamEvent | None:
        """`decode` for data the typed decoder has just refused."""
        if event_name == b"heartbeat" or data == b":ping":
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
        if channel == "heartbeat":
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
            return self._append(self._refused(data, head[7:]), out)
        if (type(event), head) in self._heads.plain:
            out.append(event)
            return False
        return self._append(self._screened(event, data, head[7:]), out)


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


def decode_frames(
    names: list[bytes], datas: list[bytes], out: MutableSequence[StreamEvent]
) -> bool:
    """`EventDecoder.decode_frames` with the SDK's event types."""
    return DEFAULT_DECODER.decode_frames(names, datas, out)


class EventRegistry:
    """The event types one client, and the clients ``with_options`` derives from it, decode."""

    __slots__ = ("decoder",)

    def __init__(self) -> None:
        self.decoder: EventDecoder = DEFAULT_DECODER
        """The decoder for the known events plus every registered type."""

    def register(self, *event_types: type[Event]) -> None:
        """Decode ``event_types`` too (each an `Event` subclass with a unique tag)."""
        self.decoder = EventDecoder(extra=(*self.decoder.extra, *event_types))
