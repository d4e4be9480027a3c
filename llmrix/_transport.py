"""``Transport``: requests with auth, deadlines, retries and error mapping.

With `SessionPool` and `EventSource` this is the only SDK code that touches
aiohttp; every foreign exception is translated here into an `LlmrixError`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, overload

import aiohttp
import msgspec
from yarl import URL

from ._compat import deadline
from ._eventsource import EventSource
from ._json import replace_lone_surrogates
from ._logs import log
from ._nulls import convert_lenient
from ._options import ClientOptions, RequestOptions, check_request_options
from ._pool import SessionPool
from ._raw import ResponseFacts, record
from ._retry import IDEMPOTENT_METHODS, retry_after_seconds
from ._urls import encode_segment
from .decoding import EventRegistry
from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ClientClosedError,
    LlmrixError,
    error_for_status,
)

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


class _StatusFailure(Exception):
    """An attempt was answered with an error status (body already read)."""

    def __init__(self, error: APIError, retry_after: float | None) -> None:
        self.error = error
        self.retry_after = retry_after


class _NoAnswer(Exception):
    """An attempt got no usable answer; ``retryable`` says whether trying again may help."""

    def __init__(self, error: LlmrixError, *, never_sent: bool, retryable: bool = True) -> None:
        self.error = error
        self.never_sent = never_sent
        self.retryable = retryable


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


def _connect_failure(exc: aiohttp.ClientConnectorError) -> str:
    """Why connecting failed, without aiohttp's ``ssl:default`` (TLS had no part in it)."""
    error = exc.os_error
    reason = os.strerror(error.errno) if error.errno and error.errno > 0 else error.strerror
    return f"cannot connect to {exc.host}:{exc.port} ({reason or error})"


