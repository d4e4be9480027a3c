"""Seeded generator of realistic llmrix SSE streams, shared by benchmarks and tests.

A stream is built in two passes from one ``random.Random(seed)``: first the
events (a run of message chunks, tool calls, sub-agents, interrupts and so on,
ending in a terminal event), then the framing (``event:`` lines present or not,
``data:`` with or without a space, ``id:`` lines, multi-line JSON, heartbeats in
all four forms). The line terminator is applied last, so the same seed yields
the same events and the same frames whatever ``eol`` is.

>>> stream = build_stream(7, 20)
>>> stream.payloads[0]["type"], stream.payloads[-1]["type"] in TERMINAL_TYPES
('run_start', True)
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "HEARTBEAT_FORMS",
    "TERMINAL_TYPES",
    "CorpusStream",
    "Eol",
    "ExpectedEvent",
    "Shape",
    "build_stream",
    "expected_events",
    "expected_payloads",
    "generate_stream",
    "official_sdk_dir",
    "official_sdk_path",
    "random_chunks",
]

Eol = Literal["\n", "\r\n", "\r"]
Shape = Literal["primary", "ts", "mixed"]

HEARTBEAT_FORMS = ("comment", "event", "ping", "json")
"""``: ping`` comment, ``event: heartbeat`` frame, ``data: :ping`` frame, heartbeat JSON."""

TERMINAL_TYPES = frozenset({"run_end", "error", "cancelled"})

OFFICIAL_SDK_DIR = Path(__file__).resolve().parent.parent / ".official-sdk"
"""Where ``pip install --target`` puts the official ``llmrix-python-sdk``."""


def official_sdk_dir() -> Path:
    """Where the official SDK is (to be) installed; ``LLMRIX_OFFICIAL_SDK`` overrides it."""
    override = os.environ.get("LLMRIX_OFFICIAL_SDK")
    return Path(override) if override else OFFICIAL_SDK_DIR


def official_sdk_path() -> Path | None:
    """The ``.official-sdk`` directory if the official SDK is installed there, else None."""
    root = official_sdk_dir()
    return root if (root / "llmrix" / "streaming" / "parser.py").is_file() else None


@dataclass(frozen=True)
class ExpectedEvent:
    """One non-heartbeat event: its JSON object as sent and its effective channel."""

    channel: str
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CorpusStream:
    """A generated stream: the wire bytes and what a correct client must yield."""

    data: bytes
    events: list[ExpectedEvent]
    heartbeats: int

    @property
    def payloads(self) -> list[dict[str, Any]]:
        """The JSON objects of the non-heartbeat events, in order."""
        return [event.payload for event in self.events]


# fmt: off
_WORDS = (
    "the", "agent", "will", "search", "for", "results", "and", "then", "summarize", "them",
    "Hel", "lo", "world", "data", "async", "stream", "token", "is", "a",
)
_UNICODE = (
    "你好", "世界", "数据流", "こんにちは", "안녕하세요", "café", "naïve", "Größe", "😀", "🚀",
    "👍🏽", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "🇯🇵", "∑", "→", "ß", "Ω", "é",
)
# fmt: on
_ESCAPES = ('"', "\\", "\n", "\t", "/", '"quoted"', "line\nbreak")
_EXOTIC_NEWLINES = ("\u2028", "\u2029", "\x85")
_TOOLS = ("web_search", "read_file", "run_python", "calculator", "fetch_url")
_AGENTS = ("researcher", "coder", "reviewer", "研究员")
_ACTIONS = ("delete_file", "send_email", "deploy", "transfer_funds")
_UNKNOWN = (("usage", "token_usage"), ("messages", "reasoning_chunk"), ("custom", "progress"))


class _Events:
    """First pass: the sequence of event payloads."""

    def __init__(self, rng: random.Random, shape: Shape, unicode: bool, exotic: bool) -> None:
        self.rng = rng
        self.shape = shape
        self.unicode = unicode
        self.exotic = exotic
        self.run_id = self.ident("run")
        self.thread_id = self.ident("thr")
        self.out: list[dict[str, Any]] = []

    def ident(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(48):012x}"

    def ts(self) -> bool:
        if self.shape == "mixed":
            return self.rng.random() < 0.5
        return self.shape == "ts"

    def text(self, max_tokens: int = 4) -> str:
        rng = self.rng
        parts: list[str] = []
        for _ in range(rng.randint(1, max_tokens)):
            roll = rng.random()
            if self.unicode and roll < 0.3:
                parts.append(rng.choice(_UNICODE))
            elif roll < 0.38:
                parts.append(rng.choice(_ESCAPES))
            elif self.exotic and roll < 0.45:
                parts.append(rng.choice(_EXOTIC_NEWLINES))
            else:
                parts.append(rng.choice(_WORDS))
        sep = "" if rng.random() < 0.4 else " "
        return sep + sep.join(parts)

    def args(self) -> dict[str, Any]:
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            return {"query": self.text(), "max_results": rng.randint(1, 20)}
        if choice == 1:
            return {"path": f"docs/{self.text(2).strip()}.md", "encoding": "utf-8"}
        if choice == 2:
            return {"code": "print(1)\nprint('x')\n", "timeout": rng.choice((3.5, 10, 0.25))}
        return {
            "filters": {"lang": ["en", "zh"], "safe": rng.random() < 0.5, "since": None},
            "depth": rng.randint(0, 3),
            "note": self.text(),
        }

    def emit(self, payload: dict[str, Any]) -> None:
        self.out.append(payload)

    def message_run(self) -> None:
        msg_id = self.ident("msg")
        for _ in range(self.rng.randint(1, 12)):
            chunk: dict[str, Any] = {"channel": "messages", "type": "message_chunk"}
            chunk["content"] = self.text()
            if self.ts():
                chunk["run_id"] = self.run_id
            else:
                chunk["id"] = msg_id
            self.emit(chunk)

    def tool_call(self, parent: str | None) -> None:
        rng = self.rng
        call_id, name, args = self.ident("call"), rng.choice(_TOOLS), self.args()
        failed = rng.random() < 0.15
        if self.ts():
            parents = [parent] if parent else []
            self.emit(
                {
                    "channel": "tools",
                    "type": "tool_start",
                    "tool_call_id": call_id,
                    "name": name,
                    "input": args,
                    "parent_ids": parents,
                }
            )
            if rng.random() < 0.3:
                self.message_run()
            output: Any = self.text(6) if rng.random() < 0.7 else {"hits": rng.randint(0, 9)}
            end = {
                "channel": "tools",
                "type": "tool_end",
                "tool_call_id": call_id,
                "name": name,
                "output": output,
                "parent_ids": parents,
            }
            if rng.random() < 0.5:
                end["error"] = failed
            self.emit(end)
            return
        self.emit(
            {"channel": "tools", "type": "tool_start", "id": call_id, "name": name, "args": args}
        )
        if rng.random() < 0.3:
            self.message_run()
        self.emit(
            {
                "channel": "tools",
                "type": "tool_end",
                "id": call_id,
                "name": name,
                "result": self.text(6),
                "error": failed,
            }
        )

    def subagent(self) -> None:
        rng = self.rng
        call_id, agent = self.ident("sub"), rng.choice(_AGENTS)
        ts = self.ts()
        if ts:
            self.emit(
                {
                    "channel": "tools",
                    "type": "subagent_start",
                    "tool_call_id": call_id,
                    "name": agent,
                    "input": {"task": self.text()},
                    "parent_ids": [],
                }
            )
        else:
            self.emit(
                {"channel": "tools", "type": "subagent_start", "id": call_id, "agent_name": agent}
            )
        for _ in range(rng.randint(0, 2)):
            self.tool_call(call_id)
        self.message_run()
        failed = rng.random() < 0.1
        if ts:
            self.emit(
                {
                    "channel": "tools",
                    "type": "subagent_end",
                    "tool_call_id": call_id,
                    "name": agent,
                    "output": self.text(),
                    "parent_ids": [],
                    "error": failed,
                }
            )
        else:
            self.emit(
                {
                    "channel": "tools",
                    "type": "subagent_end",
                    "id": call_id,
                    "agent_name": agent,
                    "error": failed,
                }
            )

    def interrupt(self) -> None:
        action, args = self.rng.choice(_ACTIONS), self.args()
        description = f"Approve {action}? {self.text()}"
        if self.ts():
            request = {
                "name": action,
                "args": args,
                "description": description,
                "decisions": ["approve", "reject", "modify"][: self.rng.randint(1, 3)],
            }
            self.emit({"channel": "hitl", "type": "hitl_interrupt", "action_requests": [request]})
        else:
            self.emit(
                {
                    "channel": "hitl",
                    "type": "hitl_interrupt",
                    "id": self.ident("hitl"),
                    "action_name": action,
                    "action_args": args,
                    "description": description,
                }
            )

    def rubric(self) -> None:
        iteration = self.rng.randint(1, 5)
        self.emit(
            {
                "channel": "rubric",
                "type": "rubric_evaluation_start",
                "iteration": iteration,
                "grading_run_id": self.ident("grade"),
            }
        )
        result: Any = self.rng.choice(("pass", "fail", {"score": 0.75}))
        self.emit(
            {
                "channel": "rubric",
                "type": "rubric_evaluation_end",
                "iteration": iteration,
                "result": result,
                "explanation": self.text(5),
            }
        )

    def unknown(self) -> None:
        channel, kind = self.rng.choice(_UNKNOWN)
        self.emit(
            {
                "channel": channel,
                "type": kind,
                "value": self.text(),
                "tokens": self.rng.randint(1, 999),
            }
        )

    def terminal(self) -> None:
        roll = self.rng.random()
        if roll < 0.85:
            self.emit(
                {
                    "channel": "lifecycle",
                    "type": "run_end",
                    "run_id": self.run_id,
                    "thread_id": self.thread_id,
                }
            )
        elif roll < 0.95:
            self.emit(
                {
                    "channel": "error",
                    "type": "error",
                    "message": f"boom: {self.text()}",
                    "error_code": self.rng.choice(("INTERNAL", "RATE_LIMIT", "")),
                }
            )
        elif self.ts():
            self.emit({"channel": "error", "type": "cancelled", "message": "stopped by user"})
        else:
            self.emit({"channel": "error", "type": "cancelled", "reason": "user_stop"})

    def build(self, n_events: int) -> list[dict[str, Any]]:
        self.emit(
            {
                "channel": "lifecycle",
                "type": "run_start",
                "run_id": self.run_id,
                "thread_id": self.thread_id,
            }
        )
        rubric = self.shape != "primary"
        while len(self.out) < n_events - 1:
            roll = self.rng.random()
            if roll < 0.6:
                self.message_run()
            elif roll < 0.78:
                self.tool_call(None)
            elif roll < 0.86:
                self.subagent()
            elif roll < 0.9:
                self.interrupt()
            elif roll < 0.94 and rubric:
                self.rubric()
            elif roll < 0.96:
                self.unknown()
        del self.out[max(n_events - 1, 1) :]
        self.terminal()
        return self.out


def _encode(rng: random.Random, payload: dict[str, Any]) -> list[str]:
    """JSON text of one payload, as the data lines of a frame."""
    roll = rng.random()
    ascii_only = rng.random() < 0.2
    if roll < 0.05:
        return json.dumps(payload, ensure_ascii=ascii_only, indent=1).split("\n")
    separators = (",", ":") if roll < 0.7 else (", ", ": ")
    if roll > 0.95 and "type" in payload:
        payload = {"type": payload["type"], **payload}
    return [json.dumps(payload, ensure_ascii=ascii_only, separators=separators)]


class _Framer:
    """Second pass: SSE framing, with terminators written as ``\\n`` for now."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.next_id = 1

    def frame(self, event: str | None, data_lines: list[str]) -> None:
        rng = self.rng
        head: list[str] = []
        if event is not None:
            head.append(f"event:{event}" if rng.random() < 0.1 else f"event: {event}")
        if rng.random() < 0.1:
            head.append(f"id: {self.next_id}")
            self.next_id += 1
        data = [f"data:{line}" if rng.random() < 0.1 else f"data: {line}" for line in data_lines]
        if head and rng.random() < 0.05:
            self.lines.extend(data + head)
        else:
            self.lines.extend(head + data)
        self.lines.append("")
        if rng.random() < 0.03:
            self.lines.append("")

    def event(self, payload: dict[str, Any]) -> ExpectedEvent:
        """Frame one event; the JSON may leave its channel to the ``event:`` line."""
        rng = self.rng
        channel = str(payload["channel"])
        named = rng.random() < 0.6
        if named and rng.random() < 0.15:
            payload = {k: v for k, v in payload.items() if k != "channel"}
        self.frame(channel if named else None, _encode(rng, payload))
        return ExpectedEvent(channel, str(payload["type"]), payload)

    def heartbeat(self) -> None:
        rng = self.rng
        form = rng.choice(HEARTBEAT_FORMS)
        beat = '{"channel":"heartbeat","type":""}'
        if form == "comment":
            self.lines.extend([rng.choice((": ping", ":ping", ": keep-alive")), ""])
        elif form == "event":
            self.frame("heartbeat", [rng.choice((beat, "ping", "{}"))])
        elif form == "ping":
            self.frame(None, [":ping"])
        else:
            self.frame(None, [beat])


