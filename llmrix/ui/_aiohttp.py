"""``respond``: a relayed run as an aiohttp.web streaming response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from . import agui, vercel
from ._agui import AGUI_HEADERS
from ._relay import DEFAULT_KEEPALIVE, OnDisconnect, check_relay_options
from ._vercel import VERCEL_HEADERS

if TYPE_CHECKING:
    from ..streaming import ChatStream

__all__ = ["Protocol", "respond"]

Protocol = Literal["agui", "vercel"]
"""The browser protocols `respond` speaks."""


async def respond(
    request: web.BaseRequest,
    stream: ChatStream,
    *,
    protocol: Protocol,
    thread_id: str | None = None,
    run_id: str | None = None,
    run_input: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    keepalive: float | None = DEFAULT_KEEPALIVE,
    on_disconnect: OnDisconnect = "stop",
) -> web.StreamResponse:
    """Relay ``stream`` to ``request``'s client and return the finished `web.StreamResponse`.

    ``protocol`` picks the encoder: `agui` (``thread_id``, ``run_id``,
    ``run_input``) or `vercel` (``message_id``, ``messages``). When the client goes away mid-run the
    relay stops the run (or leaves it, ``on_disconnect="detach"``) and the
    response is returned as it is.
    """
    check_relay_options(keepalive, on_disconnect)
    if protocol == "agui":
        body = agui(
            stream,
            thread_id=thread_id,
            run_id=run_id,
            run_input=run_input,
            keepalive=keepalive,
            on_disconnect=on_disconnect,
        )
        headers = AGUI_HEADERS
    elif protocol == "vercel":
        body = vercel(
            stream,
            message_id=message_id,
            messages=messages,
            keepalive=keepalive,
            on_disconnect=on_disconnect,
        )
        headers = VERCEL_HEADERS
    else:
        raise ValueError(f'protocol must be "agui" or "vercel", not {protocol!r}')
    response = web.StreamResponse(headers=headers)
    try:
        await response.prepare(request)
        async for chunk in body:
            await response.write(chunk)
        await response.write_eof()
    except ConnectionError:
        pass
    finally:
        await body.aclose()  # type: ignore[attr-defined]
    return response
