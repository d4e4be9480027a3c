"""Drive a running llmrix server with the OFFICIAL ``llmrix-python-sdk`` and print JSON.

Run it only in a separate interpreter whose ``PYTHONPATH`` is the ``.official-sdk``
directory (the official client is also imported as ``llmrix``)::

    PYTHONPATH=.official-sdk python -s tests/official_driver.py http://127.0.0.1:8899 all \\
        --auth-url http://127.0.0.1:8900 --api-key secret

It prints one JSON object: ``official_sdk`` (where the client was imported from),
``results`` (one entry per scenario) and ``errors`` (a traceback per failed scenario).
Scenarios: see ``SCENARIOS``; ``all`` runs every one (``auth`` only with ``--auth-url``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[1]
_SDK_MARK = ".official-sdk"


def _isolate() -> None:
    """Drop every ``sys.path`` entry inside this repository except the official SDK."""
    kept = []
    for entry in sys.path:
        resolved = Path(entry or os.getcwd()).resolve()
        inside = resolved == _REPO or _REPO in resolved.parents
        if not inside or _SDK_MARK in resolved.parts:
            kept.append(entry)
    sys.path[:] = kept


_isolate()

import llmrix  # noqa: E402

if _SDK_MARK not in Path(llmrix.__file__).resolve().parts:
    sys.exit(
        f"official_driver: imported llmrix from {llmrix.__file__}, not from {_SDK_MARK}; "
        "run with PYTHONPATH=<repo>/.official-sdk, python -s, and cwd outside the repo"
    )

from llmrix import (  # noqa: E402
    AgentCreateRequest,
    AgentUpdateRequest,
    ConversationCreateRequest,
    ConversationUpdateRequest,
    CronCreateRequest,
    CronUpdateRequest,
    HitlDecision,
    LlmrixApiError,
    LlmrixAuthError,
    LlmrixClient,
    LlmrixError,
    Mate,
)
from llmrix.streaming import (  # noqa: E402
    CancelledEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
)

MAX_PAGES = 50
DECIDE_DELAY = 0.4


def as_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict, plus the Python type names of id-like fields."""
    data = dataclasses.asdict(obj)
    data["types"] = {
        name: type(getattr(obj, name)).__name__
        for name in ("id", "seq", "title", "thread_id", "user_id", "channel", "system_prompt")
        if hasattr(obj, name)
    }
    return data


def event_dict(event: Any) -> dict[str, Any]:
    """A stream event as a dict tagged with its dataclass name."""
    return {"kind": type(event).__name__, **dataclasses.asdict(event)}


def text_of(events: Iterable[Any]) -> str:
    """The assistant text reassembled from the message chunks."""
    return "".join(e.content for e in events if isinstance(e, MessageChunkEvent))


def error_dict(exc: BaseException) -> dict[str, Any]:
    """What the official client reports for a failed call."""
    data: dict[str, Any] = {"class": type(exc).__name__, "str": str(exc)}
    if isinstance(exc, LlmrixApiError):
        data.update(
            status=exc.status_code,
            message=exc.message,
            body=exc.body,
            is_auth=isinstance(exc, LlmrixAuthError),
        )
    return data


def outcome(call: Callable[[], Any]) -> dict[str, Any]:
    """Run a call expected to fail: ``{"raised": None}`` or the error's description."""
    try:
        value = call()
    except LlmrixError as exc:
        return {"raised": error_dict(exc)}
    return {"raised": None, "value": repr(value)}


def pages_of(fetch: Callable[[int], Any]) -> list[dict[str, Any]]:
    """Follow ``lastId`` cursors (the ``seq`` of the last item) until ``has_more`` is false."""
    pages: list[dict[str, Any]] = []
    last_id: Any = 0
    while True:
        page = fetch(last_id)
        pages.append(
            {
                "last_id": last_id,
                "items": [as_dict(item) for item in page.items],
                "has_more": page.has_more,
            }
        )
        if not page.has_more or not page.items:
            return pages
        if len(pages) >= MAX_PAGES:
            raise RuntimeError(f"pagination did not end after {MAX_PAGES} pages")
        last_id = page.items[-1].seq


