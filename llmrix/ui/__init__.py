"""Show a run in a web page: relay a `ChatStream` to a browser as AG-UI or AI SDK UI messages.

``agui(stream)`` and ``vercel(stream)`` are async iterators of SSE-encoded
bytes for a response body (send `AGUI_HEADERS` / `VERCEL_HEADERS` with it);
``respond(request, stream, protocol=...)`` does the whole response for
aiohttp.web. An interrupt ends the relayed run with an approval request; the
browser's answer comes back on the next request, where `agui_decisions` /
`vercel_decisions` read it for ``chat.stream(..., hitl_decisions=...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._agui import AGUI_HEADERS, APPROVAL_RESPONSE_SCHEMA, AguiEncoder
from ._decisions import agui_answers, agui_decisions, vercel_answers, vercel_decisions
from ._relay import DEFAULT_KEEPALIVE, OnDisconnect, check_relay_options, relay
from ._vercel import VERCEL_HEADERS, VercelEncoder

if TYPE_CHECKING:
    from ..streaming import ChatStream
    from ._aiohttp import Protocol, respond

__all__ = [
    "AGUI_HEADERS",
    "APPROVAL_RESPONSE_SCHEMA",
    "DEFAULT_KEEPALIVE",
    "VERCEL_HEADERS",
    "OnDisconnect",
    "Protocol",
    "agui",
    "agui_decisions",
    "respond",
    "vercel",
    "vercel_decisions",
]


def agui(
    stream: ChatStream,
    *,
    thread_id: str | None = None,
    run_id: str | None = None,
    run_input: Mapping[str, Any] | None = None,
    keepalive: float | None = DEFAULT_KEEPALIVE,
    on_disconnect: OnDisconnect = "stop",
) -> AsyncIterator[bytes]:
    """The run read from ``stream`` as AG-UI 1.0 events, SSE-encoded.

    ``thread_id`` and ``run_id`` name the run (else those of ``run_input``,
    else the platform's, else fresh ones). ``run_input``, the
    ``RunAgentInput`` being answered, also closes the approvals its
    ``resume`` answers (a TOOL_CALL_RESULT each, first). An SSE comment is
    sent after ``keepalive`` seconds of silence (None: never). If the
    consumer stops iterating before the run is over (the browser went away),
    the run is stopped, unless ``on_disconnect="detach"``.
    """
    check_relay_options(keepalive, on_disconnect)
    answered = []
    if run_input is not None:
        thread_id = thread_id or run_input.get("threadId")
        run_id = run_id or run_input.get("runId")
        answered = agui_answers(run_input) if run_input.get("resume") else []
    encoder = AguiEncoder(thread_id, run_id)
    return relay(
        stream, encoder, keepalive=keepalive, on_disconnect=on_disconnect, answered=answered
    )


def vercel(
    stream: ChatStream,
    *,
    message_id: str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    keepalive: float | None = DEFAULT_KEEPALIVE,
    on_disconnect: OnDisconnect = "stop",
) -> AsyncIterator[bytes]:
    """The run read from ``stream`` as an AI SDK UI message stream (v1), SSE-encoded.

    ``message_id`` names the assistant message. ``messages``, the chat
    request's UI messages: when the last one is the assistant's answering
    approvals, the stream continues that message (its id, unless
    ``message_id`` is given) and first settles each answered approval's tool
    part. ``keepalive`` and ``on_disconnect`` as for `agui`.
    """
    check_relay_options(keepalive, on_disconnect)
    answered = []
    if messages and messages[-1].get("role") == "assistant":
        answered = vercel_answers(messages)
        message_id = message_id or messages[-1].get("id")
    encoder = VercelEncoder(message_id)
    return relay(
        stream, encoder, keepalive=keepalive, on_disconnect=on_disconnect, answered=answered
    )


def __getattr__(name: str) -> Any:
    """`respond` and `Protocol` import aiohttp.web only when asked for."""
    if name in ("respond", "Protocol"):
        from . import _aiohttp

        return getattr(_aiohttp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
