"""Typed stream events: one msgspec tagged union on the JSON ``type`` field.

Both event shapes of the protocol decode into the same classes: the primary
(Rust/Go/Python) fields and the TypeScript variant's fields live side by side,
each with a default. Unknown fields are ignored; an unknown ``type`` becomes an
`UnknownEvent` holding the raw object.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableSequence
from itertools import islice
from operator import attrgetter
from typing import Any, ClassVar, get_args

import msgspec

from ._json import replace_lone_surrogates
from ._nulls import convert_lenient
from .errors import StreamError

__all__ = [
    "ActionRequest",
    "CancelledEvent",
    "ErrorEvent",
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


class _Event(msgspec.Struct, tag_field="type", kw_only=True, gc=False):
    """Base of the known events; ``type`` is the wire tag.

    Events are not tracked by the cycle collector (``gc=False``: about 10% faster
    decoding); do not make an event part of a reference cycle.
    """

    terminal: ClassVar[bool] = False

    @property
    def type(self) -> str:
        """The event's ``type`` on the wire."""
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return tag


class RunStartEvent(_Event, tag="run_start"):
    """A run began."""

    channel: str = "lifecycle"
    run_id: str = ""
    thread_id: str = ""


class RunEndEvent(_Event, tag="run_end"):
    """The run finished normally (terminal)."""

    terminal: ClassVar[bool] = True
    channel: str = "lifecycle"
    run_id: str = ""
    thread_id: str = ""


class MessageChunkEvent(_Event, tag="message_chunk"):
    """A piece of assistant text; concatenate ``content`` in order."""

    channel: str = "messages"
    content: str = ""
    id: str = ""
    run_id: str = ""


class ToolStartEvent(_Event, tag="tool_start"):
    """A tool call began (``args``; TypeScript servers: ``tool_call_id``/``input``)."""

    channel: str = "tools"
    id: str = ""
    name: str = ""
    args: dict[str, Any] = {}
    tool_call_id: str = ""
    input: Any = None
    parent_ids: list[str] = []


class ToolEndEvent(_Event, tag="tool_end"):
    """A tool call ended (``result``; TypeScript servers: ``output``)."""

    channel: str = "tools"
    id: str = ""
    name: str = ""
    result: str = ""
    error: bool = False
    tool_call_id: str = ""
    output: Any = None
    parent_ids: list[str] = []


class SubagentStartEvent(_Event, tag="subagent_start"):
    """A sub-agent began working."""

    channel: str = "tools"
    id: str = ""
    agent_name: str = ""
    tool_call_id: str = ""
    name: str = ""
    input: Any = None
    parent_ids: list[str] = []


class SubagentEndEvent(_Event, tag="subagent_end"):
    """A sub-agent finished."""

    channel: str = "tools"
    id: str = ""
    agent_name: str = ""
    error: bool = False
    tool_call_id: str = ""
    name: str = ""
    output: Any = None
    parent_ids: list[str] = []


class ActionRequest(msgspec.Struct, kw_only=True, gc=False):
    """One action awaiting a decision (TypeScript interrupt shape)."""

    name: str = ""
    args: dict[str, Any] = {}
    description: str = ""
    decisions: list[str] = []


class HitlInterruptEvent(_Event, tag="hitl_interrupt"):
    """The run paused for a human decision; answer with ``decide()``."""

    channel: str = "hitl"
    id: str = ""
    action_name: str = ""
    action_args: dict[str, Any] = {}
    description: str = ""
    action_requests: list[ActionRequest] = []


class ErrorEvent(_Event, tag="error"):
    """The run failed (terminal)."""

    terminal: ClassVar[bool] = True
    channel: str = "error"
    message: str = ""
    error_code: str = ""


class CancelledEvent(_Event, tag="cancelled"):
    """The run was stopped (terminal)."""

    terminal: ClassVar[bool] = True
    channel: str = "error"
    reason: str = ""
    message: str = ""


class HeartbeatEvent(_Event, tag=""):
    """Keep-alive. The SDK drops it; it never reaches the caller's loop."""

    channel: str = "heartbeat"


class RubricStartEvent(_Event, tag="rubric_evaluation_start"):
    """A rubric evaluation began (TypeScript servers)."""

    channel: str = "rubric"
    iteration: int = 0
    grading_run_id: str = ""


class RubricEndEvent(_Event, tag="rubric_evaluation_end"):
    """A rubric evaluation ended (TypeScript servers)."""

    channel: str = "rubric"
    iteration: int = 0
    result: Any = None
    explanation: str = ""


class UnknownEvent(msgspec.Struct, kw_only=True):
    """An event whose channel/type this SDK does not know; ``data`` is the raw object."""

    terminal: ClassVar[bool] = False
    channel: str = ""
    type: str = ""
    data: dict[str, Any] = {}


KnownEvent = (
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
    | HeartbeatEvent
    | RubricStartEvent
    | RubricEndEvent
)

StreamEvent = KnownEvent | UnknownEvent
"""Everything ``async for event in stream`` can yield (heartbeats excepted)."""

_KNOWN_TYPES = frozenset(cls.__struct_config__.tag for cls in get_args(KnownEvent))
_LOOK_CLOSER = frozenset(cls for cls in get_args(KnownEvent) if cls.terminal) | {HeartbeatEvent}
"""Event classes that a batch cannot pass on as they are: terminal events and heartbeats."""
_channel_of = attrgetter("channel")
_decoder: msgspec.json.Decoder[KnownEvent] = msgspec.json.Decoder(KnownEvent)
_any_decoder = msgspec.json.Decoder()
_SNIPPET = 200