def build_stream(
    seed: int,
    n_events: int,
    *,
    eol: Eol = "\n",
    shape: Shape = "mixed",
    heartbeat_every: int = 100,
    unicode: bool = True,
    exotic_newlines: bool = False,
    bom: bool = False,
) -> CorpusStream:
    """Generate one stream of ``n_events`` non-heartbeat events (at least 2).

    ``heartbeat_every`` inserts a keep-alive (random form) after every that many
    events; 0 disables them. ``exotic_newlines`` puts raw U+2028/U+2029/U+0085
    into texts (valid JSON and SSE; line breaks for ``str.splitlines``). ``bom``
    starts the stream with a UTF-8 byte order mark.
    """
    if eol not in ("\n", "\r\n", "\r"):
        raise ValueError(f"eol must be LF, CRLF or CR, not {eol!r}")
    if shape not in ("primary", "ts", "mixed"):
        raise ValueError(f"unknown shape {shape!r}")
    rng = random.Random(seed)
    payloads = _Events(rng, shape, unicode, exotic_newlines).build(max(n_events, 2))
    framer = _Framer(rng)
    if rng.random() < 0.2:
        framer.lines.extend(["retry: 3000", ""])
    events: list[ExpectedEvent] = []
    beats = 0
    for index, payload in enumerate(payloads, 1):
        events.append(framer.event(payload))
        pause = payload["type"] == "hitl_interrupt"
        if pause or (heartbeat_every > 0 and index % heartbeat_every == 0):
            for _ in range(rng.randint(1, 3) if pause else 1):
                framer.heartbeat()
                beats += 1
    if rng.random() < 0.05:
        framer.lines.pop()
    text = eol.join(framer.lines) + eol
    if bom:
        text = "\ufeff" + text
    return CorpusStream(text.encode("utf-8"), events, beats)


