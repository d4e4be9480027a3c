"""``Redactor``: keeps a client's secrets out of what it shows (errors, headers, logs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["Redactor"]

MASK = "***"


class Redactor:
    """Replaces each secret (the API key, URL password, credentials) with ``***``.

    A server may echo what it was sent (an error body quoting the key, a
    debug header): anything built from an answer passes through here before
    an error, a `RawResponse` or a log line shows it.
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def text(self, value: str) -> str:
        """``value`` with every secret masked."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def headers(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        """``headers`` as they are, or a case-insensitive copy with secrets masked."""
        if not any(secret in value for value in headers.values() for secret in self._secrets):
            return headers
        items = headers.items()
        return CIMultiDictProxy(CIMultiDict((name, self.text(value)) for name, value in items))