def _snippet(data: bytes) -> str:
    text = data[:_SNIPPET].decode("utf-8", "replace")
    return text + "..." if len(data) > _SNIPPET else text


def decode_event(data: bytes, event_name: bytes = b"") -> StreamEvent | None:
    """Decode one frame's data into an event; ``None`` means a keep-alive.

    Keep-alives: an ``event: heartbeat`` frame, the data ``:ping``, empty data,
    and any object on the ``heartbeat`` channel. Raises `StreamError`
    for data that is not a JSON object or whose fields have the wrong types.
    """
    if event_name == b"heartbeat" or data == b":ping":
        return None
    try:
        event = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        repaired = replace_lone_surrogates(data)
        if repaired is not None:
            return decode_event(repaired, event_name)
        return _decode_slow(data, event_name, exc)
    except (msgspec.ValidationError, UnicodeDecodeError) as exc:
        return _decode_slow(data, event_name, exc)
    except RecursionError:
        raise StreamError(f"JSON nested too deeply in SSE frame: {_snippet(data)!r}") from None
    return _screened(event, data, event_name)


def _screened(event: StreamEvent, data: bytes, event_name: bytes) -> StreamEvent | None:
    """A decoded event as the caller gets it: keep-alives dropped, a stray empty type unknown."""
    if event.channel == "heartbeat":
        return None
    if type(event) is HeartbeatEvent:
        return _decode_slow(data, event_name, None)
    return event


def _decode_slow(data: bytes, event_name: bytes, exc: Exception | None) -> StreamEvent | None:
    if not data.strip():
        return None
    try:
        obj = _any_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise StreamError(f"malformed JSON in SSE frame: {_snippet(data)!r}") from None
    except RecursionError:
        raise StreamError(f"JSON nested too deeply in SSE frame: {_snippet(data)!r}") from None
    if not isinstance(obj, dict):
        raise StreamError(f"SSE frame data is not a JSON object: {_snippet(data)!r}")
    kind = obj.get("type") or ""
    channel = obj.get("channel") or event_name.decode("utf-8", "replace")
    if channel == "heartbeat":
        return None
    if not isinstance(kind, str) or not isinstance(channel, str):
        raise StreamError(f"SSE frame has a non-string channel or type: {_snippet(data)!r}")
    if kind and kind in _KNOWN_TYPES:
        if None in obj.values() or b"null" in data:
            try:
                event: KnownEvent = convert_lenient(obj, KnownEvent)
            except msgspec.ValidationError:
                pass
            else:
                return event
        raise StreamError(f"invalid {kind!r} event ({exc}): {_snippet(data)!r}") from None
    return UnknownEvent(channel=channel, type=kind, data=obj)


def decode_frames(
    names: list[bytes], datas: list[bytes], out: MutableSequence[StreamEvent]
) -> bool:
    """Decode frames (parallel name and data lists) into ``out``; True once a terminal is in.

    The result is that of `decode_event` frame by frame: keep-alives are
    dropped, nothing after the first terminal event is decoded, and a bad frame
    raises only after the events before it are in ``out``. Runs of frames are
    decoded with one ``map`` call over msgspec.
    """
    if b"heartbeat" not in names and b":ping" not in datas:
        return _decode_run(names, datas, 0, len(datas), out)
    start = 0
    for stop in sorted({*_positions(names, b"heartbeat"), *_positions(datas, b":ping")}):
        if _decode_run(names, datas, start, stop, out):
            return True
        start = stop + 1
    return _decode_run(names, datas, start, len(datas), out)


def _positions(frames: list[bytes], key: bytes) -> Iterator[int]:
    """Every index of ``key`` in ``frames``, in one pass."""
    index = -1
    while True:
        try:
            index = frames.index(key, index + 1)
        except ValueError:
            return
        yield index


def _decode_run(
    names: list[bytes], datas: list[bytes], start: int, stop: int, out: MutableSequence[StreamEvent]
) -> bool:
    """Decode ``datas[start:stop]`` (no keep-alive frames among them) into ``out``."""
    while start < stop:
        events: list[StreamEvent] = []
        try:
            events.extend(map(_decoder.decode, islice(datas, start, stop)))
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
            failed = True
        else:
            failed = False
        if _LOOK_CLOSER.isdisjoint(map(type, events)) and "heartbeat" not in map(
            _channel_of, events
        ):
            out.extend(events)
        elif _pass_on(events, names, datas, start, out):
            return True
        start += len(events)
        if failed:
            event = decode_event(datas[start], names[start])
            start += 1
            if event is not None:
                out.append(event)
                if event.terminal:
                    return True
    return False


def _pass_on(
    events: list[StreamEvent],
    names: list[bytes],
    datas: list[bytes],
    start: int,
    out: MutableSequence[StreamEvent],
) -> bool:
    """Move the events decoded from ``datas[start:]`` to ``out``, as `decode_event` would."""
    for index, decoded in enumerate(events, start):
        event = _screened(decoded, datas[index], names[index])
        if event is None:
            continue
        out.append(event)
        if event.terminal:
            return True
    return False
