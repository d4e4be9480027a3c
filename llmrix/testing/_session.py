"""``use_cassette``: record or replay one session on a server thread of its own."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..devserver import _cassette as cs
from ..devserver._replay import DEFAULT_ACTION_TIMEOUT, ReplayServer
from ._recorder import Recorder

__all__ = ["CassetteSession", "RecordMode", "ServerThread", "use_cassette"]

RecordMode = Literal["none", "once", "all"]
"""``none``: replay only; ``once``: record a missing cassette; ``all``: record again."""

RECORD_MODES: tuple[RecordMode, ...] = ("none", "once", "all")
_T = TypeVar("_T")
_CALL_TIMEOUT = 30.0


class ServerThread:
    """An event loop on a daemon thread, to serve while the caller's thread blocks."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="llmrix-cassette", daemon=True
        )
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the thread's loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(_CALL_TIMEOUT)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_CALL_TIMEOUT)
        self._loop.close()


class CassetteSession:
    """A cassette in use: point a client at ``base_url``.

    ``recording`` tells which way it goes; ``server`` is the `Recorder` or the
    `ReplayServer` behind ``base_url``.
    """

    def __init__(self, path: Path, server: Recorder | ReplayServer) -> None:
        self.path: Path = path
        self.server: Recorder | ReplayServer = server
        self.discarded: bool = False

    def discard(self) -> None:
        """Neither write the recording nor check the replay when the block ends."""
        self.discarded = True

    @property
    def recording(self) -> bool:
        """True when recording, False when replaying."""
        return isinstance(self.server, Recorder)

    @property
    def base_url(self) -> str:
        """Where clients go."""
        return self.server.base_url

    def __repr__(self) -> str:
        way = "recording" if self.recording else "replaying"
        return f"CassetteSession({way} {str(self.path)!r} at {self.base_url})"


@contextmanager
def use_cassette(
    path: str | Path,
    *,
    record: RecordMode = "none",
    base_url: str | None = None,
    api_key: str | None = None,
    redact: cs.Redact | None = None,
    speed: float | None = None,
    action_timeout: float = DEFAULT_ACTION_TIMEOUT,
) -> Iterator[CassetteSession]:
    """Serve a cassette (or record one) for the block; works for async and sync clients.

    Replaying (``record="none"``, or ``"once"`` with the file present) fails when
    the block ends if a request differed or was never made (`CassetteMismatch`).
    Recording forwards to ``base_url`` (default ``LLMRIX_BASE_URL``) with ``api_key``
    (default ``LLMRIX_API_KEY``) and writes the file when the block ends without error.
    Raises `FileNotFoundError` when replaying a missing file.
    """
    if record not in RECORD_MODES:
        raise ValueError(f"record must be one of {RECORD_MODES}, got {record!r}")
    path = Path(path)
    recording = record == "all" or (record == "once" and not path.exists())
    if not recording and not path.exists():
        raise FileNotFoundError(f"no cassette at {path}")
    server: Recorder | ReplayServer
    if recording:
        upstream = base_url or os.environ.get("LLMRIX_BASE_URL")
        if not upstream:
            raise ValueError(
                "recording a cassette needs a server: pass base_url or set LLMRIX_BASE_URL"
            )
        key = api_key if api_key is not None else os.environ.get("LLMRIX_API_KEY")
        server = Recorder(upstream, api_key=key or None, redact=redact)
    else:
        server = ReplayServer(path, speed=speed, redact=redact, action_timeout=action_timeout)
    thread = ServerThread()
    try:
        thread.call(server.start())
        try:
            used = CassetteSession(path, server)
            yield used
        finally:
            thread.call(server.stop())
    finally:
        thread.close()
    if used.discarded:
        return
    if isinstance(server, Recorder):
        server.save(path)
    else:
        server.check()