class Context:
    """Command-line options shared by the scenarios."""

    def __init__(self, base_url: str, auth_url: str | None, api_key: str | None) -> None:
        self.base_url = base_url
        self.auth_url = auth_url
        self.api_key = api_key

    def client(self) -> LlmrixClient:
        """A client for the main (keyless) server."""
        return LlmrixClient(self.base_url, timeout=15.0)


def scenario_conversations(ctx: Context) -> dict[str, Any]:
    """Create five conversations, page through them, get, update and delete."""
    with ctx.client() as client:
        convs = client.conversations
        created = [
            convs.create(
                ConversationCreateRequest(
                    title=f"official {i}", agent_id="agent-7" if i == 4 else None
                )
            )
            for i in range(5)
        ]
        pages = pages_of(lambda last_id: convs.list(last_id=last_id, size=2))
        target = created[2].id
        fetched = convs.get(target)
        updated = convs.update(target, ConversationUpdateRequest(title="renamed by official"))
        refetched = convs.get(target)
        unchanged = convs.update(target, ConversationUpdateRequest())
        deleted = convs.delete(created[0].id)
        return {
            "created": [as_dict(c) for c in created],
            "pages": pages,
            "fetched": as_dict(fetched),
            "updated": as_dict(updated),
            "refetched": as_dict(refetched),
            "empty_update": as_dict(unchanged),
            "delete_returned": repr(deleted),
            "get_deleted": outcome(lambda: convs.get(created[0].id)),
            "delete_deleted": outcome(lambda: convs.delete(created[0].id)),
            "after_delete": [c.id for c in convs.list(size=100).items],
        }


def scenario_messages(ctx: Context) -> dict[str, Any]:
    """Two turns (one with a tool), then the message history in pages of two."""
    with ctx.client() as client:
        conv = client.conversations.create(ConversationCreateRequest(title="history"))
        turns = [list(client.chat(conv.id).stream(m)) for m in ("first message", "/tool calc 2+2")]
        return {
            "conversation_id": conv.id,
            "turns": [[event_dict(e) for e in turn] for turn in turns],
            "pages": pages_of(
                lambda last_id: client.conversations.messages(conv.id, last_id=last_id, size=2)
            ),
            "unknown": outcome(lambda: client.conversations.messages("no-such-conversation")),
        }


def _streamed(ctx: Context, message: str) -> dict[str, Any]:
    with ctx.client() as client:
        conv = client.conversations.create(ConversationCreateRequest(title=message))
        events = list(client.chat(conv.id).stream(message))
        return {
            "conversation_id": conv.id,
            "message": message,
            "events": [event_dict(e) for e in events],
            "text": text_of(events),
        }


def scenario_chat_plain(ctx: Context) -> dict[str, Any]:
    """``stream()`` of a plain message."""
    return _streamed(ctx, "Hello from the official client")


def scenario_chat_tool(ctx: Context) -> dict[str, Any]:
    """``stream()`` of ``/tool x``."""
    return _streamed(ctx, "/tool x find cats")


def scenario_chat_error(ctx: Context) -> dict[str, Any]:
    """``stream()`` of ``/error``."""
    return _streamed(ctx, "/error please")


def scenario_chat_send(ctx: Context) -> dict[str, Any]:
    """The callback API ``send(message, handler)`` with a sub-agent."""
    with ctx.client() as client:
        conv = client.conversations.create(ConversationCreateRequest(title="send"))
        events: list[Any] = []
        returned = client.chat(conv.id).send("/subagent helper plan a trip", events.append)
        return {
            "conversation_id": conv.id,
            "returned": repr(returned),
            "events": [event_dict(e) for e in events],
            "text": text_of(events),
        }


def _in_thread(action: Callable[[], Any], on_failure: Callable[[], Any]) -> dict[str, Any]:
    """Start ``action`` on another thread; returns a record it fills in."""
    record: dict[str, Any] = {"thread": None, "returned": None, "error": None}

    def work() -> None:
        record["thread"] = threading.current_thread().name
        try:
            record["returned"] = repr(action())
        except Exception as exc:
            record["error"] = error_dict(exc)
            on_failure()

    worker = threading.Thread(target=work, name="official-driver-side", daemon=True)
    record["_worker"] = worker
    worker.start()
    return record


