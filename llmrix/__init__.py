"""Async Python SDK for the llmrix AI Agent Platform.

The layers, each importing only the ones below it (every module is listed):

* Faces: ``cli`` (run by ``__main__``, drawn by ``_term``), ``pytest_plugin``,
  ``sync/`` (the blocking client over the async one), ``testing/`` (scripted runs,
  cassettes), ``ui/`` (a run relayed to a web page).
* Client: ``_client`` (options, then transport, then resources), ``_suggest``
  (did-you-mean for misspelt options).
* Resources: ``resources/``, paths and types only.
* Turn: ``streaming`` (``ChatStream``), ``snapshot``, ``_undecided`` (the warning
  at an unanswered interrupt).
* Telemetry, optional: ``_otel`` (whether a client emits, the API imported lazily),
  ``_otel_turn`` (a turn's spans and metrics, watched from the outside),
  ``_otel_names`` (every OpenTelemetry name).
* Transport, the only SDK code importing aiohttp: ``_transport``, ``_pool``,
  ``_eventsource``, ``_errormap`` (aiohttp's exceptions as llmrix errors),
  ``_redact`` (secrets masked in what answers echo), ``_options``, ``_retry``,
  ``_urls``, ``_raw``.
* Wire, sans-IO: ``sse``, ``chunks``, ``decoding``, ``_buffer`` (the bytes both
  decoders carry between reads), ``_wire`` (field prefixes, keep-alive forms).
* Values: ``events``, ``models``, ``errors``, ``_nulls``, ``_json``, ``_logs``,
  ``_loop`` (asyncio's or uvloop's loop), ``_compat``, ``_version``, ``_mixed_install``.
* ``devserver/``: the dev server, independent of the SDK.
"""

from . import _mixed_install  # noqa: F401 - raises ImportError beside the official SDK
from ._client import LlmrixClient
from ._options import ClientOptions, RequestOptions
from ._raw import RawResponse, with_raw_response
from ._retry import RetryPolicy
from ._version import __version__
from .decoding import EventDecoder
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    LlmrixApiError,
    LlmrixAuthError,
    LlmrixError,
    NotFoundError,
    RateLimitError,
    RunPausedError,
    ServiceUnavailableError,
    StreamError,
    UnprocessableEntityError,
)
from .events import (
    ActionRequest,
    CancelledEvent,
    ErrorEvent,
    Event,
    HeartbeatEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    RubricEndEvent,
    RubricStartEvent,
    RunEndEvent,
    RunStartEvent,
    StreamEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
    UnknownEvent,
)
from .models import (
    UNSET,
    Agent,
    AgentCreateRequest,
    AgentType,
    AgentUpdateRequest,
    Attachment,
    ChatRequest,
    Conversation,
    ConversationCreateRequest,
    ConversationUpdateRequest,
    CronCreateRequest,
    CronTask,
    CronUpdateRequest,
    HitlDecision,
    Mate,
    Message,
    PageResult,
    ScheduleType,
    ToolCall,
    UnsetType,
)
from .resources import Chat
from .resources.chat import ChatOptions
from .snapshot import RunSnapshot, RunStatus, RunSubagent, RunToolCall
from .streaming import ChatStream, EventBatches, Turn

__all__ = [
    "UNSET",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "ActionRequest",
    "Agent",
    "AgentCreateRequest",
    "AgentType",
    "AgentUpdateRequest",
    "Attachment",
    "AuthenticationError",
    "BadRequestError",
    "CancelledEvent",
    "Chat",
    "ChatOptions",
    "ChatRequest",
    "ChatStream",
    "ClientClosedError",
    "ClientOptions",
    "ConflictError",
    "Conversation",
    "ConversationCreateRequest",
    "ConversationUpdateRequest",
    "CronCreateRequest",
    "CronTask",
    "CronUpdateRequest",
    "ErrorEvent",
    "Event",
    "EventBatches",
    "EventDecoder",
    "HeartbeatEvent",
    "HitlDecision",
    "HitlInterruptEvent",
    "InternalServerError",
    "LlmrixApiError",
    "LlmrixAuthError",
    "LlmrixClient",
    "LlmrixError",
    "Mate",
    "Message",
    "MessageChunkEvent",
    "NotFoundError",
    "PageResult",
    "RateLimitError",
    "RawResponse",
    "RequestOptions",
    "RetryPolicy",
    "RubricEndEvent",
    "RubricStartEvent",
    "RunEndEvent",
    "RunPausedError",
    "RunSnapshot",
    "RunStartEvent",
    "RunStatus",
    "RunSubagent",
    "RunToolCall",
    "ScheduleType",
    "ServiceUnavailableError",
    "StreamError",
    "StreamEvent",
    "SubagentEndEvent",
    "SubagentStartEvent",
    "ToolCall",
    "ToolEndEvent",
    "ToolStartEvent",
    "Turn",
    "UnknownEvent",
    "UnprocessableEntityError",
    "UnsetType",
    "__version__",
    "with_raw_response",
]
