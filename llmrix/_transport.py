"""``Transport``: requests with auth, deadlines, retries and error mapping.

With `SessionPool`, `EventSource` and the error table of ``_errormap`` this
is the only SDK code that touches aiohttp; every foreign exception is
translated here into an `LlmrixError`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeAlias, TypeVar, overload

import aiohttp
import msgspec
from yarl import URL

from ._compat import deadline
from ._errormap import describe
from ._eventsource import EventSource
from ._json import replace_lone_surrogates
from ._logs import log
from ._nulls import convert_lenient
from ._options import ClientOptions, RequestOptions, check_request_options
from ._pool import LoopPool, SessionPool
from ._raw import ResponseFacts, record
from ._redact import Redactor
from ._retry import IDEMPOTENT_METHODS, retry_after_seconds
from ._urls import encode_segment
from .decoding import EventRegistry
from .errors import (
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ClientClosedError,
    LlmrixError,
    error_for_status,
)

if TYPE_CHECKING:
    from ._otel_turn import Telemetry

__all__ = ["Transport", "extract_message"]

T = TypeVar("T")
R = TypeVar("R")


API_PREFIX = ("api", "open", "v1")
MAX_ERROR_BODY = 1024 * 1024
_encoder = msgspec.json.Encoder()
_JSON_HEADERS = {"Content-Type": "application/json"}
_STREAM_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "text/event-stream",
    "Cache-Control": "no-cache",
}


def extract_message(text: str, status: int) -> str:
    """The human message of an error body: a JSON string field, else the text cut."""
    if not text.strip():
        return f"server returned HTTP {status}"
    try:
        data = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        data = None
    if isinstance(data, dict):
        for key in ("message", "detail", "error", "msg"):
            value = data.get(key)
            if isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, dict):
                value = value.get("message") or value.get("msg")
            if isinstance(value, str) and value:
                return value
    text = text.strip()
    return text[:500] + "..." if len(text) > 500 else text


class _Call(NamedTuple):
    """A request made ready once; every attempt sends it as it is."""

    method: str
    url: URL
    what: str
    data: bytes | None
    params: Mapping[str, str] | None
    headers: Mapping[str, str]
    timeout: float | None
    idempotent: bool
    use_slot: bool


class _Attempt:
    """One attempt's hold on a connection: its slot and response, and how far it got."""

    __slots__ = ("handed_over", "phase", "pool", "response", "slot")

    def __init__(self, pool: LoopPool) -> None:
        self.pool = pool
        self.slot = False
        self.response: aiohttp.ClientResponse | None = None
        self.phase = "pool"
        self.handed_over = False

    def hand_over(self) -> None:
        """The response and slot now belong to what ``handle`` returned."""
        self.handed_over = True

    def release(self, clean: bool) -> None:
        """Give back what the attempt holds, unless handed over."""
        if self.handed_over:
            return
        if self.response is not None:
            if clean:
                self.response.release()
            else:
                self.response.close()
        if self.slot:
            self.pool.give_slot()


class _Answer(Generic[R]):
    """An attempt that succeeded: ``handle``'s result and the response's facts."""

    __slots__ = ("headers", "status", "value")

    def __init__(self, value: R, status: int, headers: Mapping[str, str]) -> None:
        self.value = value
        self.status = status
        self.headers = headers


class _Refused(NamedTuple):
    """An attempt answered with an error status (its body read)."""

    error: APIError
    retry_after: float | None


class _Lost(NamedTuple):
    """An attempt without a usable answer; ``retryable`` says whether trying again may help."""

    error: LlmrixError
    never_sent: bool
    retryable: bool = True


Handler: TypeAlias = "Callable[[aiohttp.ClientResponse, _Attempt], Awaitable[R]]"


