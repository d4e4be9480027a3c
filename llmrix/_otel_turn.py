"""Spans and metrics of chat turns, in the OpenTelemetry GenAI conventions.

Imported only when the OpenTelemetry API is installed (see `llmrix._otel`).
A `Turn` watches one `ChatStream` from outside, through the three callables the
stream is built with (connect, stop, decide): each request it sends is one
``invoke_agent`` CLIENT span (`_Call`), and the events read from the wire, seen
through `ObservedSource`, open and close the ``execute_tool`` and sub-agent
spans under it. A call ends exactly once, on whichever exit comes first: a
terminal event, the stream ending (a pause, or cut off), a read failing, the
stream closed, or the stream garbage-collected (a finalizer).
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, cast

import msgspec
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode, Tracer

from . import _otel_names as n
from ._version import __version__
from .events import (
    CancelledEvent,
    ErrorEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    RunEndEvent,
    RunStartEvent,
    StreamEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
)
from .models import ChatRequest, HitlDecision
from .snapshot import _open_key as open_key

if TYPE_CHECKING:
    from yarl import URL

    from ._eventsource import EventSource

__all__ = ["ObservedSource", "Telemetry", "Turn"]

Connect = Callable[[ChatRequest], Awaitable["EventSource"]]
_PAUSES_KEPT = 1024
"""Paused turns remembered per client, so that a resume links to its pause."""


class Telemetry:
    """One client's tracer, instruments and settings."""

    def __init__(
        self,
        base_url: URL,
        *,
        tracer_provider: Any,
        meter_provider: Any,
        capture_content: bool,
    ) -> None:
        self.tracer: Tracer = trace.get_tracer(
            n.INSTRUMENTATION, __version__, tracer_provider=tracer_provider
        )
        meter = metrics.get_meter(n.INSTRUMENTATION, __version__, meter_provider=meter_provider)
        self._meter_given = meter_provider is not None
        self.capture: bool = capture_content
        self.common: dict[str, str | int] = {n.PROVIDER_NAME: n.PROVIDER}
        if base_url.host:
            self.common[n.SERVER_ADDRESS] = base_url.host
            if base_url.port is not None:
                self.common[n.SERVER_PORT] = base_url.port
        self.duration: Histogram = meter.create_histogram(
            n.OPERATION_DURATION,
            "s",
            "Duration of each chat turn request, to its end however it came",
            explicit_bucket_boundaries_advisory=n.DURATION_BUCKETS,
        )
        self.first_chunk: Histogram = meter.create_histogram(
            n.TIME_TO_FIRST_CHUNK,
            "s",
            "Time from sending a chat turn request to its first event",
            explicit_bucket_boundaries_advisory=n.DURATION_BUCKETS,
        )
        self.tool_duration: Histogram = meter.create_histogram(
            n.TOOL_DURATION,
            "s",
            "Duration of each tool call seen in a stream, start event to end event",
            explicit_bucket_boundaries_advisory=n.DURATION_BUCKETS,
        )
        self.runs: Counter = meter.create_counter(
            n.RUNS, "{run}", "Chat turn requests by how they ended"
        )
        self.tool_calls: Counter = meter.create_counter(
            n.TOOL_CALLS, "{tool_call}", "Tool calls ended"
        )
        self.interrupts: Counter = meter.create_counter(
            n.INTERRUPTS, "{interrupt}", "Actions a run paused on for a human decision"
        )
        self._pauses: OrderedDict[str, SpanContext] = OrderedDict()

    def inject(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` plus the current trace context (W3C ``traceparent``...), as configured."""
        carrier = dict(headers)
        propagate.inject(carrier)
        return carrier

    def metrics_live(self) -> bool:
        """Whether a meter provider with an SDK behind it may be listening."""
        if self._meter_given:
            return True
        provider = metrics.get_meter_provider()
        return type(provider).__name__ not in ("_ProxyMeterProvider", "NoOpMeterProvider")

    def turn(
        self,
        conversation_id: str,
        *,
        connect: Connect,
        stop: Callable[[], Awaitable[None]],
        decide: Callable[[Sequence[HitlDecision]], Awaitable[None]],
    ) -> Turn:
        """A watcher for one `ChatStream`, wrapping the callables it is built with."""
        return Turn(self, conversation_id, connect, stop, decide)

    def remember_pause(self, conversation_id: str, span: SpanContext) -> None:
        pauses = self._pauses
        pauses[conversation_id] = span
        pauses.move_to_end(conversation_id)
        if len(pauses) > _PAUSES_KEPT:
            pauses.popitem(last=False)

    def take_pause(self, conversation_id: str) -> SpanContext | None:
        return self._pauses.pop(conversation_id, None)


class Turn:
    """One `ChatStream`: its requests' spans, stop and decisions as span events."""

    def __init__(
        self,
        telemetry: Telemetry,
        conversation_id: str,
        connect: Connect,
        stop: Callable[[], Awaitable[None]],
        decide: Callable[[Sequence[HitlDecision]], Awaitable[None]],
    ) -> None:
        self._telemetry = telemetry
        self._conversation_id = conversation_id
        self._connect = connect
        self._stop = stop
        self._decide = decide
        self._call: _Call | None = None

    async def connect(self, request: ChatRequest) -> EventSource:
        """Send a request of the turn inside its new span; watch the stream it opens."""
        if self._call is not None:
            self._call.finish(n.Outcome.ABANDONED)
        call = self._call = _Call(self._telemetry, self._conversation_id, request)
        token = context.attach(trace.set_span_in_context(call.span))
        try:
            source = await self._connect(request)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            context.detach(token)
        if not call.observed:
            return source
        return cast("EventSource", ObservedSource(source, call))

    async def stop(self) -> None:
        """``stop()`` as a span event; the request carries the turn's trace context."""
        call = self._call
        if call is None or call.ended:
            await self._stop()
            return
        call.span.add_event(n.EVENT_STOP)
        with _current(call.span):
            await self._stop()

    async def decide(self, decisions: Sequence[HitlDecision]) -> None:
        """Decisions on an open stream as span events; sent in the turn's trace context."""
        call = self._call
        if call is None or call.ended:
            await self._decide(decisions)
            return
        call.decided(decisions)
        with _current(call.span):
            await self._decide(decisions)


class ObservedSource:
    """An `EventSource` seen by its `_Call`: every batch, the end, failures, closing."""

    __slots__ = ("__weakref__", "_call", "_source")

    def __init__(self, source: EventSource, call: _Call) -> None:
        self._source = source
        self._call = call
        weakref.finalize(self, call.finish, n.Outcome.ABANDONED)

    @property
    def headers(self) -> Mapping[str, str]:
        return self._source.headers

    @property
    def saw_terminal(self) -> bool:
        return self._source.saw_terminal

    async def next_batch(self) -> list[StreamEvent]:
        try:
            events = await self._source.next_batch()
        except BaseException as exc:
            self._call.fail(exc)
            raise
        if events:
            self._call.saw(events)
        else:
            self._call.over()
        return events

    async def rest_if_ended(self, grace: float) -> list[StreamEvent] | None:
        try:
            rest = await self._source.rest_if_ended(grace)
        except BaseException as exc:
            self._call.fail(exc)
            raise
        if rest is not None:
            if rest:
                self._call.saw(rest)
            self._call.over()
        return rest

    def close(self) -> None:
        self._source.close()
        self._call.finish(n.Outcome.ABANDONED)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


class _Call:
    """One request of a turn: its span, the tool and sub-agent spans open under it."""

    def __init__(self, telemetry: Telemetry, conversation_id: str, request: ChatRequest) -> None:
        self.telemetry = telemetry
        self.conversation_id = conversation_id
        self.ended = False
        self.metric_attributes: dict[str, str | int] = {
            **telemetry.common,
            n.OPERATION_NAME: n.INVOKE_AGENT,
        }
        if request.model:
            self.metric_attributes[n.REQUEST_MODEL] = request.model
        attributes: dict[str, Any] = {**self.metric_attributes, n.CONVERSATION_ID: conversation_id}
        if request.agent_id:
            attributes[n.AGENT_ID] = request.agent_id
        if telemetry.capture and request.message:
            attributes[n.INPUT_MESSAGES] = _messages("user", request.message)
        links: list[Link] = []
        if request.hitl_decisions:
            paused = telemetry.take_pause(conversation_id)
            if paused is not None:
                links.append(Link(paused))
        self.span: Span = telemetry.tracer.start_span(
            n.INVOKE_AGENT, kind=SpanKind.CLIENT, attributes=attributes, links=links
        )
        self.started = time.monotonic()
        self.observed = self.span.is_recording() or telemetry.metrics_live()
        self.first_chunk_seen = False
        self.interrupted = False
        self.text: list[str] = []
        self.tools: dict[str, tuple[Span, float, str]] = {}
        self.subagents: dict[str, Span] = {}
        if request.hitl_decisions:
            self.decided(request.hitl_decisions)

    def decided(self, decisions: Sequence[HitlDecision]) -> None:
        capture = self.telemetry.capture
        for decision in decisions:
            attributes: dict[str, str] = {n.HITL_DECISION: decision.decision}
            if capture and decision.reason:
                attributes[n.HITL_REASON] = decision.reason
            if capture and decision.modified_args is not None:
                attributes[n.HITL_MODIFIED_ARGS] = _json(decision.modified_args)
            self.span.add_event(n.EVENT_DECISION, attributes)

    def saw(self, events: list[StreamEvent]) -> None:
        """Events read from the wire, in order."""
        if self.ended:
            return
        if not self.first_chunk_seen:
            self.first_chunk_seen = True
            self.telemetry.first_chunk.record(
                time.monotonic() - self.started, self.metric_attributes
            )
        if set(map(type, events)) == {MessageChunkEvent}:
            if self.telemetry.capture:
                chunks = cast("list[MessageChunkEvent]", events)
                self.text.append("".join([event.content for event in chunks]))
            self.interrupted = False
            return
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)
            if self.ended:
                return
        self.interrupted = type(events[-1]) is HitlInterruptEvent

    def over(self) -> None:
        """The stream ended: at an interrupt that is a pause, otherwise it was cut off."""
        if self.interrupted:
            self.finish(n.Outcome.PAUSED)
        else:
            self.finish(n.Outcome.FAILED, "StreamError", "stream ended before the run finished")

    def fail(self, exc: BaseException) -> None:
        """A read or the request raised ``exc``."""
        if isinstance(exc, Exception):
            self.finish(n.Outcome.FAILED, type(exc).__qualname__, str(exc))
        else:
            self.finish(n.Outcome.ABANDONED)

    def finish(self, outcome: str, error_type: str | None = None, why: str = "") -> None:
        """End the call's span (and any left open under it); later calls do nothing."""
        if self.ended:
            return
        self.ended = True
        if outcome == n.Outcome.ABANDONED and self.interrupted:
            outcome = n.Outcome.PAUSED
        span = self.span
        for tool, _, _ in self.tools.values():
            tool.set_attribute(n.INCOMPLETE, True)
            tool.end()
        for agent in reversed(self.subagents.values()):
            agent.set_attribute(n.INCOMPLETE, True)
            agent.end()
        self.tools.clear()
        self.subagents.clear()
        span.set_attribute(n.RUN_OUTCOME, outcome)
        metric_attributes = self.metric_attributes
        if error_type is not None:
            span.set_attribute(n.ERROR_TYPE, error_type)
            span.set_status(Status(StatusCode.ERROR, why or None))
            metric_attributes = {**metric_attributes, n.ERROR_TYPE: error_type}
        if outcome in (n.Outcome.FINISHED, n.Outcome.FAILED):
            span.set_attribute(n.FINISH_REASONS, ["stop" if error_type is None else "error"])
        if self.telemetry.capture and self.text:
            span.set_attribute(n.OUTPUT_MESSAGES, _messages("assistant", "".join(self.text)))
        span.end()
        telemetry = self.telemetry
        telemetry.duration.record(time.monotonic() - self.started, metric_attributes)
        telemetry.runs.add(1, {**metric_attributes, n.RUN_OUTCOME: outcome})
        if outcome == n.Outcome.PAUSED:
            telemetry.remember_pause(self.conversation_id, span.get_span_context())

    def _parent(self, parent_ids: list[str]) -> Span:
        """The innermost open sub-agent the event names as a parent, else the call's span."""
        for parent_id in reversed(parent_ids):
            agent = self.subagents.get(parent_id)
            if agent is not None:
                return agent
        return self.span

    def _child(self, name: str, parent_ids: list[str], attributes: dict[str, Any]) -> Span:
        return self.telemetry.tracer.start_span(
            name,
            context=trace.set_span_in_context(self._parent(parent_ids)),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )

    def _run_start(self, event: RunStartEvent) -> None:
        if event.run_id:
            self.span.set_attribute(n.RUN_ID, event.run_id)

    def _run_end(self, event: RunEndEvent) -> None:
        self._run_start(cast("RunStartEvent", event))
        self.finish(n.Outcome.FINISHED)

    def _error(self, event: ErrorEvent) -> None:
        self.finish(n.Outcome.FAILED, event.error_code or n.ERROR_OTHER, event.message)

    def _cancelled(self, event: CancelledEvent) -> None:
        self.finish(n.Outcome.CANCELLED)

    def _chunk(self, event: MessageChunkEvent) -> None:
        if self.telemetry.capture:
            self.text.append(event.content)

    def _tool_start(self, event: ToolStartEvent) -> None:
        self._open_tool(event.name, event.call_id, event.parent_ids, event.arguments)

    def _open_tool(self, name: str, call_id: str, parent_ids: list[str], arguments: Any) -> None:
        attributes: dict[str, Any] = {n.OPERATION_NAME: n.EXECUTE_TOOL, n.TOOL_NAME: name}
        if call_id:
            attributes[n.TOOL_CALL_ID] = call_id
        if self.telemetry.capture and arguments is not None:
            attributes[n.TOOL_CALL_ARGUMENTS] = _json(arguments)
        span = self._child(f"{n.EXECUTE_TOOL} {name}".rstrip(), parent_ids, attributes)
        self.tools[open_key(call_id, name)] = (span, time.monotonic(), name)

    def _tool_end(self, event: ToolEndEvent) -> None:
        key = open_key(event.call_id, event.name)
        if key not in self.tools:
            self._open_tool(event.name, event.call_id, event.parent_ids, None)
        span, started, name = self.tools.pop(key)
        if self.telemetry.capture:
            span.set_attribute(n.TOOL_CALL_RESULT, _json(event.result))
        attributes: dict[str, str | int] = {
            **self.telemetry.common,
            n.OPERATION_NAME: n.EXECUTE_TOOL,
            n.TOOL_NAME: name or event.name,
        }
        if event.is_error:
            span.set_attribute(n.ERROR_TYPE, n.TOOL_ERROR)
            span.set_status(Status(StatusCode.ERROR))
            attributes[n.ERROR_TYPE] = n.TOOL_ERROR
        span.end()
        self.telemetry.tool_duration.record(time.monotonic() - started, attributes)
        self.telemetry.tool_calls.add(1, attributes)

    def _subagent_start(self, event: SubagentStartEvent) -> None:
        self._open_subagent(event.agent, event.call_id, event.parent_ids, event.arguments)

    def _open_subagent(self, agent: str, call_id: str, parent_ids: list[str], task: Any) -> None:
        attributes: dict[str, Any] = {
            n.OPERATION_NAME: n.INVOKE_AGENT,
            n.PROVIDER_NAME: n.PROVIDER,
            n.AGENT_NAME: agent,
        }
        if call_id:
            attributes[n.SUBAGENT_CALL_ID] = call_id
        if self.telemetry.capture and task:
            attributes[n.INPUT_MESSAGES] = _messages("user", _text(task))
        span = self._child(f"{n.INVOKE_AGENT} {agent}".rstrip(), parent_ids, attributes)
        self.subagents[open_key(call_id, agent)] = span

    def _subagent_end(self, event: SubagentEndEvent) -> None:
        key = open_key(event.call_id, event.agent)
        if key not in self.subagents:
            self._open_subagent(event.agent, event.call_id, event.parent_ids, None)
        span = self.subagents.pop(key)
        if self.telemetry.capture and event.result:
            span.set_attribute(n.OUTPUT_MESSAGES, _messages("assistant", _text(event.result)))
        if event.is_error:
            span.set_attribute(n.ERROR_TYPE, n.SUBAGENT_ERROR)
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def _interrupt(self, event: HitlInterruptEvent) -> None:
        names = [request.name for request in event.action_requests] or [event.action_name]
        attributes: dict[str, Any] = {n.HITL_ACTION_NAMES: names}
        if event.id:
            attributes[n.HITL_INTERRUPT_ID] = event.id
        if self.telemetry.capture:
            attributes[n.HITL_DESCRIPTION] = event.description
            requests = event.action_requests
            arguments = [r.args for r in requests] if requests else [event.action_args]
            attributes[n.HITL_ARGUMENTS] = _json(arguments)
        self.span.add_event(n.EVENT_INTERRUPT, attributes)
        for name in names:
            self.telemetry.interrupts.add(1, {**self.telemetry.common, n.HITL_ACTION_NAME: name})


_HANDLERS: dict[type, Callable[[_Call, Any], None]] = {
    RunStartEvent: _Call._run_start,
    RunEndEvent: _Call._run_end,
    ErrorEvent: _Call._error,
    CancelledEvent: _Call._cancelled,
    MessageChunkEvent: _Call._chunk,
    ToolStartEvent: _Call._tool_start,
    ToolEndEvent: _Call._tool_end,
    SubagentStartEvent: _Call._subagent_start,
    SubagentEndEvent: _Call._subagent_end,
    HitlInterruptEvent: _Call._interrupt,
}

_encoder = msgspec.json.Encoder()


def _current(span: Span) -> AbstractContextManager[Span]:
    """``span`` current for a request of its turn (a failure there is not the run's)."""
    return trace.use_span(
        span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    )


def _json(value: object) -> str:
    """A free-form value as JSON text (its ``repr`` if it cannot be encoded)."""
    try:
        return _encoder.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        return repr(value)


def _text(value: object) -> str:
    return value if isinstance(value, str) else _json(value)


def _messages(role: str, text: str) -> str:
    """One text message in the conventions' input/output message JSON."""
    return _json([{"role": role, "parts": [{"type": "text", "content": text}]}])
