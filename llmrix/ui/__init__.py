"""Show a run in a web page: relay a `ChatStream` to a browser as AG-UI or AI SDK UI messages.

``agui(stream)`` and ``vercel(stream)`` are async iterators of SSE-encoded
bytes for a response body (send `AGUI_HEADERS` / `VERCEL_HEADERS` with it);
``respond(request, stream, protocol=...)`` does the whole response for
aiohttp.web. An interrupt ends the relayed run with an approval request; the
browser's answer comes back on the next request, where `agui_decisions` /
`vercel_decisions` read it for ``chat.stream(..., hitl_decisions=...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ._agui import AGUI_HEADERS, APPROVAL_RESPONSE_SCHEMA, AguiEncoder
from ._decisions import agui_decisions, vercel_decisions
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
    keepalive: float | None = DEFAULT_KEEPALIVE,
    on_disconnect: OnDisconnect = "stop",
) -> AsyncIterator[bytes]:
    """The run read from ``stream`` as AG-UI 1.0 events, SSE-encoded.

    ``thread_id`` and ``run_id`` are those of the ``RunAgentInput`` being
    answered (else the platform's, else fresh ones). An SSE comment is sent
    after ``keepalive`` seconds of silence (None: never). If the consumer
    stops iterating before the run is over (the browser went away), the run
    is stopped, unless ``on_disconnect="detach"``.
    """
    check_relay_options(keepalive, on_disconnect)
    encoder = AguiEncoder(thread_id, run_id)
    return relay(stream, encoder, keepalive=keepalive, on_disconnect=on_disconnect)


def vercel(
    stream: ChatStream,
    *,
    message_id: str | None = None,
    keepalive: float | None = DEFAULT_KEEPALIVE,
    on_disconnect: OnDisconnect = "stop",
) -> AsyncIterator[bytes]:
    """The run read from ``stream`` as an AI SDK UI message stream (v1), SSE-encoded.

    ``message_id`` names the assistant message (pass the last one's id to
    continue it after an approval). ``keepalive`` and ``on_disconnect`` as
    for `agui`.
    """
    check_relay_options(keepalive, on_disconnect)
    encoder = VercelEncoder(message_id)
    return relay(stream, encoder, keepalive=keepalive, on_disconnect=on_disconnect)


def __getattr__(name: str) -> Any:
    """`respond` and `Protocol` import aiohttp.web only when asked for."""
    if name in ("respond", "Protocol"):
        from . import _aiohttp

        return getattr(_aiohttp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