def generate_stream(seed: int, n_events: int, **options: Any) -> bytes:
    """The wire bytes of :func:`build_stream` with the same arguments."""
    return build_stream(seed, n_events, **options).data


def expected_events(
    seed: int,
    n_events: int,
    *,
    shape: Shape = "mixed",
    heartbeat_every: int = 100,
    unicode: bool = True,
    exotic_newlines: bool = False,
) -> list[ExpectedEvent]:
    """The non-heartbeat events of :func:`generate_stream` with the same arguments."""
    return build_stream(
        seed,
        n_events,
        shape=shape,
        heartbeat_every=heartbeat_every,
        unicode=unicode,
        exotic_newlines=exotic_newlines,
    ).events


def expected_payloads(seed: int, n_events: int, **options: Any) -> list[dict[str, Any]]:
    """The JSON objects of :func:`expected_events`, in order."""
    return [event.payload for event in expected_events(seed, n_events, **options)]


def random_chunks(data: bytes, seed: int, max_size: int) -> list[bytes]:
    """Split ``data`` at random points into pieces of 1..``max_size`` bytes.

    Splits land anywhere: inside multi-byte UTF-8 characters, between CR and LF.
    """
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    rng = random.Random(seed)
    chunks: list[bytes] = []
    pos = 0
    while pos < len(data):
        size = rng.randint(1, max_size)
        chunks.append(data[pos : pos + size])
        pos += size
    return chunks
