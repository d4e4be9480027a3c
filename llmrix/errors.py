"""Exception hierarchy: everything the SDK raises derives from `LlmrixError`."""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "LlmrixError",
    "NotFoundError",
    "RateLimitError",
    "RunPausedError",
    "StreamError",
    "UnprocessableEntityError",
    "error_for_status",
]


class LlmrixError(Exception):
    """Base class of every error raised by the SDK."""


class APIError(LlmrixError):
    """The server answered with a non-2xx status."""

    def __init__(self, status_code: int, message: str, body: str = "") -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, message={self.message!r})"


class BadRequestError(APIError):
    """HTTP 400."""


class AuthenticationError(APIError):
    """HTTP 401 or 403: missing, wrong or insufficient API key."""


class NotFoundError(APIError):
    """HTTP 404."""


class ConflictError(APIError):
    """HTTP 409."""


class UnprocessableEntityError(APIError):
    """HTTP 422."""


class RateLimitError(APIError):
    """HTTP 429."""


class InternalServerError(APIError):
    """HTTP 500 or above."""


class APIConnectionError(LlmrixError):
    """The request never got a complete answer: refused, reset, DNS, TLS..."""


class APITimeoutError(APIConnectionError):
    """A timeout fired: total request time, connect, or a stalled stream."""


class StreamError(LlmrixError):
    """The stream could not go on: bad SSE or JSON, a cut-off stream, or a run error.

    ``event`` holds the server's ``ErrorEvent`` when the run itself failed.
    """

    def __init__(self, message: str, *, event: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.event = event


class RunPausedError(LlmrixError):
    """The run stopped for a human decision where only its text was asked for.

    ``interrupt`` is the ``HitlInterruptEvent``. Inside ``async with``, answer it
    with ``stream.decide()`` and call ``final_text()`` again to read on.
    """

    def __init__(self, interrupt: object) -> None:
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
}


def error_for_status(status_code: int, message: str, body: str) -> APIError:
    """Build the `APIError` subclass that matches ``status_code``."""
    if status_code >= 500:
        return InternalServerError(status_code, message, body)
    return _BY_STATUS.get(status_code, APIError)(status_code, message, body)


# The official llmrix-python-sdk's names, so that code moving over keeps working.
# Not the same statuses: its auth error also covers 503 (ours: InternalServerError)
# and not 403 (ours: AuthenticationError). See docs/migration.md.
LlmrixApiError = APIError
LlmrixAuthError = AuthenticationError
__all__ += ["LlmrixApiError", "LlmrixAuthError"]
