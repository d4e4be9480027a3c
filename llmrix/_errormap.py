"""How aiohttp's exceptions read as llmrix errors: one table, for calls and streams.

An aiohttp exception can carry secrets: ``ClientResponseError`` keeps the
request's headers (``Authorization``), a connector error keeps the proxy's
credentials, an ``InvalidURL`` the URL with its user info. So the table
keeps only a safe description of each, and the SDK never chains the
original (neither as ``__cause__`` nor as ``__context__``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

import aiohttp

from .errors import APIConnectionError, APITimeoutError, LlmrixError

__all__ = ["Failure", "describe"]


class Failure(NamedTuple):
    """What a foreign exception means for the call that met it."""

    kind: type[LlmrixError]
    """`APIConnectionError` or `APITimeoutError`."""
    reason: str
    """A description that carries no secret."""
    never_sent: bool
    """Whether the request surely never reached the server."""
    retryable: bool = True
    """Whether trying again may help at all."""


def _host(exc: aiohttp.ClientConnectorError) -> str:
    return f"{exc.host}:{exc.port}"


def _os_reason(exc: OSError) -> str:
    """The system's words for ``exc`` (``os.strerror`` when it has an errno)."""
    if exc.errno and exc.errno > 0:
        return os.strerror(exc.errno)
    return exc.strerror or type(exc).__name__


def _tls(exc: BaseException) -> Failure:
    assert isinstance(exc, aiohttp.ClientSSLError)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = exc.certificate_error
        reason = f"the TLS certificate of {_host(exc)} was refused: {type(error).__name__}: {error}"
    else:
        reason = f"the TLS handshake with {_host(exc)} failed: {_os_reason(exc.os_error)}"
    return Failure(APIConnectionError, reason, never_sent=True)


def _connector(exc: BaseException) -> Failure:
    assert isinstance(exc, aiohttp.ClientConnectorError)
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        where = "the proxy"
    elif isinstance(exc, aiohttp.ClientConnectorDNSError):
        where = f"{exc.host} (name resolution)"
    else:
        where = _host(exc)
    return Failure(
        APIConnectionError, f"cannot connect to {where} ({_os_reason(exc.os_error)})", True
    )


def _response(exc: BaseException) -> Failure:
    assert isinstance(exc, aiohttp.ClientResponseError)
    detail = f"HTTP {exc.status} {exc.message}".rstrip() if exc.status else exc.message
    return Failure(APIConnectionError, f"{type(exc).__name__}: {detail}".rstrip(": "), False)


def _os_error(exc: BaseException) -> Failure:
    assert isinstance(exc, OSError)
    return Failure(APIConnectionError, f"connection error: {_os_reason(exc)}", False)


def _fixed(
    kind: type[LlmrixError], reason: str, *, never_sent: bool = False, retryable: bool = True
) -> Callable[[BaseException], Failure]:
    failure = Failure(kind, reason, never_sent, retryable)
    return lambda exc: failure


_TABLE: tuple[tuple[type[BaseException], Callable[[BaseException], Failure]], ...] = (
    (
        aiohttp.TooManyRedirects,
        _fixed(APIConnectionError, "too many redirects (a redirect loop?)", retryable=False),
    ),
    (
        aiohttp.ConnectionTimeoutError,
        _fixed(APITimeoutError, "connecting timed out", never_sent=True),
    ),
    (aiohttp.ClientSSLError, _tls),
    (aiohttp.ClientConnectorError, _connector),
    (aiohttp.ServerTimeoutError, _fixed(APITimeoutError, "the server sent nothing in time")),
    (
        aiohttp.ServerDisconnectedError,
        _fixed(APIConnectionError, "the server closed the connection"),
    ),
    (aiohttp.ClientResponseError, _response),
    (aiohttp.ClientPayloadError, _fixed(APIConnectionError, "the answer was cut off")),
    (aiohttp.ClientConnectionResetError, _fixed(APIConnectionError, "the connection was reset")),
    (aiohttp.InvalidURL, _fixed(APIConnectionError, "invalid URL", retryable=False)),
    (aiohttp.ClientOSError, _os_error),
    (aiohttp.ClientError, lambda exc: Failure(APIConnectionError, type(exc).__name__, False)),
)


def describe(exc: BaseException) -> Failure | None:
    """The `Failure` an aiohttp exception stands for; None for any other."""
    for kind, build in _TABLE:
        if isinstance(exc, kind):
            return build(exc)
    return None
