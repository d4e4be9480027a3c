"""Base URL checks and path-segment encoding."""

from __future__ import annotations

from urllib.parse import quote

from yarl import URL

__all__ = ["encode_segment", "parse_base_url"]


API_PATH = "/api/open/v1"
"""Where the Open API lives under a server's ``base_url``."""


def parse_base_url(base_url: str) -> URL:
    """Validate ``base_url`` (http or https, with a host); strip trailing slashes and a
    trailing ``/api/open/v1``, which the client adds to every request itself."""
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    url = URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    if url.query_string or url.fragment:
        raise ValueError(f"base_url must not carry a query or fragment, got {base_url!r}")
    path = url.raw_path.rstrip("/")
    if path.endswith(API_PATH):
        path = path[: -len(API_PATH)]
    return url.with_path(path, encoded=True)


def encode_segment(value: str) -> str:
    """Percent-encode one path parameter so it can never change the route."""
    if not isinstance(value, str):
        raise TypeError(f"path ids must be str, got {type(value).__name__}")
    if value in ("", ".", ".."):
        raise ValueError(f"invalid path id {value!r}")
    return quote(value, safe="")
