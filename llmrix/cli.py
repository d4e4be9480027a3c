"""The ``llmrix`` command: ``serve``, ``demo`` and ``chat``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from ._client import LlmrixClient
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmrix",
        description="llmrix SDK tools: a dev server, a guided demo and a chat client.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the embedded dev server until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8899)
    serve.add_argument("--api-key", default=None, help="require this bearer key")
    serve.add_argument("--heartbeat-interval", type=float, default=15.0)

    commands.add_parser("demo", help="start a dev server and walk through a session")

    chat = commands.add_parser("chat", help="chat with a server from the terminal")
    chat.add_argument("message", nargs="?", help="send one message; without it, chat interactively")
    chat.add_argument("--conversation", help="an existing conversation id (default: a new one)")
    chat.add_argument("--base-url", default=os.environ.get("LLMRIX_BASE_URL"))
    chat.add_argument("--api-key", default=os.environ.get("LLMRIX_API_KEY"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmrix`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from .devserver import serve

            serve(args.host, args.port, args.api_key, heartbeat_interval=args.heartbeat_interval)
            return 0
        if args.command == "demo":
            return asyncio.run(_demo(sys.stdout))
        return asyncio.run(_chat_command(args))
    except (LlmrixError, ValueError, OSError) as exc:
        print(f"llmrix: error: {exc}", file=sys.stderr)
        return 1
    except EOFError:
        print("llmrix: error: input ended before an answer was given", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


class _Printer:
    """Writes events readably as they arrive."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.mid_line = False

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
        self.mid_line = not text.endswith("\n")

    def line(self, text: str) -> None:
        if self.mid_line:
            self.write("\n")
        self.write(text + "\n")

    def event(self, event: StreamEvent) -> None:
        match event:
            case MessageChunkEvent(content=text):
                self.write(text)
            case ToolStartEvent():
                self.line(f"  [tool] {event.name or event.call_id} {event.arguments}")
            case ToolEndEvent():
                self.line(f"  [tool] {event.name} -> {event.result}")
            case SubagentStartEvent():
                self.line(f"  [subagent] {event.agent} started")
            case SubagentEndEvent():
                self.line(f"  [subagent] {event.agent} finished")
            case HitlInterruptEvent():
                self.line(f"  [approval needed] {event.description or event.action_name}")
            case ErrorEvent():
                self.line(f"  [error] {event.message} ({event.error_code})")
            case CancelledEvent():
                self.line(f"  [cancelled] {event.why}")


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
            show.line(f"  {message.role:>9}: {content[:70]}" + (f" [{tools}]" if tools else ""))
        show.line("\nDone. Run `llmrix serve` to keep a dev server up for your own code.")
    return 0


async def _ask(prompt: str) -> str:
    print(prompt, end="", flush=True)
    line: str = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise EOFError
    return line.strip()


async def _chat_turn(chat: Chat, message: str, show: _Printer) -> None:
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def on_interrupt() -> None:
        if stopping:
            raise KeyboardInterrupt
        show.line("  (stopping...)")
        stopping.append(loop.create_task(chat.stop()))

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    try:
        async with chat.stream(message) as stream:
            async for event in stream:
                show.event(event)
                if isinstance(event, HitlInterruptEvent):
                    await stream.decide([await _decision()])
        show.line("")
        for task in stopping:
            await task
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


async def _decision() -> HitlDecision:
    answer = (await _ask("  Approve? [y/n] ")).lower()
    if answer.startswith("y"):
        return HitlDecision.approve()
    reason = await _ask("  Reason (optional): ")
    return HitlDecision.reject(reason or None)


async def _chat_command(args: argparse.Namespace) -> int:
    if not args.base_url:
        raise ValueError("no server: pass --base-url or set LLMRIX_BASE_URL")
    show = _Printer(sys.stdout)
    async with LlmrixClient(args.base_url, args.api_key) as client:
        conversation_id = args.conversation
        if conversation_id is None:
            conversation_id = (await client.conversations.create(title="llmrix chat")).id
        chat = client.chat(conversation_id)
        if args.message is not None:
            await _chat_turn(chat, args.message, show)
            return 0
        show.line(f"Conversation {conversation_id} (empty line or Ctrl-D to quit)")
        while True:
            try:
                message = await _ask("> ")
            except EOFError:
                return 0
            if not message:
                return 0
            await _chat_turn(chat, message, show)
