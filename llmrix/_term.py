"""Terminal helpers for the ``llmrix`` command: ANSI styles and a stdin line reader."""

from __future__ import annotations

import asyncio
import codecs
import os
import threading
from collections.abc import Callable
from typing import TextIO

_RESET = "\033[0m"
_GLYPHS = {"tool": "⚙", "ok": "✓", "fail": "✗", "ask": "?", "stop": "■", "to": "→", "more": "…"}
_ASCII_GLYPHS = {
    "tool": "*",
    "ok": "+",
    "fail": "x",
    "ask": "?",
    "stop": "#",
    "to": "->",
    "more": "...",
}


def colour_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty: Callable[[], bool] | None = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    """Wraps text in ANSI colours when enabled; returns it unchanged otherwise."""

    def __init__(self, enabled: bool, glyphs: dict[str, str] | None = None) -> None:
        self.enabled = enabled
        self.glyphs = glyphs or _GLYPHS

    @classmethod
    def for_stream(cls, stream: TextIO) -> Style:
        """The style suited to ``stream``: colour per ``colour_wanted``, ASCII marks when
        its encoding cannot write the usual ones."""
        try:
            "".join(_GLYPHS.values()).encode(getattr(stream, "encoding", None) or "ascii")
        except (UnicodeEncodeError, LookupError):
            return cls(colour_wanted(stream), _ASCII_GLYPHS)
        return cls(colour_wanted(stream))

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}{_RESET}" if self.enabled and text else text

    def dim(self, text: str) -> str:
        """Secondary detail: arguments, results, hints."""
        return self._paint("2", text)

    def tool(self, text: str) -> str:
        """Tool and sub-agent activity."""
        return self._paint("36", text)

    def approval(self, text: str) -> str:
        """Questions put to the user."""
        return self._paint("1;33", text)

    def error(self, text: str) -> str:
        """Failures."""
        return self._paint("1;31", text)

    def notice(self, text: str) -> str:
        """Status lines such as a cancelled run."""
        return self._paint("35", text)

    def prompt(self, text: str) -> str:
        """The input prompt."""
        return self._paint("1;32", text)


class LineReader:
    """Reads lines from a stream's file descriptor without blocking the event loop.

    A daemon thread does the blocking ``os.read`` (no Python-level lock is held while
    it waits), so Ctrl-C can end the program at any moment: nothing waits for the
    thread, and no typed line is swallowed by a read that outlives its caller.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: asyncio.Queue[str | None] | None = None
        self._eof = False

    def _start(self) -> asyncio.Queue[str | None]:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        fd = self._stream.fileno()

        def pump() -> None:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            pending = ""
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                pending += decoder.decode(chunk, final=not chunk)
                *complete, pending = pending.split("\n")
                for line in complete:
                    loop.call_soon_threadsafe(lines.put_nowait, line + "\n")
                if not chunk:
                    if pending:
                        loop.call_soon_threadsafe(lines.put_nowait, pending)
                    loop.call_soon_threadsafe(lines.put_nowait, None)
                    return

        threading.Thread(target=pump, name="llmrix-stdin", daemon=True).start()
        return lines

    async def readline(self) -> str:
        """The next line, with its newline; raises ``EOFError`` at the end of input."""
        if self._eof:
            raise EOFError
        if self._lines is None:
            self._lines = self._start()
        line = await self._lines.get()
        if line is None:
            self._eof = True
            raise EOFError
        return line
