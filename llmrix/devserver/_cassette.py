"""The cassette file: a recorded session as JSONL, its secrets scrubbed, and request diffs.

Line 1 is the header ``{"llmrix_cassette": 1, "sdk_version": ..., "recorded_at": ...}``;
every further line is one exchange::

    {"request": {"method", "path", "query"?, "headers", "json" | "text"?},
     "response": {"status", "headers", "json" | "text"?}
               | {"status", "headers", "frames": [{"t", "raw"}, ...], "end": "eof" | "cut"},
     "actions"?: [{"at", "t", "request", "response"}, ...]}

``frames`` are the SSE frames exactly as sent, each with its time offset ``t`` in
seconds; ``actions`` are the stop and decide requests the client made while that stream
was open, ``at`` being the number of frames it had been sent by then.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
HEADER_KEY = "llmrix_cassette"
REDACTED = "<redacted>"
MISMATCH_CODE = "cassette_mismatch"
MISMATCH_STATUS = 409

Exchange = dict[str, Any]
Redact = Callable[[Exchange], Exchange]
"""The user's hook: gets an exchange (plain JSON data) and returns it redacted."""

_KEPT_REQUEST_HEADERS = frozenset({"accept", "content-type"})
_KEPT_RESPONSE_HEADERS = frozenset({"content-type", "retry-after", "x-request-id"})
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_ACTION_TAILS = ("/chat/stop", "/chat/hitl/decide")


class CassetteMismatch(AssertionError):
    """A replayed session differs from its recording; the message shows both sides."""


class CassetteFormatError(ValueError):
    """A file that is not a readable llmrix cassette."""


@dataclass
class Cassette:
    """A loaded cassette: its header and its exchanges in recorded order."""

    header: dict[str, Any]
    exchanges: list[Exchange]
    source: str = "<memory>"


def load(path: str | Path) -> Cassette:
    """Read a cassette file; raises `CassetteFormatError` naming the problem and the line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    records: list[Any] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CassetteFormatError(f"{path}:{number}: not JSON: {exc}") from None
    if not records or not isinstance(records[0], dict) or HEADER_KEY not in records[0]:
        raise CassetteFormatError(f"{path}: not an llmrix cassette (no header line)")
    header = records[0]
    if header[HEADER_KEY] != FORMAT_VERSION:
        raise CassetteFormatError(
            f"{path}: cassette format {header[HEADER_KEY]!r} is not supported"
            f" (this version reads format {FORMAT_VERSION})"
        )
    for number, record in enumerate(records[1:], 2):
        if not isinstance(record, dict) or "request" not in record or "response" not in record:
            raise CassetteFormatError(f"{path}: exchange {number - 1} lacks request or response")
    return Cassette(header, records[1:], str(path))


def dump(path: str | Path, header: dict[str, Any], exchanges: Iterable[Exchange]) -> None:
    """Write a cassette: the header line, then one line per exchange."""
    lines = [json.dumps({HEADER_KEY: FORMAT_VERSION, **header}, ensure_ascii=False)]
    lines += [json.dumps(exchange, ensure_ascii=False) for exchange in exchanges]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every occurrence of each secret (in any string or key) replaced."""
    found = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not found:
        return value

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            for secret in found:
                item = item.replace(secret, REDACTED)
            return item
        if isinstance(item, dict):
            return {clean(k): clean(v) for k, v in item.items()}
        if isinstance(item, list):
            return [clean(v) for v in item]
        return item

    return clean(value)


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def with_body(record: dict[str, Any], body: bytes, *, exact: bool = False) -> dict[str, Any]:
    """Add ``body`` to a request or response record: as ``json`` when it parses, else ``text``.

    ``exact`` keeps it as ``json`` only when compact JSON reproduces the bytes, so a
    replayed answer is byte for byte the recorded one.
    """
    if not body.strip():
        return record
    text = body.decode("utf-8", "surrogateescape")
    try:
        value = json.loads(text)
    except ValueError:
        record["text"] = text
        return record
    if exact and _compact(value) != body:
        record["text"] = text
    else:
        record["json"] = value
    return record


def body_bytes(record: dict[str, Any]) -> bytes:
    """The body a record describes, as bytes (JSON in its compact form)."""
    if "json" in record:
        return _compact(record["json"])
    return str(record.get("text", "")).encode("utf-8", "surrogateescape")


def kept_headers(headers: Iterable[tuple[str, str]], *, response: bool) -> dict[str, str]:
    """The headers a cassette keeps: content negotiation, ``X-Llmrix-*``; never credentials."""
    kept = _KEPT_RESPONSE_HEADERS if response else _KEPT_REQUEST_HEADERS
    out: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        if lower in _SECRET_HEADERS:
            continue
        if lower in kept or lower.startswith("x-llmrix-"):
            out[lower] = value
    return out


def request_record(
    method: str, raw_path: str, headers: Iterable[tuple[str, str]], body: bytes
) -> dict[str, Any]:
    """A request as a cassette stores it."""
    path, _, query = raw_path.partition("?")
    record: dict[str, Any] = {"method": method.upper(), "path": path}
    if query:
        record["query"] = query
    record["headers"] = kept_headers(headers, response=False)
    return with_body(record, body)


def action_conversation(path: str) -> str | None:
    """The conversation path (``.../conversations/ID``) of a stop or decide request, or None."""
    for tail in _ACTION_TAILS:
        if path.endswith(tail):
            return path[: -len(tail)]
    return None


def chat_conversation(path: str) -> str | None:
    """The conversation path of a chat request, if it is one."""
    return path[: -len("/chat")] if path.endswith("/chat") else None


def _key(request: dict[str, Any]) -> tuple[Any, ...]:
    return (request.get("method"), request.get("path"), request.get("query", ""), _body(request))


def _body(record: dict[str, Any]) -> Any:
    if "json" in record:
        return ("json", record["json"])
    try:
        return ("json", json.loads(record["text"])) if "text" in record else None
    except ValueError:
        return ("text", record["text"])


def same_request(recorded: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Whether two requests match: method, path, query and JSON body."""
    return _key(recorded) == _key(actual)


def _lines(request: dict[str, Any] | None) -> list[str]:
    if request is None:
        return ["(nothing)"]
    query = f"?{request['query']}" if request.get("query") else ""
    lines = [f"{request.get('method')} {request.get('path')}{query}"]
    if "json" in request:
        lines += json.dumps(request["json"], indent=2, ensure_ascii=False).splitlines()
    elif "text" in request:
        lines.append(str(request["text"]))
    return lines


def side_by_side(title: str, recorded: dict[str, Any] | None, actual: dict[str, Any] | None) -> str:
    """``title`` and the two requests in columns: ``|`` differs, ``<``/``>`` one side only."""
    left, right = _lines(recorded), _lines(actual)
    width = max(len("recorded"), *(len(line) for line in left))
    rows = [f"  {'recorded'.ljust(width)}   actual"]
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [f"  {line.ljust(width)}   {line}" for line in left[i1:i2]]
            continue
        olds, news = left[i1:i2], right[j1:j2]
        for index in range(max(len(olds), len(news))):
            old = olds[index] if index < len(olds) else None
            new = news[index] if index < len(news) else None
            mark = "|" if old is not None and new is not None else ("<" if new is None else ">")
            rows.append(f"  {(old or '').ljust(width)} {mark} {new or ''}")
    return "\n".join([title, *rows])
