"""The ``DevServer`` lifecycle and the blocking ``serve`` helper."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from ._access import print_requests
from ._app import DevApi, RecordedRequest
from ._host import AppHost, base_url_of
from ._models import Conversation
from ._options import AuthMode, FaultOptions, Settings
from ._plan import Playable, Playback
from ._replay import replay_forever
from ._store import Store


class DevServer:
    """An in-process llmrix server with a scripted agent, for tests and local development."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        heartbeat_interval: float = 15.0,
        *,
        crlf: bool = False,
        cr: bool = False,
        bom: bool = False,
        multiline_data: bool = False,
        sse_ids: bool = False,
        no_event_line: bool = False,
        byte_per_write: bool = False,
        cut_after: int | None = None,
        malformed_after: int | None = None,
        stall_after: int | None = None,
        end_at_interrupt: bool = False,
        slow_delay: float = 0.05,
        agents_enabled: bool = True,
        auth_mode: AuthMode = "key",
        string_seq: bool = False,
        shutdown_timeout: float = 0.5,
    ) -> None:
        self.host = host
        self.settings: Settings = Settings(
            api_key=api_key,
            heartbeat_interval=heartbeat_interval,
            slow_delay=slow_delay,
            agents_enabled=agents_enabled,
            auth_mode=auth_mode,
            string_seq=string_seq,
            faults=FaultOptions(
                crlf=crlf,
                cr=cr,
                bom=bom,
                multiline_data=multiline_data,
                sse_ids=sse_ids,
                no_event_line=no_event_line,
                byte_per_write=byte_per_write,
                cut_after=cut_after,
                malformed_after=malformed_after,
                stall_after=stall_after,
                end_at_interrupt=end_at_interrupt,
            ),
        )
        self.store: Store = Store()
        self.requests: list[RecordedRequest] = []
        self._shutdown_timeout = shutdown_timeout
        self._api = DevApi(self.settings, self.store, self.requests)
        self._host = AppHost(host, port, shutdown_timeout)

    @property
    def port(self) -> int:
        """The bound TCP port (known once started)."""
        return self._address()[1]

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server, without the API prefix."""
        return base_url_of(self._address())

    def _address(self) -> tuple[str, int]:
        if not self._host.running:
            raise RuntimeError("the dev server is not running")
        return self._host.address

    @property
    def faults(self) -> FaultOptions:
        """Fault options applied to chat streams from now on."""
        return self.settings.faults

    @faults.setter
    def faults(self, value: FaultOptions) -> None:
        self.settings.faults = value

    @property
    def live_streams(self) -> int:
        """Number of chat streams currently open."""
        return self._api.runs.live_count

    def seed_conversation(
        self, title: str | None = None, *, id: str | None = None, agent_id: str | None = None
    ) -> Conversation:
        """Create a conversation directly, optionally with a chosen id (e.g. ``"a/b"``)."""
        return self.store.create_conversation(title, agent_id, id=id)

    def play(
        self, script: Playable | Mapping[str, Any], *, conversation_id: str | None = None
    ) -> Playback:
        """Queue a scripted run for the next chat turn (of ``conversation_id`` only, if given).

        ``script`` is an ``llmrix.testing.Script`` or its plain-data plan. Queued scripts
        play in order, a conversation's own before the shared ones; a turn with nothing
        queued follows its message's slash commands. The returned `Playback` records the
        decisions and stops the run received.
        """
        plan = script if isinstance(script, Mapping) else script.as_plan()
        return self._api.plans.add(plan, conversation_id)

    async def start(self) -> None:
        """Bind the socket and start serving."""
        if self._host.running:
            raise RuntimeError("the dev server is already running")
        await self._host.start(self._api.build())

    async def stop(self) -> None:
        """End open streams, close connections and release the port; idempotent."""
        if not self._host.running:
            return
        self._api.close_streams()
        await self._api.wait_streams(self._shutdown_timeout)
        await self._host.stop()

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        await asyncio.get_running_loop().create_future()

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8899,
    api_key: str | None = None,
    *,
    quiet: bool = False,
    replay: str | Path | None = None,
    replay_speed: float | None = None,
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run,
    **options: Any,
) -> None:
    """Run a dev server in the foreground until Ctrl-C (SIGINT) or SIGTERM.

    Prints the ``base_url`` to give the client, then one line per request unless
    ``quiet``. ``options`` are ``DevServer`` keywords. With ``replay`` (a cassette
    file) a `ReplayServer` answers instead, starting over once the cassette is used up.
    ``runner`` runs the server's coroutine to the end (``asyncio.run``, or one
    that makes another kind of loop).
    """

    async def main() -> None:
        task = asyncio.current_task()
        if task is not None:
            # Handled here rather than through KeyboardInterrupt: a process started with
            # SIGINT ignored (by a shell's `&` or a test runner) must still stop on it.
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, AttributeError, RuntimeError):
                    asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
        if replay is not None:
            await replay_forever(replay, host=host, port=port, speed=replay_speed)
            return
        async with DevServer(host, port, api_key, **options) as server:
            print(f"llmrix dev server running; base_url: {server.base_url}", flush=True)
            if not quiet:
                print_requests()
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        runner(main())