class Transport:
    """Shared HTTP machinery behind every resource of one client."""

    def __init__(
        self, options: ClientOptions, pool: SessionPool, events: EventRegistry | None = None
    ) -> None:
        self.options = options
        self.pool = pool
        self.events: EventRegistry = events if events is not None else EventRegistry()
        self._root = "/".join((options.base_url.raw_path.rstrip("/"), *API_PREFIX))
        self._headers = options.base_headers()
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout
        )

    def with_options(self, options: ClientOptions) -> Transport:
        """A transport with other settings, sharing this one's session."""
        return Transport(options, self.pool, self.events)

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
        url = self.url(path)
        timeout = self.options.timeout
        extra_headers: Mapping[str, str] = {}
        if call:
            body, params, extra_headers, timeout = _apply(call, body, params, timeout)
        data = None if body is None else _encoder.encode(body)
        headers = {**self._headers, **_JSON_HEADERS} if data is not None else self._headers
        if extra_headers:
            headers = {**headers, **extra_headers}
        what = f"{method} {url.path}"
        limit = self.options.max_response_bytes

        async def read_body(response: aiohttp.ClientResponse) -> bytes:
            return await _read_limited(response, limit, what)

        async def attempt(session: aiohttp.ClientSession) -> tuple[bytes, aiohttp.ClientResponse]:
            return await self._exchange(
                session,
                method,
                url,
                data=data,
                params=params,
                headers=headers,
                timeout=timeout,
                use_slot=not control,
                handle=read_body,
            )

        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        payload, _ = await self._with_retries(method, url, idempotent, attempt)
        if cast_to is None:
            return None
        return _decode(payload, cast_to, what)

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
        url = self.url(path)
        timeout = self.options.timeout
        params: Mapping[str, str] | None = None
        headers = {**self._headers, **_STREAM_HEADERS}
        if call:
            body, params, extra_headers, timeout = _apply(call, body, params, timeout)
            headers.update(extra_headers)
        data = _encoder.encode(body)
        what = f"POST {url.path}"

        async def to_source(response: aiohttp.ClientResponse) -> EventSource:
            if response.content_type != "text/event-stream":
                text = await _read_text(response, MAX_ERROR_BODY)
                raise APIResponseValidationError(
                    f"{what}: expected text/event-stream, got "
                    f"{response.content_type!r}: {extract_message(text, response.status)}"
                )
            return EventSource(
                response,
                pool=self.pool,
                idle_timeout=idle_timeout,
                max_frame_bytes=self.options.max_frame_bytes,
                events=self.events.decoder,
            )

        async def attempt(
            session: aiohttp.ClientSession,
        ) -> tuple[EventSource, aiohttp.ClientResponse]:
            return await self._exchange(
                session,
                "POST",
                url,
                data=data,
                params=params,
                headers=headers,
                timeout=timeout,
                use_slot=True,
                handle=to_source,
                hand_over=True,
            )

        source, _ = await self._with_retries("POST", url, False, attempt)
        return source

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        *,
        data: bytes | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        timeout: float | None,
        use_slot: bool,
        handle: Callable[[aiohttp.ClientResponse], Awaitable[R]],
        hand_over: bool = False,
    ) -> tuple[R, aiohttp.ClientResponse]:
        """One attempt: a slot, the request, and ``handle`` on a successful answer.

        ``timeout`` bounds it all. An error status raises `_StatusFailure`; a
        foreign exception is translated. The response (and slot) are released
        afterwards, unless ``hand_over`` says ``handle``'s result now owns them.
        """
        took_slot = False
        response: aiohttp.ClientResponse | None = None
        handled = False
        phase = "pool"
        try:
            async with deadline(timeout):
                if use_slot:
                    await self.pool.take_slot()
                    took_slot = True
                phase = "send"
                response = await session.request(
                    method,
                    url,
                    data=data,
                    params=params,
                    headers=headers,
                    timeout=self._client_timeout,
                )
                if response.status >= 400:
                    raise await _status_failure(response)
                phase = "read"
                result = await handle(response)
                handled = True
            return result, response
        except (_StatusFailure, APIResponseValidationError):
            raise
        except BaseException as exc:
            translated = self._translate(exc, f"{method} {url.path}", phase, timeout)
            if translated is exc:
                raise
            raise translated from exc
        finally:
            if not (handled and hand_over):
                if took_slot:
                    self.pool.give_slot()
                if response is not None:
                    if handled:
                        response.release()
                    else:
                        response.close()

    async def _with_retries(
        self,
        method: str,
        url: URL,
        idempotent: bool,
        attempt: Callable[[aiohttp.ClientSession], Awaitable[tuple[R, aiohttp.ClientResponse]]],
    ) -> tuple[R, aiohttp.ClientResponse]:
        """Run ``attempt`` until it succeeds or the `RetryPolicy` says stop; log the outcome."""
        policy = self.options.retry
        what = f"{method} {url.path}"
        started = time.monotonic()
        tries = 0
        while True:
            try:
                result, response = await attempt(self.pool.session())
            except _StatusFailure as failure:
                status = failure.error.status_code
                delay = policy.after_status(
                    tries, status, failure.retry_after, idempotent=idempotent
                )
                if delay is None:
                    self._report(method, url, status, failure.error.headers, started, tries)
                    raise failure.error from None
                why = f"HTTP {status}"
            except _NoAnswer as failure:
                delay = None
                if failure.retryable:
                    delay = policy.after_failure(
                        tries, idempotent=idempotent, never_sent=failure.never_sent
                    )
                if delay is None:
                    log.info("%s failed after %d retries: %s", what, tries, failure.error)
                    raise failure.error from failure.__cause__
                why = type(failure.error).__name__
            else:
                self._report(method, url, response.status, response.headers, started, tries)
                return result, response
            log.info("retrying %s in %.2fs after %s", what, delay, why)
            await self.pool.sleep(delay)
            tries += 1

    @staticmethod
    def _report(
        method: str,
        url: URL,
        status: int,
        headers: Mapping[str, str],
        started: float,
        retries: int,
    ) -> None:
        """Log a call's answer and hand it to `with_raw_response`."""
        elapsed = time.monotonic() - started
        log.info(
            "%s %s -> %d in %.3fs (%d retries)",
            method,
            url.with_user(None),
            status,
            elapsed,
            retries,
        )
        record(ResponseFacts(method, str(url.with_user(None)), status, headers, elapsed, retries))

    def _translate(
        self, exc: BaseException, what: str, phase: str, timeout: float | None
    ) -> BaseException:
        """The llmrix form of an exception raised while an attempt ran."""
        if isinstance(exc, LlmrixError):
            return exc
        if self.pool.closed:
            caused_by_close = isinstance(exc, Exception) or (
                isinstance(exc, asyncio.CancelledError) and not _cancel_requested()
            )
            if caused_by_close:
                return ClientClosedError(f"{what}: the client was closed")
        if isinstance(exc, asyncio.CancelledError):
            return exc
        if isinstance(exc, aiohttp.TooManyRedirects):
            return _NoAnswer(
                APIConnectionError(f"{what}: too many redirects (a redirect loop?)"),
                never_sent=False,
                retryable=False,
            )
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            seconds = self.options.connect_timeout
            return _NoAnswer(
                APITimeoutError(
                    f"{what}: connecting timed out after {seconds} s (connect_timeout)"
                ),
                never_sent=True,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc if isinstance(exc, aiohttp.ClientSSLError) else _connect_failure(exc)
            return _NoAnswer(APIConnectionError(f"{what} failed: {reason}"), never_sent=True)
        if isinstance(exc, aiohttp.ClientError):
            return _NoAnswer(APIConnectionError(f"{what} failed: {exc}"), never_sent=False)
        if isinstance(exc, asyncio.TimeoutError):
            seconds = timeout
            if phase == "pool":
                return _NoAnswer(
                    APITimeoutError(
                        f"{what}: no free connection within {seconds} s (timeout): all "
                        f"max_connections={self.pool.max_connections} were in use"
                    ),
                    never_sent=True,
                    retryable=False,
                )
            return _NoAnswer(
                APITimeoutError(f"{what} timed out after {seconds} s (timeout)"),
                never_sent=False,
            )
        if isinstance(exc, RecursionError):
            return APIResponseValidationError(f"{what}: the answer is nested too deeply")
        return exc


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


async def _status_failure(response: aiohttp.ClientResponse) -> _StatusFailure:
    """Read an error answer (capped) and build the `APIError` it stands for."""
    try:
        text = await _read_text(response, MAX_ERROR_BODY)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        text = ""
    finally:
        response.close()
    error = error_for_status(
        response.status,
        extract_message(text, response.status),
        text,
        headers=response.headers,
    )
    return _StatusFailure(error, retry_after_seconds(response.headers.get("Retry-After")))


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
