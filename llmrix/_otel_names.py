"""Every OpenTelemetry name llmrix emits, in one place.

The ``gen_ai.*``, ``server.*`` and ``error.*`` names follow the OpenTelemetry GenAI
semantic conventions (`SEMCONV`, status Development); the ``llmrix.*`` names cover
what those conventions leave unsaid. docs/observability.md lists them all.
"""

from __future__ import annotations

from typing import Final

SEMCONV: Final = "semantic-conventions-genai v0.1.0"
"""The revision of the conventions these names were checked against."""

INSTRUMENTATION: Final = "llmrix"
PROVIDER: Final = "llmrix"
"""``gen_ai.provider.name`` of every llmrix span and metric."""

# operations (gen_ai.operation.name) and span names
INVOKE_AGENT: Final = "invoke_agent"
EXECUTE_TOOL: Final = "execute_tool"

# attributes from the conventions
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
CONVERSATION_ID: Final = "gen_ai.conversation.id"
AGENT_ID: Final = "gen_ai.agent.id"
AGENT_NAME: Final = "gen_ai.agent.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
ERROR_OTHER: Final = "_OTHER"

# llmrix attributes (the conventions have none for these)
RUN_ID: Final = "llmrix.run.id"
RUN_OUTCOME: Final = "llmrix.run.outcome"
"""How a turn's request ended: see `Outcome`."""
INCOMPLETE: Final = "llmrix.incomplete"
"""On a tool or sub-agent span the turn ended before its end event came."""
SUBAGENT_CALL_ID: Final = "llmrix.subagent.call_id"
HITL_INTERRUPT_ID: Final = "llmrix.hitl.interrupt_id"
HITL_ACTION_NAMES: Final = "llmrix.hitl.action_names"
HITL_ACTION_NAME: Final = "llmrix.hitl.action_name"
HITL_DESCRIPTION: Final = "llmrix.hitl.description"
HITL_ARGUMENTS: Final = "llmrix.hitl.arguments"
HITL_DECISION: Final = "llmrix.hitl.decision"
HITL_REASON: Final = "llmrix.hitl.reason"
HITL_MODIFIED_ARGS: Final = "llmrix.hitl.modified_args"

# llmrix error.type values
TOOL_ERROR: Final = "tool_error"
SUBAGENT_ERROR: Final = "subagent_error"

# span events (llmrix)
EVENT_INTERRUPT: Final = "llmrix.hitl.interrupt"
EVENT_DECISION: Final = "llmrix.hitl.decision"
EVENT_STOP: Final = "llmrix.stop"

# metrics from the conventions
OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
TOOL_DURATION: Final = "gen_ai.execute_tool.duration"
DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""The bucket boundaries the conventions advise for GenAI durations (seconds)."""

# llmrix metrics
RUNS: Final = "llmrix.runs"
TOOL_CALLS: Final = "llmrix.tool_calls"
INTERRUPTS: Final = "llmrix.hitl.interrupts"

# settings
ENV_SWITCH: Final = "LLMRIX_OTEL"
ENV_CAPTURE: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


class Outcome:
    """Values of ``llmrix.run.outcome``."""

    FINISHED: Final = "finished"
    PAUSED: Final = "paused"
    CANCELLED: Final = "cancelled"
    FAILED: Final = "failed"
    ABANDONED: Final = "abandoned"
    """The caller stopped reading before the run ended (break, exception, task
    cancellation, the stream dropped): the run may go on on the server."""
