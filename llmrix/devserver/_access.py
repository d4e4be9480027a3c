"""One line per request (method, path, status, time) on the ``llmrix.devserver`` logger."""

from __future__ import annotations

import logging
import sys

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

REQUEST_LOGGER = logging.getLogger("llmrix.devserver.requests")


class RequestLine(AbstractAccessLogger):
    """Formats a finished request as ``POST /api/open/v1/conversations 200 1.2 ms``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %d %.1f ms", request.method, request.path_qs, response.status, time * 1000
        )


def print_requests() -> None:
    """Send the request lines to standard output (what ``llmrix serve`` does)."""
    if REQUEST_LOGGER.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    REQUEST_LOGGER.addHandler(handler)
    REQUEST_LOGGER.setLevel(logging.INFO)
    REQUEST_LOGGER.propagate = False
