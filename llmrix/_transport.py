"""The one place that talks HTTP: URLs, auth, timeouts, retries and error mapping."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Mapping
from typing import Any, TypeVar, overload
from urllib.parse import quote

import aiohttp
import msgspec
from yarl import URL

from ._nulls import convert_lenient
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    LlmrixError,
    StreamError,
    error_for_status,
)

T = TypeVar("T")

log = logging.getLogger("llmrix")

API_PREFIX = ("api", "open", "v1")
MAX_ERROR_BODY = 1024 * 1024
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
_encoder = msgspec.json.Encoder()


def parse_base_url(base_url: str) -> URL:
    """Validate ``base_url`` (http or https, with a host) and strip trailing slashes."""
    url = URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    if url.query_string or url.fragment:
        raise ValueError(f"base_url must not carry a query or fragment, got {base_url!r}")
    return url.with_path(url.raw_path.rstrip("/"), encoded=True)


def encode_segment(value: str) -> str:
    """Percent-encode one path parameter so it can never change the route."""
    if not isinstance(value, str):
        raise TypeError(f"path ids must be str, got {type(value).__name__}")
    if value in ("", ".", ".."):
        raise ValueError(f"invalid path id {value!r}")
    return quote(value, safe="")


def retry_after_seconds(value: str | None) -> float | None:
    """Read a ``Retry-After`` header (seconds or an HTTP date), at least 0."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5 s, 1 s, 2 s... up to 8 s."""
    return min(0.5 * 2.0**attempt, 8.0) * random.uniform(0.75, 1.0)


def extract_message(text: str, status: int) -> str:
    """The human message of an error body: a JSON string field, else the text cut."""
    if not text.strip():
        return f"server returned HTTP {status}"
    try:
        data = msgspec.json.decode(text)
    except msgspec.DecodeError:
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