class Transport:
    """Shared HTTP machinery behind every resource of one client.

    ``request`` and ``open_stream`` make a `_Call` (`_prepare`), which `_send`
    attempts under the `RetryPolicy`. Each `_attempt` runs `_exchange` (a slot
    and the request, returning the response whatever its status), then reads
    an error answer or hands a successful one to its handler; a foreign
    exception becomes an llmrix error through `describe`'s table.
    """

    def __init__(
        self,
        options: ClientOptions,
        pool: SessionPool,
        events: EventRegistry | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.options = options
        self.pool = pool
        self.events: EventRegistry = events if events is not None else EventRegistry()
        self.telemetry = telemetry
        """Spans and metrics (None when OpenTelemetry is off): see `llmrix._otel`."""
        self._root = "/".join((options.base_url.raw_path.rstrip("/"), *API_PREFIX))
        self._headers = options.base_headers()
        self._redact = Redactor(options.secrets())
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout
        )

    def with_options(self, options: ClientOptions) -> Transport:
        """A transport with other settings, sharing this one's session."""
        return Transport(options, self.pool, self.events, self.telemetry)

    def url(self, path: tuple[str, ...]) -> URL:
        """``base_url`` + API prefix + encoded ``path`` segments."""
        encoded = "/".join((self._root, *(encode_segment(p) for p in path)))
        return self.options.base_url.with_path(encoded, encoded=True)

    @overload
    async def request(
        self,
        method: str,
        path: tuple[str, ...],
        cast_to: type[T],
        *,
        body: Any = ...,
        params: Mapping[str, str] | None = ...,
        idempotent: bool | None = ...,
        control: bool = ...,
        call: RequestOptions | None = ...,
    ) -> T: ...

    @overload
    async def request(
        self,
        method: str,
        path: tuple[str, ...],
        cast_to: None = ...,
        *,
        body: Any = ...,
        params: Mapping[str, str] | None = ...,
        idempotent: bool | None = ...,
        control: bool = ...,
        call: RequestOptions | None = ...,
    ) -> None: ...

    async def request(
        self,
        method: str,
        path: tuple[str, ...],
        cast_to: type[T] | None = None,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        control: bool = False,
        call: RequestOptions | None = None,
    ) -> T | None:
        """Send one JSON request and decode its answer into ``cast_to``.

        ``idempotent`` defaults to the method's safety (see `RetryPolicy`).
        ``control`` calls (``stop``, ``decide``) skip the ``max_connections``
        slots, so they work while every slot holds a stream. ``call`` holds
        the caller's per-call options.
        """
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        prepared = self._prepare(
            method,
            path,
            body,
            params,
            call,
            content_headers=_JSON_HEADERS,
            idempotent=idempotent,
            use_slot=not control,
        )
        limit = self.options.max_response_bytes

        async def read_body(response: aiohttp.ClientResponse, attempt: _Attempt) -> bytes:
            return await _read_limited(response, limit, prepared.what)

        payload = await self._send(prepared, read_body)
        if cast_to is None:
            return None
        return _decode(payload, cast_to, prepared.what)

    async def open_stream(
        self,
        path: tuple[str, ...],
        body: Any,
        *,
        idle_timeout: float | None,
        call: RequestOptions | None = None,
    ) -> EventSource:
        """POST ``body`` and return the open ``text/event-stream`` as an `EventSource`.

        Opening (waiting for a slot, connecting, up to the headers) is bounded
        by ``timeout``; each later wait for bytes by ``idle_timeout``.
        """
        prepared = self._prepare(
            "POST",
            path,
            body,
            None,
            call,
            content_headers=_STREAM_HEADERS,
            idempotent=False,
            use_slot=True,
        )

        async def to_source(response: aiohttp.ClientResponse, attempt: _Attempt) -> EventSource:
            if response.content_type != "text/event-stream":
                text = self._redact.text(await _read_text(response, MAX_ERROR_BODY))
                raise APIResponseValidationError(
                    f"{prepared.what}: expected text/event-stream, got "
                    f"{response.content_type!r}: {extract_message(text, response.status)}"
                )
            source = EventSource(
                response,
                pool=attempt.pool,
                idle_timeout=idle_timeout,
                max_frame_bytes=self.options.max_frame_bytes,
                events=self.events.decoder,
            )
            source.headers = self._redact.headers(response.headers)
            attempt.hand_over()
            return source

        return await self._send(prepared, to_source)

    def _prepare(
        self,
        method: str,
        path: tuple[str, ...],
        body: Any,
        params: Mapping[str, str] | None,
        call: RequestOptions | None,
        *,
        content_headers: Mapping[str, str],
        idempotent: bool,
        use_slot: bool,
    ) -> _Call:
        """The `_Call` for a request: URL, per-call options merged, body encoded, headers."""
        url = self.url(path)
        timeout = self.options.timeout
        extra_headers: Mapping[str, str] = {}
        if call:
            body, params, extra_headers, timeout = _apply(call, body, params, timeout)
        data = None if body is None else _encoder.encode(body)
        headers = self._headers
        if data is not None or extra_headers:
            headers = {**headers, **(content_headers if data is not None else {}), **extra_headers}
        if self.telemetry is not None:
            headers = self.telemetry.inject(headers)
        return _Call(
            method,
            url,
            f"{method} {url.path}",
            data,
            params,
            headers,
            timeout,
            idempotent,
            use_slot,
        )

    async def _send(self, call: _Call, handle: Handler[R]) -> R:
        """Attempt ``call`` until one attempt succeeds or the `RetryPolicy` says stop."""
        policy = self.options.retry
        started = time.monotonic()
        tries = 0
        while True:
            pool = self.pool.current()
            outcome = await self._attempt(call, pool, handle)
            if isinstance(outcome, _Answer):
                self._report(call, outcome.status, outcome.headers, started, tries)
                return outcome.value
            if isinstance(outcome, _Refused):
                error: LlmrixError = outcome.error
                status = outcome.error.status_code
                delay = policy.after_status(
                    tries, status, outcome.retry_after, idempotent=call.idempotent
                )
                if delay is None:
                    self._report(call, status, outcome.error.headers, started, tries)
                why = f"HTTP {status}"
            else:
                error = outcome.error
                delay = None
                if outcome.retryable:
                    delay = policy.after_failure(
                        tries, idempotent=call.idempotent, never_sent=outcome.never_sent
                    )
                if delay is None:
                    log.info("%s failed after %d retries: %s", call.what, tries, error)
                why = type(error).__name__
            if delay is None:
                raise error
            log.info("retrying %s in %.2fs after %s", call.what, delay, why)
            await pool.sleep(delay)
            tries += 1

    async def _attempt(
        self, call: _Call, pool: LoopPool, handle: Handler[R]
    ) -> _Answer[R] | _Refused | _Lost:
        """One attempt under the call's ``timeout``: `_exchange`, then the answer read.

        The outcome is returned, never raised, so that the error raised from it
        carries no foreign exception as its ``__context__``.
        """
        attempt = _Attempt(pool)
        clean = False
        try:
            async with deadline(call.timeout):
                response = await self._exchange(call, attempt)
                if response.status >= 400:
                    return await self._refused(response)
                attempt.phase = "read"
                value = await handle(response, attempt)
            clean = True
            return _Answer(value, response.status, response.headers)
        except BaseException as exc:
            lost = self._lost(exc, call, attempt)
            if lost is None:
                raise
        finally:
            attempt.release(clean)
        return lost

    async def _exchange(self, call: _Call, attempt: _Attempt) -> aiohttp.ClientResponse:
        """A slot (unless a control call), then the request: the response, whatever its status."""
        if call.use_slot:
            await attempt.pool.take_slot()
            attempt.slot = True
        attempt.phase = "send"
        attempt.response = await attempt.pool.session.request(
            call.method,
            call.url,
            data=call.data,
            params=call.params,
            headers=call.headers,
            timeout=self._client_timeout,
        )
        return attempt.response

    async def _refused(self, response: aiohttp.ClientResponse) -> _Refused:
        """Read an error answer (capped) and build the `APIError` it stands for."""
        try:
            text = await _read_text(response, MAX_ERROR_BODY)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            text = ""
        redact = self._redact
        text = redact.text(text)
        error = error_for_status(
            response.status,
            extract_message(text, response.status),
            text,
            headers=redact.headers(response.headers),
        )
        return _Refused(error, retry_after_seconds(response.headers.get("Retry-After")))

    def _report(
        self,
        call: _Call,
        status: int,
        headers: Mapping[str, str],
        started: float,
        retries: int,
    ) -> None:
        """Log a call's answer and hand it to `with_raw_response`."""
        elapsed = time.monotonic() - started
        url = str(call.url.with_user(None))
        log.info("%s %s -> %d in %.3fs (%d retries)", call.method, url, status, elapsed, retries)
        headers = self._redact.headers(headers)
        record(ResponseFacts(call.method, url, status, headers, elapsed, retries))

    def _lost(self, exc: BaseException, call: _Call, attempt: _Attempt) -> _Lost | None:
        """What an exception raised during an attempt means; None to let it through."""
        what = call.what
        if isinstance(exc, LlmrixError):
            return _Lost(exc, never_sent=False, retryable=False)
        if self.pool.closed or attempt.pool.ended:
            caused_by_close = isinstance(exc, Exception) or (
                isinstance(exc, asyncio.CancelledError) and not _cancel_requested()
            )
            if caused_by_close:
                closed = ClientClosedError(f"{what}: the client was closed")
                return _Lost(closed, never_sent=False, retryable=False)
        if isinstance(exc, asyncio.CancelledError):
            return None
        failure = describe(exc)
        if failure is not None:
            reason = f"{what} failed: {failure.reason}"
            if failure.kind is APITimeoutError:
                reason = f"{what}: {failure.reason}"
                if failure.never_sent:
                    reason += f" after {self.options.connect_timeout} s (connect_timeout)"
            error = failure.kind(self._redact.text(reason))
            return _Lost(error, failure.never_sent, failure.retryable)
        if isinstance(exc, asyncio.TimeoutError):
            if attempt.phase == "pool":
                return _Lost(
                    APITimeoutError(
                        f"{what}: no free connection within {call.timeout} s (timeout): all "
                        f"max_connections={self.pool.max_connections} were in use"
                    ),
                    never_sent=True,
                    retryable=False,
                )
            timed_out = APITimeoutError(f"{what} timed out after {call.timeout} s (timeout)")
            return _Lost(timed_out, never_sent=False)
        if isinstance(exc, RecursionError):
            nested = APIResponseValidationError(f"{what}: the answer is nested too deeply")
            return _Lost(nested, never_sent=False, retryable=False)
        return None