def _joined(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    record.pop("_worker").join(10)
    return record


def scenario_chat_hitl(ctx: Context) -> dict[str, Any]:
    """``/hitl``: ``decide([approve])`` from another thread while the stream is open."""
    with ctx.client() as client:
        conv = client.conversations.create(ConversationCreateRequest(title="hitl"))
        chat = client.chat(conv.id)

        def approve() -> Any:
            time.sleep(DECIDE_DELAY)
            return client.chat(conv.id).decide([HitlDecision.approve()])

        events: list[Any] = []
        side: dict[str, Any] | None = None
        for event in chat.stream("/hitl wipe the backups"):
            events.append(event)
            if isinstance(event, HitlInterruptEvent) and side is None:
                side = _in_thread(approve, chat.stop)
        return {
            "conversation_id": conv.id,
            "stream_thread": threading.current_thread().name,
            "events": [event_dict(e) for e in events],
            "text": text_of(events),
            "decide": _joined(side),
            "decide_again": outcome(lambda: chat.decide([HitlDecision.approve()])),
            "decide_empty": _value_error(lambda: chat.decide([])),
        }


def _value_error(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        call()
    except ValueError as exc:
        return {"raised": "ValueError", "message": str(exc)}
    return {"raised": None}


def scenario_chat_stop(ctx: Context) -> dict[str, Any]:
    """``/slow`` then ``stop()`` from another thread; then a new turn and an idle stop."""
    with ctx.client() as client:
        conv = client.conversations.create(ConversationCreateRequest(title="stop"))
        chat = client.chat(conv.id)
        events: list[Any] = []
        side: dict[str, Any] | None = None
        for event in chat.stream("/slow tell me everything"):
            events.append(event)
            if isinstance(event, MessageChunkEvent) and side is None:
                side = _in_thread(client.chat(conv.id).stop, lambda: None)
        after = list(chat.stream("and now quickly"))
        return {
            "conversation_id": conv.id,
            "events": [event_dict(e) for e in events],
            "text": text_of(events),
            "cancelled": sum(isinstance(e, CancelledEvent) for e in events),
            "stop": _joined(side),
            "idle_stop": outcome(chat.stop),
            "after_events": [event_dict(e) for e in after],
            "after_text": text_of(after),
            "messages": [as_dict(m) for m in client.conversations.messages(conv.id).items],
        }


def scenario_cron(ctx: Context) -> dict[str, Any]:
    """Cron tasks: create, list, get, update, pause, resume, delete."""
    with ctx.client() as client:
        cron = client.cron
        daily = cron.create(
            CronCreateRequest(
                name="daily digest",
                prompt="Summarise the news",
                schedule_expr="0 9 * * *",
                channel="email",
            )
        )
        ticker = cron.create(
            CronCreateRequest(
                name="ticker", prompt="Ping", schedule_expr="30s", schedule_type="interval"
            )
        )
        listed = cron.list()
        fetched = cron.get(daily.id)
        updated = cron.update(
            daily.id, CronUpdateRequest(name="weekly digest", schedule_expr="0 9 * * 1")
        )
        paused = cron.pause(daily.id)
        paused_get = cron.get(daily.id)
        resumed = cron.resume(daily.id)
        deleted = cron.delete(ticker.id)
        return {
            "created": [as_dict(daily), as_dict(ticker)],
            "listed": [as_dict(t) for t in listed],
            "fetched": as_dict(fetched),
            "updated": as_dict(updated),
            "paused": as_dict(paused),
            "paused_get": as_dict(paused_get),
            "resumed": as_dict(resumed),
            "delete_returned": repr(deleted),
            "after_delete": [t.id for t in cron.list()],
            "get_deleted": outcome(lambda: cron.get(ticker.id)),
        }


def scenario_agents(ctx: Context) -> dict[str, Any]:
    """Agents: create, list, get, update, mates, delete."""
    with ctx.client() as client:
        agents = client.agents
        solo = agents.create(
            AgentCreateRequest(
                name="writer",
                system_prompt="You write.",
                model_id="openai:gpt-4o",
                mcps=["fs"],
                skills=["prose"],
                metadata={"tier": 1},
                introduce="I write things",
                outlines=[{"step": "draft"}],
            )
        )
        team = agents.create(AgentCreateRequest(name="crew", type="team"))
        listed = agents.list()
        fetched = agents.get(solo.id)
        updated = agents.update(
            solo.id, AgentUpdateRequest(system_prompt="You edit.", skills=["prose", "edit"])
        )
        mates = [
            Mate(name="second", introduce="goes second", system_prompt="Be second.", sort=2),
            Mate(name="first", sort=1),
        ]
        saved = agents.save_mates(team.id, mates)
        listed_mates = agents.list_mates(team.id)
        solo_mates = agents.list_mates(solo.id)
        deleted = agents.delete(solo.id)
        return {
            "created": [as_dict(solo), as_dict(team)],
            "listed": [as_dict(a) for a in listed],
            "fetched": as_dict(fetched),
            "updated": as_dict(updated),
            "saved_mates": [as_dict(m) for m in saved],
            "listed_mates": [as_dict(m) for m in listed_mates],
            "solo_mates": [as_dict(m) for m in solo_mates],
            "delete_returned": repr(deleted),
            "after_delete": [a.id for a in agents.list()],
            "get_deleted": outcome(lambda: agents.get(solo.id)),
            "mates_deleted": outcome(lambda: agents.list_mates(solo.id)),
        }


def scenario_errors(ctx: Context) -> dict[str, Any]:
    """Error bodies and unknown ids, as the official client reports them."""
    with ctx.client() as client:
        return {
            "get_unknown": outcome(lambda: client.conversations.get("no-such-conversation")),
            "cron_unknown": outcome(lambda: client.cron.get("no-such-task")),
            "agent_unknown": outcome(lambda: client.agents.get(987654)),
            "chat_unknown": [
                event_dict(e) for e in client.chat("no-such-conversation").stream("hi")
            ],
        }


def scenario_auth(ctx: Context) -> dict[str, Any]:
    """A keyed server: wrong, missing and right keys; agents disabled answer 503."""
    if ctx.auth_url is None or ctx.api_key is None:
        raise RuntimeError("the auth scenario needs --auth-url and --api-key")
    url = ctx.auth_url
    with (
        LlmrixClient(url, api_key="wrong-" + ctx.api_key, timeout=15.0) as wrong,
        LlmrixClient(url, timeout=15.0) as missing,
        LlmrixClient(url, api_key=ctx.api_key, timeout=15.0) as right,
    ):
        conv = right.conversations.create(ConversationCreateRequest(title="keyed"))
        return {
            "wrong_list": outcome(lambda: wrong.conversations.list()),
            "wrong_create": outcome(
                lambda: wrong.conversations.create(ConversationCreateRequest(title="x"))
            ),
            "wrong_cron": outcome(wrong.cron.list),
            "wrong_stream": [event_dict(e) for e in wrong.chat(conv.id).stream("hi")],
            "missing_get": outcome(lambda: missing.conversations.get(conv.id)),
            "right_created": as_dict(conv),
            "right_listed": [c.id for c in right.conversations.list().items],
            "right_text": text_of(right.chat(conv.id).stream("keyed hello")),
            "right_agents": outcome(right.agents.list),
        }


SCENARIOS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "conversations": scenario_conversations,
    "messages": scenario_messages,
    "chat_plain": scenario_chat_plain,
    "chat_tool": scenario_chat_tool,
    "chat_error": scenario_chat_error,
    "chat_send": scenario_chat_send,
    "chat_hitl": scenario_chat_hitl,
    "chat_stop": scenario_chat_stop,
    "cron": scenario_cron,
    "agents": scenario_agents,
    "errors": scenario_errors,
    "auth": scenario_auth,
}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the scenarios and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="server root, e.g. http://127.0.0.1:8899")
    parser.add_argument("scenarios", nargs="*", default=["all"], help="names or 'all'")
    parser.add_argument("--auth-url", help="root of a second server started with an API key")
    parser.add_argument("--api-key", help="the key of the --auth-url server")
    args = parser.parse_args(argv)
    names: list[str] = []
    for name in args.scenarios:
        if name == "all":
            names += [n for n in SCENARIOS if n != "auth" or args.auth_url]
        elif name in SCENARIOS:
            names.append(name)
        else:
            parser.error(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}, all")
    ctx = Context(args.base_url, args.auth_url, args.api_key)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in dict.fromkeys(names):
        try:
            results[name] = SCENARIOS[name](ctx)
        except Exception:
            errors[name] = traceback.format_exc()
    report = {
        "official_sdk": {"file": llmrix.__file__, "sys_path": sys.path},
        "results": results,
        "errors": errors,
    }
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