class SessionPool:
    """The aiohttp session shared by a client and its ``with_options`` copies."""

    def __init__(self, session: aiohttp.ClientSession | None, max_connections: int = 100) -> None:
        self.session = session
        self.owned = session is None
        self.closed = False
        self.max_connections = max_connections

    def get(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop."""
        if self.closed:
            raise LlmrixError("the client is closed")
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections)
            self.session = aiohttp.ClientSession(connector=connector)
        return self.session

    async def close(self) -> None:
        """Close the session if the client created it."""
        self.closed = True
        session, self.session = self.session, None
        if session is not None and self.owned:
            await session.close()


class Transport:
    """Shared HTTP machinery behind every resource of one client."""

    def __init__(
        self,
        *,
        base_url: URL,
        api_key: str | None,
        timeout: float | None,
        connect_timeout: float | None,
        stream_idle_timeout: float | None,
        max_retries: int,
        max_frame_bytes: int,
        pool: SessionPool,
        headers: Mapping[str, str] | None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if max_frame_bytes <= 0:
            raise ValueError("max_frame_bytes must be > 0")
        self.base_url = base_url
        self._root = "/".join((base_url.raw_path.rstrip("/"), *API_PREFIX))
        self._api_key = api_key
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.max_retries = max_retries
        self.max_frame_bytes = max_frame_bytes
        self.pool = pool
        self._headers = {"User-Agent": f"llmrix-python/{__version__}", **(headers or {})}

    def copy(self, **changes: Any) -> Transport:
        """A transport with some settings changed, sharing this one's session."""
        settings: dict[str, Any] = {
            "base_url": self.base_url,
            "api_key": self._api_key,
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "stream_idle_timeout": self.stream_idle_timeout,
            "max_retries": self.max_retries,
            "max_frame_bytes": self.max_frame_bytes,
            "pool": self.pool,
            "headers": self._headers,
        }
        unknown = set(changes) - (set(settings) - {"pool", "base_url"})
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        if "headers" in changes:
            changes["headers"] = {**self._headers, **changes["headers"]}
        settings.update(changes)
        return Transport(**settings)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session, created on first use inside the running loop."""
        return self.pool.get()

    @property
    def is_closed(self) -> bool:
        """Whether the client was closed."""
        return self.pool.closed

    @property
    def session_or_none(self) -> aiohttp.ClientSession | None:
        """The session if one exists yet."""
        return self.pool.session

    async def close(self) -> None:
        """Close the session if the client created it."""
        await self.pool.close()

    def url(self, path: tuple[str, ...]) -> URL:
        """``base_url`` + API prefix + encoded ``path`` segments."""
        encoded = "/".join((self._root, *(encode_segment(p) for p in path)))
        return self.base_url.with_path(encoded, encoded=True)

    def _request_headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = dict(self._headers)
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if extra:
            headers.update(extra)
        return headers

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
    ) -> T | None:
        """Send one JSON request and decode its answer into ``cast_to``.

        Retries follow the method's safety: GET, PUT, PATCH and DELETE (and
        calls marked ``idempotent``) are retried on connection errors and
        transient statuses; other calls only when the server said, with
        ``Retry-After`` on a 429/503, that it did not act.
        """
        data = None if body is None else _encoder.encode(body)
        headers = self._request_headers({"Content-Type": "application/json"} if data else None)
        timeout = aiohttp.ClientTimeout(total=self.timeout, connect=self.connect_timeout)
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
        response = await self._send(
            method,
            self.url(path),
            data=data,
            params=params,
            headers=headers,
            timeout=timeout,
            idempotent=idempotent,
            max_retries=self.max_retries,
        )
        try:
            payload = await response.read()
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(f"{method} {response.url.path} timed out") from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(f"{method} {response.url.path} failed: {exc}") from exc
        finally:
            response.release()
        if cast_to is None:
            return None
        try:
            return msgspec.json.decode(payload.strip() or b"{}", type=cast_to)
        except msgspec.ValidationError as exc:
            if b"null" not in payload:
                raise StreamError(
                    f"unexpected answer to {method} {response.url.path}: {exc}"
                ) from None
            try:
                lenient: T = convert_lenient(msgspec.json.decode(payload), cast_to)
            except msgspec.ValidationError as again:
                raise StreamError(
                    f"unexpected answer to {method} {response.url.path}: {again}"
                ) from None
            return lenient
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise StreamError(f"unexpected answer to {method} {response.url.path}: {exc}") from None

    async def open_stream(
        self,
        path: tuple[str, ...],
        body: Any,
        *,
        idle_timeout: float | None,
    ) -> aiohttp.ClientResponse:
        """POST ``body`` and return the open ``text/event-stream`` response."""
        headers = self._request_headers(
            {"Content-Type": "application/json", "Accept": "text/event-stream"}
        )
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout, sock_read=idle_timeout
        )
        response = await self._send(
            "POST",
            self.url(path),
            data=_encoder.encode(body),
            params=None,
            headers=headers,
            timeout=timeout,
            idempotent=False,
            max_retries=self.max_retries,
        )
        if response.content_type != "text/event-stream":
            try:
                text = await _read_capped(response)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                text = ""
            finally:
                response.close()
            raise StreamError(
                f"expected text/event-stream, got {response.content_type!r}: "
                f"{extract_message(text, response.status)}"
            )
        return response

    async def _send(
        self,
        method: str,
        url: URL,
        *,
        data: bytes | None,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
        idempotent: bool,
        max_retries: int,
    ) -> aiohttp.ClientResponse:
        session = self.session
        attempt = 0
        while True:
            try:
                response = await session.request(
                    method, url, data=data, params=params, headers=headers, timeout=timeout
                )
            except asyncio.TimeoutError as exc:
                if idempotent and attempt < max_retries:
                    attempt = await self._pause(method, url, attempt, None, "timeout")
                    continue
                raise APITimeoutError(f"{method} {url.path} timed out") from exc
            except aiohttp.ClientError as exc:
                never_sent = isinstance(exc, aiohttp.ClientConnectorError)
                if (idempotent or never_sent) and attempt < max_retries:
                    attempt = await self._pause(method, url, attempt, None, type(exc).__name__)
                    continue
                raise APIConnectionError(f"{method} {url.path} failed: {exc}") from exc
            log.debug("%s %s -> %d", method, url.path, response.status)
            if response.status < 400:
                return response
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            not_acted = response.status in (429, 503) and retry_after is not None
            if (
                response.status in RETRY_STATUSES
                and (idempotent or not_acted)
                and attempt < max_retries
                and (retry_after is None or retry_after <= MAX_RETRY_AFTER)
            ):
                response.close()
                attempt = await self._pause(
                    method, url, attempt, retry_after, f"HTTP {response.status}"
                )
                continue
            raise await self._error(response)

    async def _pause(
        self, method: str, url: URL, attempt: int, retry_after: float | None, why: str
    ) -> int:
        delay = backoff_delay(attempt) if retry_after is None else retry_after
        log.info("retrying %s %s in %.2fs after %s", method, url.path, delay, why)
        await asyncio.sleep(delay)
        return attempt + 1

    async def _error(self, response: aiohttp.ClientResponse) -> APIError:
        try:
            text = await _read_capped(response)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            text = ""
        finally:
            response.close()
        return error_for_status(response.status, extract_message(text, response.status), text)


async def _read_capped(response: aiohttp.ClientResponse) -> str:
    """Read at most `MAX_ERROR_BODY` bytes of a body, decoded leniently."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_ERROR_BODY:
        chunk = await response.content.read(MAX_ERROR_BODY - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")
