"""The ``llmrix`` command: ``serve``, ``demo`` and ``chat``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ._client import LlmrixClient
from ._loop import run as run_loop
from ._term import LineReader, Style
from ._version import __version__
from .errors import LlmrixError
from .events import (
    CancelledEvent,
    ErrorEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    StreamEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
)
from .models import HitlDecision
from .resources import Chat

__all__ = ["main"]

EXIT_INTERRUPTED = 130
HISTORY_WIDTH = 70
"""Characters of each message the demo shows in the history."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmrix",
        description="llmrix SDK tools: a dev server, a guided demo and a chat client.",
    )
    parser.add_argument("--version", action="version", version=f"llmrix {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the embedded dev server until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8899, help="TCP port (default: %(default)s)")
    serve.add_argument("--api-key", default=None, help="require this bearer key")
    serve.add_argument(
        "--auth-mode",
        choices=["key", "forbidden", "unconfigured"],
        default="key",
        help="'forbidden' answers 403 to every request, 'unconfigured' answers 503"
        " (auth not configured); default: check --api-key if given",
    )
    serve.add_argument(
        "--string-seq",
        action="store_true",
        help="send conversation and message seq cursors as strings",
    )
    serve.add_argument(
        "--heartbeat-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="send a keep-alive after this long without output (default: %(default)s)",
    )
    serve.add_argument("--quiet", action="store_true", help="do not print a line for each request")
    serve.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help='fault options for every chat stream, e.g. "crlf, cut_after=3"',
    )
    serve.add_argument(
        "--replay",
        metavar="FILE",
        help="serve a recorded cassette instead of the scripted agent (strictly, in order;"
        " it starts over once used up)",
    )
    serve.add_argument(
        "--replay-speed",
        type=float,
        metavar="FACTOR",
        help="replay with the recorded timing, FACTOR times as fast (default: at once)",
    )

    commands.add_parser("demo", help="start a dev server and walk through a session")

    chat = commands.add_parser("chat", help="chat with a server from the terminal")
    chat.add_argument("message", nargs="?", help="send one message; without it, chat interactively")
    chat.add_argument(
        "--conversation", metavar="ID", help="an existing conversation (default: new)"
    )
    _add_server_options(
        chat,
        base_url_help="server URL (default: the LLMRIX_BASE_URL environment variable)",
        api_key_help="bearer key (default: the LLMRIX_API_KEY environment variable)",
    )
    chat.add_argument("--model", help='model for every turn, e.g. "openai:gpt-4o"')
    chat.add_argument("--agent", metavar="AGENT_ID", help="agent to answer every turn")

    record = commands.add_parser(
        "record", help="record one chat turn with a server as a cassette (JSONL)"
    )
    record.add_argument("message", help="the message to send")
    record.add_argument("--out", required=True, metavar="FILE", help="cassette file to write")
    record.add_argument("--conversation", metavar="ID", help="an existing conversation")
    _add_server_options(
        record,
        base_url_help="server to record (default: the LLMRIX_BASE_URL environment variable)",
        api_key_help="bearer key, never written to the cassette (default: LLMRIX_API_KEY)",
    )
    record.add_argument("--model", help='model for the turn, e.g. "openai:gpt-4o"')
    record.add_argument("--agent", metavar="AGENT_ID", help="agent to answer the turn")
    return parser