def _apply(
    call: RequestOptions,
    body: Any,
    params: Mapping[str, str] | None,
    timeout: float | None,
) -> tuple[Any, Mapping[str, str] | None, Mapping[str, str], float | None]:
    """Merge per-call options into a request's body, query, headers and timeout."""
    check_request_options(call)
    extra_body = call.get("extra_body")
    if extra_body:
        merged = {} if body is None else msgspec.to_builtins(body)
        if not isinstance(merged, dict):
            raise TypeError("extra_body needs a request whose body is a JSON object")
        body = {**merged, **extra_body}
    extra_query = call.get("extra_query")
    if extra_query:
        params = {**(params or {}), **extra_query}
    return body, params, call.get("extra_headers") or {}, call.get("timeout", timeout)


def _cancel_requested() -> bool:
    """Whether the current task was really asked to cancel (knowable on 3.11+)."""
    task = asyncio.current_task()
    if task is None or sys.version_info < (3, 11):
        return False
    return task.cancelling() > 0


async def _read_limited(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, or `APIResponseValidationError` once it passes ``limit`` bytes."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise _too_large(what, limit)
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.readany():
        size += len(chunk)
        if size > limit:
            raise _too_large(what, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, limit: int) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"{what}: the answer is larger than max_response_bytes={limit}"
    )


async def _read_text(response: aiohttp.ClientResponse, limit: int) -> str:
    """At most ``limit`` bytes of a body, decoded leniently."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _decode(payload: bytes, cast_to: type[T], what: str) -> T:
    """Decode a JSON answer into ``cast_to``, or raise `APIResponseValidationError`."""
    payload = payload.strip() or b"{}"
    try:
        try:
            return msgspec.json.decode(payload, type=cast_to)
        except msgspec.DecodeError:
            repaired = replace_lone_surrogates(payload)
            if repaired is None:
                raise
            payload = repaired
            return msgspec.json.decode(payload, type=cast_to)
    except msgspec.ValidationError as exc:
        if b"null" in payload:
            try:
                lenient: T = convert_lenient(msgspec.json.decode(payload), cast_to)
            except msgspec.ValidationError:
                pass
            else:
                return lenient
        raise APIResponseValidationError(f"unexpected answer to {what}: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise APIResponseValidationError(f"unexpected answer to {what}: {exc}") from None
    except RecursionError:
        raise APIResponseValidationError(
            f"unexpected answer to {what}: JSON nested too deeply"
        ) from None
