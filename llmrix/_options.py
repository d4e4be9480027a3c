"""``ClientOptions``: every setting of a client, as one frozen value."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypedDict

from yarl import URL

from ._retry import RetryPolicy
from ._suggest import unknown_names_error
from ._urls import parse_base_url
from ._version import __version__
from .sse import DEFAULT_MAX_FRAME_BYTES

__all__ = [
    "ClientOptions",
    "OptionChanges",
    "RequestOptions",
    "check_headers",
    "check_request_options",
]

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})


class OptionChanges(TypedDict, total=False):
    """The settings `LlmrixClient.with_options` can change."""

    api_key: str | None
    timeout: float | None
    connect_timeout: float | None
    stream_idle_timeout: float | None
    undecided_warning: float | None
    max_retries: int
    retry: RetryPolicy
    max_frame_bytes: int
    max_response_bytes: int
    headers: Mapping[str, str]


class RequestOptions(TypedDict, total=False):
    """Settings for one call, accepted by every resource method and ``chat.stream()``.

    ``extra_headers`` and ``extra_query`` are added to the request,
    ``extra_body`` is merged into its JSON body, and ``timeout`` replaces the
    client's ``timeout`` for this call.
    """

    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str]
    extra_body: Mapping[str, object]
    timeout: float | None


def check_request_options(options: Mapping[str, object]) -> None:
    """Raise ``TypeError``/``ValueError`` for an unknown or ill-typed per-call option."""
    unknown = set(options) - set(RequestOptions.__annotations__)
    if unknown:
        raise unknown_names_error("per-call option", unknown, RequestOptions.__annotations__)
    for name in ("extra_headers", "extra_query"):
        value = options.get(name)
        if value is not None and not (
            isinstance(value, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            raise TypeError(f"{name} must be a mapping of str to str")
    extra_headers = options.get("extra_headers")
    if extra_headers:
        check_headers("extra_headers", extra_headers)  # type: ignore[arg-type]
    extra_body = options.get("extra_body")
    if extra_body is not None and not isinstance(extra_body, Mapping):
        raise TypeError("extra_body must be a mapping")
    if "timeout" in options:
        check_timeout("timeout", options["timeout"])


def check_headers(option: str, headers: Mapping[str, str]) -> None:
    """Raise ``ValueError`` for a header that is not valid HTTP (RFC 9110, section 5).

    A name must be a token (no ``:``, space or control character, not empty);
    a value must hold no control character but tab (no CR/LF: no header
    injection). The error names the header, never its value (it may be a secret).
    """
    for name, value in headers.items():
        if not name or not _TOKEN.issuperset(name):
            raise ValueError(f"{option}: {name!r} is not a valid HTTP header name")
        if any((ch < " " and ch != "\t") or ch == "\x7f" for ch in value):
            raise ValueError(
                f"{option}: the value of header {name!r} holds a control character "
                "(CR, LF...), which HTTP does not allow"
            )


def check_timeout(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be > 0 seconds (None for no limit), got {value!r}")


def _check_count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _clean_api_key(api_key: object) -> str | None:
    if api_key is None:
        return None
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str or None, got {type(api_key).__name__}")
    key = api_key.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise ValueError("api_key contains whitespace or control characters")
    return key or None


@dataclass(frozen=True)
class ClientOptions:
    """The settings of one client; `replace` gives a changed copy.

    ``timeout`` bounds each attempt of a call (waiting for a pooled connection,
    connecting, sending, reading the answer) and the opening of a stream (up to
    its headers). ``connect_timeout`` bounds establishing one socket.
    ``stream_idle_timeout`` bounds each wait for stream bytes.
    ``undecided_warning``: seconds a stream may wait at an unanswered interrupt
    before one warning is logged (``None``: never).
    """

    base_url: URL = field(repr=False)
    api_key: str | None = field(default=None, repr=False)
    timeout: float | None = 60.0
    connect_timeout: float | None = 10.0
    stream_idle_timeout: float | None = 60.0
    undecided_warning: float | None = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_connections: int = 100
    trust_env: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, base_url: str, **settings: object) -> ClientOptions:
        """Options from a base URL string and keyword settings, all checked."""
        return cls(base_url=parse_base_url(base_url), **settings)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_key", _clean_api_key(self.api_key))
        if self.api_key and (self.base_url.user or self.base_url.password):
            raise ValueError("give either api_key or credentials in base_url, not both")
        for name in ("timeout", "connect_timeout", "stream_idle_timeout", "undecided_warning"):
            check_timeout(name, getattr(self, name))
        _check_count("max_frame_bytes", self.max_frame_bytes, 1)
        _check_count("max_response_bytes", self.max_response_bytes, 1)
        _check_count("max_connections", self.max_connections, 1)
        if not isinstance(self.retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, got {self.retry!r}")
        if not isinstance(self.trust_env, bool):
            raise TypeError(f"trust_env must be a bool, got {self.trust_env!r}")
        if not isinstance(self.headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            raise TypeError("headers must be a mapping of str to str")
        check_headers("headers", self.headers)
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    def __repr__(self) -> str:
        shown = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "api_key"
        }
        shown["base_url"] = str(self.base_url.with_user(None))
        shown["headers"] = {
            k: ("***" if k.lower() == "authorization" else v) for k, v in self.headers.items()
        }
        body = ", ".join(f"{name}={value!r}" for name, value in shown.items())
        return f"ClientOptions({body})"

    def replace(self, **changes: object) -> ClientOptions:
        """A copy with ``changes`` (`OptionChanges` keys); headers are merged."""
        unknown = set(changes) - set(OptionChanges.__annotations__)
        if unknown:
            raise unknown_names_error("option", unknown, OptionChanges.__annotations__)
        if "max_retries" in changes:
            retry = changes.pop("retry", self.retry)
            if not isinstance(retry, RetryPolicy):
                raise TypeError(f"retry must be a RetryPolicy, got {retry!r}")
            max_retries: Any = changes.pop("max_retries")
            changes["retry"] = dataclasses.replace(retry, max_retries=max_retries)
        if "headers" in changes:
            extra = changes["headers"]
            if not isinstance(extra, Mapping):
                raise TypeError("headers must be a mapping of str to str")
            changes["headers"] = {**self.headers, **extra}
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def secrets(self) -> tuple[str, ...]:
        """What must never be shown: the API key, the URL's password, credentials in headers."""
        found = [self.api_key or "", self.base_url.password or ""]
        for name, value in self.headers.items():
            if name.lower() in _CREDENTIAL_HEADERS:
                found += [value, value.partition(" ")[2].strip()]
        return tuple(secret for secret in found if secret)

    def base_headers(self) -> dict[str, str]:
        """Headers every request carries: user agent, auth, the user's own."""
        headers = {"User-Agent": f"llmrix-python/{__version__}"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(self.headers)
        return headers
