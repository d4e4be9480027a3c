"""Typed stream events: one msgspec tagged union on the JSON ``type`` field.

Both event shapes of the protocol decode into the same classes: the primary
(Rust/Go/Python) fields and the TypeScript variant's fields live side by side,
each with a default, and shape-neutral properties (``call_id``, ``arguments``,
``result``, ``requests``, ...) read whichever was sent. Unknown fields are
ignored. An event is its ``channel`` and ``type`` together: an unknown pair
becomes an `UnknownEvent` holding the raw object.

Your own event types subclass `Event` with a tag; `llmrix.decoding.EventDecoder`
(or ``client.register_event``) decodes them::

    class AuditEvent(Event, tag="audit_log"):
        user: str = ""
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

import msgspec

__all__ = [
    "KNOWN_EVENTS",
    "ActionRequest",
    "CancelledEvent",
    "ErrorEvent",
    "Event",
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
