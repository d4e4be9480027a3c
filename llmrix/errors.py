"""Exception hierarchy: everything the SDK raises derives from `LlmrixError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import ErrorEvent, HitlInterruptEvent

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "InternalServerError",
    "LlmrixError",
    "NotFoundError",
    "RateLimitError",
    "RunPausedError",
    "ServiceUnavailableError",
    "StreamError",
    "UnprocessableEntityError",
    "error_for_status",
]


class LlmrixError(Exception):
    """Base class of every error raised by the SDK."""


REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id")


class APIError(LlmrixError):
    """The server answered with a non-2xx status.

    ``body`` is the answer's text (capped), ``headers`` its headers, and
    ``request_id`` the server's id for the request when a header carries one.
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        body: str = "",
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.body = body
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.request_id: str | None = request_id_of(self.headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, message={self.message!r})"


class BadRequestError(APIError):
    """HTTP 400: the server refused the request itself (a missing or invalid field)."""


class AuthenticationError(APIError):
    """HTTP 401 or 403: missing, wrong or insufficient API key."""


class NotFoundError(APIError):
    """HTTP 404: no such conversation, task or agent (or a wrong ``base_url`` prefix)."""


class ConflictError(APIError):
    """HTTP 409: the request clashes with the state, e.g. a decision with no run waiting."""


class UnprocessableEntityError(APIError):
    """HTTP 422: the body was understood but its values were refused."""


class RateLimitError(APIError):
    """HTTP 429: too many requests; retried per `RetryPolicy`, honouring ``Retry-After``."""


class InternalServerError(APIError):
    """HTTP 500 or above: the server failed (idempotent calls were retried first)."""


class ServiceUnavailableError(InternalServerError):
    """HTTP 503: the server, or this part of it, does not serve the call.

    Deployments answer 503 for the agent endpoints when they have no agents
    (only cloud deployments do) and for every call when their auth is not
    configured; ``message`` is what the server said. Not retried unless the
    answer carries ``Retry-After`` (see `RetryPolicy`).
    """


class APIConnectionError(LlmrixError):
    """The request never got a complete answer: refused, reset, DNS, TLS..."""


class APITimeoutError(APIConnectionError):
    """A timeout fired: total request time, connect, or a stalled stream."""


class ClientClosedError(LlmrixError):
    """The client was closed before or while the call or stream ran."""


class APIResponseValidationError(LlmrixError):
    """A successful answer could not be read: not JSON, the wrong shape, or too large."""


class StreamError(LlmrixError):
    """The stream could not go on: bad SSE or JSON, a cut-off stream, or a run error.

    ``event`` holds the server's ``ErrorEvent`` when the run itself failed.
    """

    def __init__(self, message: str, *, event: ErrorEvent | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.event = event


class RunPausedError(LlmrixError):
    """The run stopped for a human decision where only its text was asked for.

    ``interrupt`` is the ``HitlInterruptEvent``. Inside ``async with``, answer it
    with ``stream.decide()`` and call ``final_text()`` again to read on.
    """

    def __init__(self, interrupt: HitlInterruptEvent) -> None:
        what = getattr(interrupt, "description", "") or getattr(interrupt, "action_name", "")
        super().__init__(f"the run is waiting for a human decision: {what}".rstrip(": "))
        self.interrupt = interrupt


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id, from the first header that carries one."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name) or headers.get(name.title())
        if value:
            return value
    return None


def error_for_status(
    status_code: int, message: str, body: str, *, headers: Mapping[str, str] | None = None
) -> APIError:
    """Build the `APIError` subclass that matches ``status_code``."""
    kind = _BY_STATUS.get(status_code, InternalServerError if status_code >= 500 else APIError)
    return kind(status_code, message, body, headers=headers)


# The official llmrix-python-sdk's names, so that code moving over keeps working.
# Not the same statuses: its auth error also covers 503 (ours: InternalServerError)
# and not 403 (ours: AuthenticationError). See docs/migration.md.
LlmrixApiError = APIError
LlmrixAuthError = AuthenticationError
__all__ += ["LlmrixApiError", "LlmrixAuthError"]
