"""The relay loop shared by both encoders: read the stream, map, encode, keep alive, stop.

It reads the stream batch by batch in a task of its own, so that a quiet run
still lets it send an SSE comment every ``keepalive`` seconds (proxies close
silent connections) without cancelling a read. It ends after the run's last
event: a terminal event, or an interrupt (the browser answers on a new
request). If its consumer goes away first (the browser disconnected, the
response was cancelled) it calls ``stream.stop()`` unless told to ``"detach"``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from ..errors import LlmrixError
from ..events import StreamEvent
from ._decisions import Answer
from ._mapping import ApprovalAnswered, UiEvent, UiMapper

if TYPE_CHECKING:
    from ..streaming import ChatStream

__all__ = ["DEFAULT_KEEPALIVE", "Encoder", "OnDisconnect", "relay"]

OnDisconnect = Literal["stop", "detach"]
"""What a relay does when its browser goes away mid-run: stop the run, or leave it."""

DEFAULT_KEEPALIVE = 15.0
"""Seconds of silence after which the relay sends an SSE comment."""

KEEPALIVE_COMMENT = b": keep-alive\n\n"

log = logging.getLogger("llmrix.ui")


class Encoder(Protocol):
    """Turns neutral values into one protocol's SSE bytes."""

    def encode(self, events: Iterable[UiEvent]) -> bytes:
        """The SSE frames for ``events`` (may be empty)."""

    def close(self) -> bytes:
        """The frames that end the response once the run is over."""


def check_relay_options(keepalive: float | None, on_disconnect: str) -> None:
    """ValueError for an option no relay understands."""
    if on_disconnect not in ("stop", "detach"):
        raise ValueError(f'on_disconnect must be "stop" or "detach", not {on_disconnect!r}')
    if keepalive is not None and not keepalive > 0:
        raise ValueError(
            f"keepalive must be a number of seconds above 0 or None, not {keepalive!r}"
        )


async def relay(
    stream: ChatStream,
    encoder: Encoder,
    *,
    keepalive: float | None,
    on_disconnect: OnDisconnect,
    answered: Sequence[Answer] = (),
) -> AsyncIterator[bytes]:
    """The SSE bytes of the run read from ``stream``, as ``encoder`` writes them.

    ``answered`` are the approvals this run resumes from: their answers open it.
    """
    mapper = UiMapper()
    batches = stream.batches()
    pending: asyncio.Future[list[StreamEvent]] | None = None
    try:
        if answered:
            yield encoder.encode(
                [ApprovalAnswered(approval_id=id_, decision=decision) for id_, decision in answered]
            )
        while not mapper.ended:
            if pending is None:
                pending = asyncio.ensure_future(batches.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=keepalive)
            if not done:
                yield KEEPALIVE_COMMENT
                continue
            read, pending = pending, None
            try:
                events = read.result()
            except StopAsyncIteration:
                chunk = encoder.encode(mapper.cut_off())
            except LlmrixError as error:
                chunk = encoder.encode(mapper.failed(error))
            else:
                chunk = encoder.encode(_map_until_end(mapper, events))
            if mapper.ended:
                chunk += encoder.close()
            if chunk:
                yield chunk
    finally:
        if pending is not None:
            pending.cancel()
        if not mapper.ended and on_disconnect == "stop":
            await _stop(stream)
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)


def _map_until_end(mapper: UiMapper, events: list[StreamEvent]) -> list[UiEvent]:
    """The neutral values of ``events``, up to the one that ends the relayed run."""
    out: list[UiEvent] = []
    for event in events:
        out.extend(mapper.map(event))
        if mapper.ended:
            break
    return out


async def _stop(stream: ChatStream) -> None:
    """Cancel the run whose browser went away (a failure is logged, never raised)."""
    try:
        await stream.stop()
    except LlmrixError as error:
        log.warning("could not stop the run after the browser disconnected: %s", error)