def _add_server_options(
    parser: argparse.ArgumentParser, *, base_url_help: str, api_key_help: str
) -> None:
    """``--base-url`` and ``--api-key``, defaulting to the environment (chat, record)."""
    parser.add_argument("--base-url", default=os.environ.get("LLMRIX_BASE_URL"), help=base_url_help)
    parser.add_argument("--api-key", default=os.environ.get("LLMRIX_API_KEY"), help=api_key_help)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmrix`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve_command(args)
        if args.command == "demo":
            return run_loop(_demo(sys.stdout))
        if args.command == "record":
            return run_loop(_record(args))
        return run_loop(_ChatSession(args).run())
    except (LlmrixError, ValueError, OSError) as exc:
        print(f"llmrix: error: {exc}", file=sys.stderr)
        return 1
    except EOFError:
        print("llmrix: error: input ended before an answer was given", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


def _serve_command(args: argparse.Namespace) -> int:
    from .devserver import FaultOptions, serve

    faults = FaultOptions().merged(args.faults)
    if args.replay is not None and not os.path.isfile(args.replay):
        raise ValueError(f"no cassette file {args.replay!r}")
    if args.replay_speed is not None and not args.replay_speed > 0:
        raise ValueError("--replay-speed must be a positive number")
    try:
        serve(
            args.host,
            args.port,
            args.api_key,
            replay=args.replay,
            replay_speed=args.replay_speed,
            heartbeat_interval=args.heartbeat_interval,
            auth_mode=args.auth_mode,
            string_seq=args.string_seq,
            quiet=args.quiet,
            runner=run_loop,
            **dataclasses.asdict(faults),
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                f"port {args.port} on {args.host} is already in use (choose another with --port)"
            ) from None
        raise
    return 0


async def _record(args: argparse.Namespace) -> int:
    """``llmrix record``: one ``llmrix chat`` turn through a recording proxy."""
    from .testing import Recorder

    if not args.base_url:
        raise ValueError("no server: pass --base-url or set LLMRIX_BASE_URL")
    async with Recorder(args.base_url, api_key=args.api_key) as recorder:
        through = argparse.Namespace(**{**vars(args), "base_url": recorder.base_url})
        code = await _ChatSession(through).run()
    recorder.save(args.out)
    count = sum(1 + len(exchange.get("actions", [])) for exchange in recorder.exchanges)
    print(f"llmrix: recorded {count} requests to {args.out}", file=sys.stderr)
    return code


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class _Printer:
    """Writes events readably as they arrive: text inline, everything else on its own line."""

    def __init__(self, out: TextIO, style: Style | None = None) -> None:
        self.out = out
        self.style = style or Style.for_stream(out)
        self.mid_line = False

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
        if text:
            self.mid_line = not text.endswith("\n")

    def end_line(self) -> None:
        if self.mid_line:
            self.write("\n")

    def line(self, text: str) -> None:
        self.end_line()
        self.write(text + "\n")

    def event(self, event: StreamEvent) -> None:
        s = self.style
        g = s.glyphs
        match event:
            case MessageChunkEvent(content=text):
                self.write(text)
            case ToolStartEvent():
                name = event.name or event.call_id
                self.line(s.tool(f"  {g['tool']} {name}") + s.dim(f" {_compact(event.arguments)}"))
            case ToolEndEvent():
                result = event.result
                output = result if isinstance(result, str) else _compact(result)
                if event.is_error:
                    self.line(s.error(f"  {g['fail']} {event.name} failed: {output}"))
                else:
                    self.line(s.tool(f"  {g['ok']} {event.name}") + s.dim(f" {g['to']} {output}"))
            case SubagentStartEvent():
                self.line(s.tool(f"  {g['tool']} sub-agent {event.agent} started"))
            case SubagentEndEvent():
                if event.is_error:
                    self.line(s.error(f"  {g['fail']} sub-agent {event.agent} failed"))
                else:
                    self.line(s.tool(f"  {g['ok']} sub-agent {event.agent} finished"))
            case HitlInterruptEvent():
                for name, args, description in _actions(event):
                    self.line(s.approval(f"  {g['ask']} approval needed: {description or name}"))
                    self.line(s.approval(f"    {name}") + f" {_compact(args)}")
            case ErrorEvent():
                self.line(s.error(f"  {g['fail']} error: {event.message} ({event.error_code})"))
            case CancelledEvent():
                self.line(s.notice(f"  {g['stop']} cancelled: {event.why}"))


def _clip(text: str, width: int, more: str) -> str:
    """``text`` cut to ``width`` characters, the cut marked with ``more``."""
    return text if len(text) <= width else text[: width - len(more)] + more


def _actions(event: HitlInterruptEvent) -> list[tuple[str, Any, str]]:
    """The actions an interrupt asks about, whichever wire shape it came in."""
    return [(r.name, r.args, r.description) for r in event.requests]


async def _demo(out: TextIO) -> int:
    from .devserver import DevServer

    show = _Printer(out)
    async with (
        DevServer(heartbeat_interval=1.0) as server,
        LlmrixClient(server.base_url) as client,
    ):
        show.line(f"Started a dev server at {server.base_url}\n")
        conversation = await client.conversations.create(title="llmrix demo")
        show.line(f"1. Created conversation {conversation.id!r}\n")
        chat = client.chat(conversation.id)

        show.line("2. A streamed reply (text appears as it arrives):")
        async with chat.stream("Hello! What can you do?") as stream:
            async for event in stream:
                show.event(event)
        show.line("")

        show.line("3. A run that calls a tool:")
        async with chat.stream("Find cat pictures /tool web_search") as stream:
            async for event in stream:
                show.event(event)
        show.line("")

        show.line("4. A run that needs approval, approved from inside the loop:")
        async with chat.stream("Delete old backups /hitl") as stream:
            async for event in stream:
                show.event(event)
                if isinstance(event, HitlInterruptEvent):
                    show.line("  -> await stream.decide([HitlDecision.approve()])")
                    await stream.decide([HitlDecision.approve()])
        show.line("")

        show.line("5. A slow run, stopped after three chunks:")
        chunks = 0
        async with chat.stream("Tell me a long story /slow") as stream:
            async for event in stream:
                show.event(event)
                if isinstance(event, MessageChunkEvent):
                    chunks += 1
                    if chunks == 3:
                        show.line("  -> await stream.stop()")
                        await stream.stop()
        show.line("")

        show.line("6. The conversation's history:")
        async for message in client.conversations.iter_messages(conversation.id):
            content = (message.content or "").replace("\n", " ")
            tools = ", ".join(call.name for call in message.tool_calls or [])
            shown = _clip(content, HISTORY_WIDTH, show.style.glyphs["more"])
            show.line(f"  {message.role:>9}: {shown}" + (f" [{tools}]" if tools else ""))
        show.line("\nDone. Run `llmrix serve` to keep a dev server up for your own code.")
    return 0


class _ChatSession:
    """``llmrix chat``: one conversation, turn after turn, with Ctrl-C handled by hand.

    Ctrl-C at the ``>`` prompt quits at once; during a turn (including the approval
    prompt) it stops the run through ``chat.stop()``; a second Ctrl-C in the same turn
    quits.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.show = _Printer(sys.stdout)
        self.reader = LineReader(sys.stdin)
        self.stopping: asyncio.Event | None = None
        """Set once Ctrl-C asked the current turn to stop; ``None`` between turns."""
        self.quitting = False

    async def run(self) -> int:
        if not self.args.base_url:
            raise ValueError("no server: pass --base-url or set LLMRIX_BASE_URL")
        main_task = asyncio.current_task()
        assert main_task is not None
        loop = asyncio.get_running_loop()

        def sigint() -> None:
            if self.stopping is None or self.stopping.is_set():
                self.quitting = True
                main_task.cancel()
            else:
                self.stopping.set()
                self.show.line(
                    self.show.style.notice(
                        f"  {self.show.style.glyphs['stop']} stopping... (Ctrl-C again quits)"
                    )
                )

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, sigint)
        try:
            return await self._session()
        except asyncio.CancelledError:
            if not self.quitting:
                raise
            self.show.end_line()
            return EXIT_INTERRUPTED
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    async def _session(self) -> int:
        args = self.args
        async with LlmrixClient(args.base_url, args.api_key) as client:
            conversation_id = args.conversation
            if conversation_id is None:
                conversation_id = (await client.conversations.create(title="llmrix chat")).id
            chat = client.chat(conversation_id)
            if args.message is not None:
                await self._turn(chat, args.message)
                return 0
            s = self.show.style
            self.show.line(s.dim(f"Conversation {conversation_id}"))
            self.show.line(s.dim("Empty line or Ctrl-D quits; Ctrl-C stops a reply."))
            while True:
                try:
                    message = await self._ask(s.prompt("> "))
                except EOFError:
                    self.show.end_line()
                    return 0
                if not message:
                    return 0
                try:
                    await self._turn(chat, message)
                except LlmrixError as exc:
                    self.show.line(s.error(f"  {s.glyphs['fail']} {exc}"))

    async def _ask(self, prompt: str) -> str:
        self.show.write(prompt)
        line = await self.reader.readline()
        self.show.mid_line = False
        return line.strip()

    async def _turn(self, chat: Chat, message: str) -> None:
        stopping = self.stopping = asyncio.Event()
        stopper = asyncio.ensure_future(self._stop_when_asked(chat, stopping))
        try:
            async with chat.stream(message, model=self.args.model, agent_id=self.args.agent) as (
                stream
            ):
                async for event in stream:
                    self.show.event(event)
                    if isinstance(event, HitlInterruptEvent):
                        decisions = await self._approve(event, stopping)
                        if decisions is not None:
                            await stream.decide(decisions)
            self.show.end_line()
        finally:
            self.stopping = None
            if stopper.done():
                await stopper
            else:
                stopper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stopper

    @staticmethod
    async def _stop_when_asked(chat: Chat, stopping: asyncio.Event) -> None:
        await stopping.wait()
        await chat.stop()

    async def _approve(
        self, event: HitlInterruptEvent, stopping: asyncio.Event
    ) -> list[HitlDecision] | None:
        """Ask about each action; ``None`` if Ctrl-C stopped the run meanwhile."""
        asking = asyncio.ensure_future(self._decisions(len(_actions(event))))
        stopped = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({asking, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (asking, stopped):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if asking.cancelled():
            self.show.end_line()
            return None
        return asking.result()

    async def _decisions(self, count: int) -> list[HitlDecision]:
        decisions = []
        for index in range(count):
            label = f" ({index + 1}/{count})" if count > 1 else ""
            decisions.append(await self._decision(label))
        return decisions

    async def _decision(self, label: str) -> HitlDecision:
        s = self.show.style
        while True:
            answer = (await self._ask(s.approval(f"  Approve{label}? [y/n] "))).lower()
            if answer in ("y", "yes"):
                return HitlDecision.approve()
            if answer in ("n", "no"):
                break
            self.show.line(s.notice("  Please answer y (approve) or n (reject)."))
        reason = await self._ask(s.approval("  Reason (optional): "))
        return HitlDecision.reject(reason or None)
