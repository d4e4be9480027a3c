"""Run the ``llmrix`` command in a real pseudo-terminal, as a person would."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

ROWS, COLUMNS = 30, 100
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _take_terminal() -> None:
    """In the child, after setsid(): make the pty (its stdin) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A child process whose stdin, stdout and stderr are one pty it controls.

    Keys sent with ``send`` go through the terminal's line discipline, so ``"\\x03"`` is
    delivered as SIGINT to the child and ``"\\x04"`` at the start of a line as end of input.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llmrix", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_take_terminal,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        )
        os.close(slave)
        self._master = master
        self._raw = bytearray()
        self._changed = asyncio.Event()
        self._eof = False
        asyncio.get_running_loop().add_reader(master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except OSError:
            data = b""
        if not data:
            self._eof = True
            asyncio.get_running_loop().remove_reader(self._master)
        self._raw += data
        self._changed.set()

    @property
    def raw_output(self) -> str:
        """Everything the child wrote, colour codes included, CRLF turned into LF."""
        return self._raw.decode(errors="replace").replace("\r\n", "\n")

    @property
    def output(self) -> str:
        """The text as a person reads it: ``raw_output`` without colour codes."""
        return _ANSI.sub("", self.raw_output)

    def send(self, keys: str) -> None:
        """Type ``keys`` (use ``"\\r"`` for Enter)."""
        os.write(self._master, keys.encode())

    async def expect(self, text: str, *, after: int = 0, timeout: float = 20.0) -> int:
        """Wait until ``text`` appears at or after offset ``after``; return its end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.output.find(text, after)
            if found >= 0:
                return found + len(text)
            left = deadline - loop.time()
            if self._eof or left <= 0:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{self.output}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait(self, timeout: float = 20.0) -> int:
        """Wait for the child to exit (it is killed after ``timeout``); its exit code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.process.poll() is None:
            if loop.time() > deadline:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"still running after {timeout} s; screen:\n{self.output}")
            await asyncio.sleep(0.02)
        while not self._eof and loop.time() < deadline:
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.2)
        return self.process.returncode

    def close(self) -> None:
        """Kill the child if it still runs and release the pty."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(ValueError, RuntimeError):
            asyncio.get_running_loop().remove_reader(self._master)
        os.close(self._master)
