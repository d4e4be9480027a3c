"""Binding a listening socket and naming the URL it serves."""

from __future__ import annotations

import os
import socket

from aiohttp import web

from ._access import REQUEST_LOGGER, RequestLine


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0 picks a free port), not yet listening."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def base_url_of(address: tuple[str, int]) -> str:
    """``http://host:port`` for a bound address (a wildcard host becomes loopback)."""
    host, port = address
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class AppHost:
    """Serves one aiohttp application on a bound socket until stopped."""

    def __init__(self, host: str, port: int, shutdown_timeout: float) -> None:
        self.host = host
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None

    @property
    def running(self) -> bool:
        """Whether the application is being served."""
        return self._runner is not None

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port; raises ``RuntimeError`` when not running."""
        if self._address is None:
            raise RuntimeError("the server is not running")
        return self._address

    async def start(self, app: web.Application) -> None:
        """Bind the socket and start serving ``app``."""
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        sock = bind(self.host, self._requested_port)
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            shutdown_timeout=self._shutdown_timeout,
            access_log_class=RequestLine,
            access_log=REQUEST_LOGGER,
        )
        try:
            await runner.setup()
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner = runner
        name = sock.getsockname()
        self._address = (str(name[0]), int(name[1]))

    async def stop(self) -> None:
        """Close connections and release the port; idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._address = None
