"""The OFFICIAL ``llmrix-python-sdk`` 1.0.0 (sync, httpx) against our ``DevServer``.

The official client is also imported as ``llmrix``, so it runs only in a subprocess:
``tests/official_driver.py`` under ``python -s`` with ``PYTHONPATH=.official-sdk`` and a
working directory outside the repository. It prints one JSON report, checked here in
detail, together with what the dev servers recorded. The module is skipped when the
official SDK is not in ``.official-sdk`` and cannot be installed there.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from llmrix.devserver import DevServer, RecordedRequest

pytestmark = pytest.mark.official

ROOT = Path(__file__).resolve().parents[1]
SDK_DIR = ROOT / ".official-sdk"
DRIVER = Path(__file__).with_name("official_driver.py")
OFFICIAL_REQUIREMENT = "llmrix-python-sdk==1.0.0"
INSTALL_TIMEOUT = 180.0
DRIVER_TIMEOUT = 60.0
HEARTBEAT = 0.1
API_KEY = "official-key"
P = "/api/open/v1"

Result = dict[str, Any]
Drive = Callable[..., Awaitable[Result]]


def _installed() -> bool:
    return (SDK_DIR / "llmrix" / "_http.py").is_file() and (SDK_DIR / "httpx").is_dir()


@pytest.fixture(scope="session")
def official_sdk() -> Path:
    """``.official-sdk``, installed with ``pip install --target`` if missing, else skip."""
    if _installed():
        return SDK_DIR
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(SDK_DIR),
        OFFICIAL_REQUIREMENT,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"official SDK missing from {SDK_DIR} and could not be installed: {exc}")
    if done.returncode != 0 or not _installed():
        lines = done.stderr.strip().splitlines()[-2:]
        detail = " / ".join(lines) or f"pip exited with {done.returncode}"
        pytest.skip(f"official SDK missing from {SDK_DIR} and pip install failed: {detail}")
    return SDK_DIR


@pytest.fixture
async def servers() -> AsyncIterator[tuple[DevServer, DevServer]]:
    """A keyless server and one with an API key and no agents (503)."""
    async with (
        DevServer(api_key=None, heartbeat_interval=HEARTBEAT) as main,
        DevServer(api_key=API_KEY, heartbeat_interval=HEARTBEAT, agents_enabled=False) as keyed,
    ):
        yield main, keyed


@pytest.fixture
def drive(official_sdk: Path, servers: tuple[DevServer, DevServer], tmp_path: Path) -> Drive:
    """Run the driver on the servers; returns its ``results`` once sanity-checked."""
    main, keyed = servers

    async def run(*scenarios: str) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONPATH"] = str(official_sdk)
        env["PYTHONIOENCODING"] = "utf-8"
        args = [main.base_url, *scenarios, "--auth-url", keyed.base_url, "--api-key", API_KEY]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-s",
            str(DRIVER),
            *args,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), DRIVER_TIMEOUT)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            pytest.fail(f"official driver did not finish within {DRIVER_TIMEOUT} s")
        assert proc.returncode == 0, err.decode()
        return results_of(json.loads(out), official_sdk, tmp_path)

    return run


def results_of(report: Result, sdk_dir: Path, cwd: Path) -> Result:
    """The driver's results, once it is clear the official client ran them cleanly."""
    sdk = report["official_sdk"]
    assert Path(sdk["file"]).resolve().is_relative_to(sdk_dir.resolve())
    assert all(Path(p or cwd).resolve() != ROOT for p in sdk["sys_path"])
    assert report["errors"] == {}, "\n".join(report["errors"].values())
    return dict(report["results"])


def kinds(events: list[Result]) -> list[str]:
    """The event dataclass names, heartbeats left out."""
    return [e["kind"] for e in events if e["kind"] != "HeartbeatEvent"]


def chunks(events: list[Result]) -> list[Result]:
    """The message chunks."""
    return [e for e in events if e["kind"] == "MessageChunkEvent"]


def calls(server: DevServer, method: str, path: str) -> list[RecordedRequest]:
    """Recorded requests with this method whose path (without query) is ``P + path``."""
    return [
        r for r in server.requests if r.method == method and r.raw_path.split("?")[0] == P + path
    ]


def bodies(server: DevServer, method: str, path: str) -> list[Any]:
    """The JSON bodies of the matching requests."""
    return [r.json() for r in calls(server, method, path)]


def assert_api_error(outcome: Result, status: int, message: str, *, auth: bool = False) -> None:
    """The call raised ``LlmrixApiError`` (``LlmrixAuthError`` if ``auth``) with our body."""
    raised = outcome["raised"]
    assert raised is not None, outcome
    assert raised["class"] == ("LlmrixAuthError" if auth else "LlmrixApiError")
    assert raised["is_auth"] is auth
    assert raised["status"] == status
    assert raised["message"] == message
    assert raised["str"] == f"HTTP {status}: {message}"
    assert json.loads(raised["body"]) == {"message": message}


def assert_run(events: list[Result], conversation_id: str, middle: list[str]) -> str:
    """``run_start``, ``middle``, chunks of one message, ``run_end``; returns the run id."""
    names = kinds(events)
    body = names[1 + len(middle) : -1]
    assert names[: 1 + len(middle)] == ["RunStartEvent", *middle]
    assert body and set(body) == {"MessageChunkEvent"}
    assert names[-1] == "RunEndEvent"
    start, end = events[0], events[-1]
    assert start["run_id"].startswith("run_")
    assert (end["run_id"], end["thread_id"]) == (start["run_id"], start["thread_id"])
    assert start["thread_id"] == conversation_id
    ids = {c["id"] for c in chunks(events)}
    assert len(ids) == 1 and "" not in ids
    return str(start["run_id"])


def check_conversations(r: Result, main: DevServer, keyed: DevServer) -> None:
    """Create, cursor pages of two, get, update, delete."""
    created = r["created"]
    ids = [c["id"] for c in created]
    assert len(set(ids)) == 5 and all(ids)
    assert [c["title"] for c in created] == [f"official {i}" for i in range(5)]
    assert [c["agent_id"] for c in created] == [None] * 4 + ["agent-7"]
    assert [c["seq"] for c in created] == [1, 2, 3, 4, 5]
    assert {c["types"]["seq"] for c in created} == {"int"}
    for c in created:
        assert c["created_at"] == c["updated_at"]
        assert c["created_at"].endswith("Z") and "T" in c["created_at"]
    pages = r["pages"]
    assert [p["last_id"] for p in pages] == [0, 4, 2]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    listed = [item for p in pages for item in p["items"]]
    assert listed == created[::-1]
    assert r["fetched"] == created[2]
    updated = r["updated"]
    assert updated["title"] == "renamed by official"
    assert {k: updated[k] for k in ("id", "seq", "created_at", "agent_id")} == {
        k: created[2][k] for k in ("id", "seq", "created_at", "agent_id")
    }
    assert updated["updated_at"] >= created[2]["updated_at"]
    assert r["refetched"] == updated
    assert r["empty_update"]["title"] == "renamed by official"
    assert r["delete_returned"] == "None"
    missing = f"conversation {ids[0]!r} not found"
    assert_api_error(r["get_deleted"], 404, missing)
    assert_api_error(r["delete_deleted"], 404, missing)
    assert r["after_delete"] == ids[:0:-1]
    assert bodies(main, "POST", "/conversations")[:5] == [
        {"title": f"official {i}"} for i in range(4)
    ] + [{"title": "official 4", "agent_id": "agent-7"}]
    assert bodies(main, "PATCH", f"/conversations/{ids[2]}") == [
        {"title": "renamed by official"},
        {},
    ]
    queries = [q.raw_path.partition("?")[2] for q in calls(main, "GET", "/conversations")]
    assert queries[:4] == [
        "lastId=0&size=2",
        "lastId=4&size=2",
        "lastId=2&size=2",
        "lastId=0&size=100",
    ]
    assert [q.body for q in calls(main, "DELETE", f"/conversations/{ids[0]}")] == [b"", b""]


def check_messages(r: Result, main: DevServer, keyed: DevServer) -> None:
    """Two turns, then the history in cursor pages of two."""
    cid = r["conversation_id"]
    plain, tool = r["turns"]
    assert_run(plain, cid, [])
    assert_run(tool, cid, ["ToolStartEvent", "ToolEndEvent"])
    pages = r["pages"]
    assert [p["last_id"] for p in pages] == [0, 2, 4]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    items = [item for p in pages for item in p["items"]]
    assert [m["seq"] for m in items] == [1, 2, 3, 4, 5]
    assert {m["types"]["seq"] for m in items} == {"int"}
    assert [m["role"] for m in items] == ["user", "assistant", "user", "tool", "assistant"]
    assert [m["content"] for m in items] == [
        "first message",
        'You said: "first message"',
        "/tool calc 2+2",
        'calc finished with {"query":"2+2"}',
        'You said: "/tool calc 2+2"',
    ]
    start = tool[1]
    assert items[3]["tool_calls"] == [{"id": start["id"], "name": "calc", "args": {"query": "2+2"}}]
    assert [m["tool_calls"] for m in items if m["role"] != "tool"] == [[], [], [], []]
    assert items[1]["id"] == chunks(plain)[0]["id"]
    assert items[4]["id"] == chunks(tool)[0]["id"]
    assert_api_error(r["unknown"], 404, "conversation 'no-such-conversation' not found")
    listing = calls(main, "GET", f"/conversations/{cid}/messages")
    queries = [q.raw_path.partition("?")[2] for q in listing]
    assert queries == ["lastId=0&size=2", "lastId=2&size=2", "lastId=4&size=2"]


def check_chat_plain(r: Result, main: DevServer, keyed: DevServer) -> None:
    """A plain message streamed word by word, and the request the client sent."""
    cid, message = r["conversation_id"], r["message"]
    assert_run(r["events"], cid, [])
    assert r["text"] == f'You said: "{message}"'
    assert [c["content"] for c in chunks(r["events"])] == [
        "You ",
        "said: ",
        '"Hello ',
        "from ",
        "the ",
        "official ",
        'client"',
    ]
    (request,) = calls(main, "POST", f"/conversations/{cid}/chat")
    assert request.json() == {"message": message}
    assert request.header("Accept") == "text/event-stream"
    assert request.header("Cache-Control") == "no-cache"
    assert request.header("Content-Type") == "application/json"
    assert request.header("Authorization") is None


def check_chat_tool(r: Result, main: DevServer, keyed: DevServer) -> None:
    """``/tool x``: tool_start / tool_end before the reply."""
    events = r["events"]
    assert_run(events, r["conversation_id"], ["ToolStartEvent", "ToolEndEvent"])
    start, end = events[1], events[2]
    assert start["id"].startswith("call_")
    assert (start["name"], start["args"]) == ("x", {"query": "find cats"})
    assert (end["id"], end["name"], end["error"]) == (start["id"], "x", False)
    assert end["result"] == 'x finished with {"query":"find cats"}'
    assert r["text"] == 'You said: "/tool x find cats"'


def check_chat_error(r: Result, main: DevServer, keyed: DevServer) -> None:
    """``/error``: the stream ends with an ``error`` event."""
    events = r["events"]
    assert kinds(events) == ["RunStartEvent", "ErrorEvent"]
    assert events[0]["thread_id"] == r["conversation_id"]
    assert events[1]["message"] == "the scripted agent failed on purpose"
    assert events[1]["error_code"] == "agent_failure"
    assert r["text"] == ""


def check_chat_send(r: Result, main: DevServer, keyed: DevServer) -> None:
    """The callback API with ``/subagent``."""
    events = r["events"]
    assert r["returned"] == "None"
    assert_run(events, r["conversation_id"], ["SubagentStartEvent", "SubagentEndEvent"])
    start, end = events[1], events[2]
    assert start["id"].startswith("call_") and start["agent_name"] == "helper"
    assert (end["id"], end["agent_name"], end["error"]) == (start["id"], "helper", False)
    assert r["text"] == 'You said: "/subagent helper plan a trip"'


def check_chat_hitl(r: Result, main: DevServer, keyed: DevServer) -> None:
    """``/hitl`` decided from another thread while the stream stays open."""
    cid, events = r["conversation_id"], r["events"]
    assert_run(events, cid, ["HitlInterruptEvent", "ToolStartEvent", "ToolEndEvent"])
    names = [e["kind"] for e in events]
    first_tool = names.index("ToolStartEvent")
    beats = [i for i, name in enumerate(names) if name == "HeartbeatEvent"]
    assert beats and all(1 < i < first_tool for i in beats)
    interrupt = events[1]
    assert interrupt["id"].startswith("hitl_")
    assert interrupt["action_name"] == "dangerous_action"
    assert interrupt["action_args"] == {"target": "wipe the backups"}
    assert interrupt["description"] == 'Run dangerous_action on "wipe the backups"'
    start, end = events[first_tool], events[first_tool + 1]
    assert (start["id"], start["name"]) == (interrupt["id"], "dangerous_action")
    assert start["args"] == {"target": "wipe the backups"}
    assert (end["id"], end["error"]) == (interrupt["id"], False)
    assert end["result"] == 'dangerous_action finished with {"target":"wipe the backups"}'
    assert r["text"] == (
        'You said: "/hitl wipe the backups" The dangerous_action was approved and ran.'
    )
    decide = r["decide"]
    assert decide == {"thread": "official-driver-side", "returned": "None", "error": None}
    assert r["stream_thread"] != decide["thread"]
    assert_api_error(
        r["decide_again"], 409, "no run in this conversation is waiting for a decision"
    )
    assert r["decide_empty"] == {"raised": "ValueError", "message": "decisions must not be empty"}
    approve = {"decisions": [{"decision": "approve"}]}
    assert bodies(main, "POST", f"/conversations/{cid}/chat/hitl/decide") == [approve, approve]
    assert len(calls(main, "POST", f"/conversations/{cid}/chat")) == 1


def check_chat_stop(r: Result, main: DevServer, keyed: DevServer) -> None:
    """``/slow`` stopped from another thread ends with ``cancelled``; the next turn works."""
    cid, events = r["conversation_id"], r["events"]
    names = kinds(events)
    assert names[0] == "RunStartEvent" and names[-1] == "CancelledEvent"
    assert set(names[1:-1]) == {"MessageChunkEvent"}
    assert r["cancelled"] == 1
    assert events[-1] == {
        "kind": "CancelledEvent",
        "channel": "error",
        "type": "cancelled",
        "reason": "stopped by user",
    }
    opening = 'You said: "/slow tell me everything" This reply is deliberately slow'
    text = r["text"]
    assert text and (opening.startswith(text) or text.startswith(opening))
    assert "uninteresting sentence." not in text
    assert r["stop"] == {"thread": "official-driver-side", "returned": "None", "error": None}
    assert r["idle_stop"] == {"raised": None, "value": "None"}
    after = r["after_events"]
    run_id = assert_run(after, cid, [])
    assert run_id != events[0]["run_id"]
    assert r["after_text"] == 'You said: "and now quickly"'
    messages = r["messages"]
    assert [(m["seq"], m["role"]) for m in messages] == [(1, "user"), (2, "user"), (3, "assistant")]
    assert [m["content"] for m in messages] == [
        "/slow tell me everything",
        "and now quickly",
        'You said: "and now quickly"',
    ]
    assert messages[2]["id"] == chunks(after)[0]["id"]
    stops = calls(main, "POST", f"/conversations/{cid}/chat/stop")
    assert [s.json() for s in stops] == [{}, {}]
    assert {s.header("Content-Type") for s in stops} == {"application/json"}


def check_cron(r: Result, main: DevServer, keyed: DevServer) -> None:
    """Cron tasks through their whole lifecycle."""
    daily, ticker = r["created"]
    for task in (daily, ticker):
        assert task["status"] == "active"
        assert task["types"] == {
            "id": "str",
            "thread_id": "str",
            "user_id": "str",
            "channel": "str",
        }
        assert (task["thread_id"], task["user_id"]) == ("", "dev")
        assert (task["last_run"], task["last_run_error"], task["last_run_output"]) == (0.0, "", "")
        assert task["created_at"] == task["updated_at"] > 0
    assert (daily["name"], daily["prompt"]) == ("daily digest", "Summarise the news")
    assert (daily["schedule_type"], daily["schedule_expr"]) == ("cron", "0 9 * * *")
    assert daily["channel"] == "email"
    assert daily["next_run"] > daily["created_at"]
    assert (ticker["name"], ticker["prompt"], ticker["channel"]) == ("ticker", "Ping", "")
    assert (ticker["schedule_type"], ticker["schedule_expr"]) == ("interval", "30s")
    assert ticker["next_run"] == pytest.approx(ticker["created_at"] + 30, abs=1)
    assert r["listed"] == [daily, ticker]
    assert r["fetched"] == daily
    updated = r["updated"]
    assert (updated["name"], updated["schedule_expr"]) == ("weekly digest", "0 9 * * 1")
    unchanged = ("id", "prompt", "schedule_type", "channel", "status", "created_at")
    assert {k: updated[k] for k in unchanged} == {k: daily[k] for k in unchanged}
    assert updated["updated_at"] >= daily["updated_at"]
    paused = r["paused"]
    assert (paused["status"], paused["next_run"], paused["name"]) == (
        "paused",
        0.0,
        "weekly digest",
    )
    assert r["paused_get"] == paused
    resumed = r["resumed"]
    assert resumed["status"] == "active" and resumed["next_run"] > resumed["updated_at"]
    assert r["delete_returned"] == "None"
    assert r["after_delete"] == [daily["id"]]
    assert_api_error(r["get_deleted"], 404, f"cron task {ticker['id']!r} not found")
    assert bodies(main, "POST", "/cron/tasks") == [
        {
            "name": "daily digest",
            "prompt": "Summarise the news",
            "schedule_type": "cron",
            "schedule_expr": "0 9 * * *",
            "channel": "email",
        },
        {"name": "ticker", "prompt": "Ping", "schedule_type": "interval", "schedule_expr": "30s"},
    ]
    task = f"/cron/tasks/{daily['id']}"
    assert bodies(main, "PUT", task) == [{"name": "weekly digest", "schedule_expr": "0 9 * * 1"}]
    assert bodies(main, "POST", f"{task}/pause") == bodies(main, "POST", f"{task}/resume") == [{}]


def check_agents(r: Result, main: DevServer, keyed: DevServer) -> None:
    """Agents and mates through their whole lifecycle."""
    solo, team = r["created"]
    sent = {
        "name": "writer",
        "type": "solo",
        "system_prompt": "You write.",
        "model_id": "openai:gpt-4o",
        "mcps": ["fs"],
        "skills": ["prose"],
        "metadata": {"tier": 1},
        "introduce": "I write things",
        "outlines": [{"step": "draft"}],
    }
    assert solo == {"id": 1, **sent, "types": {"id": "int", "system_prompt": "str"}}
    assert team == {
        "id": 2,
        "name": "crew",
        "type": "team",
        "system_prompt": "",
        "model_id": "",
        "mcps": [],
        "skills": [],
        "metadata": {},
        "introduce": "",
        "outlines": [],
        "types": {"id": "int", "system_prompt": "str"},
    }
    assert r["listed"] == [solo, team]
    assert r["fetched"] == solo
    assert r["updated"] == {**solo, "system_prompt": "You edit.", "skills": ["prose", "edit"]}
    first = {"name": "first", "introduce": "", "system_prompt": "", "sort": 1}
    second = {
        "name": "second",
        "introduce": "goes second",
        "system_prompt": "Be second.",
        "sort": 2,
    }
    typed = {"types": {"system_prompt": "str"}}
    assert r["saved_mates"] == r["listed_mates"] == [{**first, **typed}, {**second, **typed}]
    assert r["solo_mates"] == []
    assert r["delete_returned"] == "None"
    assert r["after_delete"] == [2]
    assert_api_error(r["get_deleted"], 404, "agent '1' not found")
    assert_api_error(r["mates_deleted"], 404, "agent '1' not found")
    assert bodies(main, "POST", "/agent")[0] == sent
    assert bodies(main, "PATCH", "/agent/1") == [
        {"system_prompt": "You edit.", "skills": ["prose", "edit"]}
    ]
    assert bodies(main, "POST", "/agent/2/mates") == [{"mates": [second, first]}]


def check_errors(r: Result, main: DevServer, keyed: DevServer) -> None:
    """Our JSON error bodies give the official client its message."""
    assert_api_error(r["get_unknown"], 404, "conversation 'no-such-conversation' not found")
    assert_api_error(r["cron_unknown"], 404, "cron task 'no-such-task' not found")
    assert_api_error(r["agent_unknown"], 404, "agent '987654' not found")
    assert r["chat_unknown"] == []
    assert len(calls(main, "POST", "/conversations/no-such-conversation/chat")) == 1


def check_auth(r: Result, main: DevServer, keyed: DevServer) -> None:
    """Wrong or missing key: ``LlmrixAuthError`` 401; agents off: ``LlmrixAuthError`` 503."""
    bad = "missing or invalid API key"
    for name in ("wrong_list", "wrong_create", "wrong_cron", "missing_get"):
        assert_api_error(r[name], 401, bad, auth=True)
    assert r["wrong_stream"] == []
    created = r["right_created"]
    assert created["title"] == "keyed" and created["seq"] == 1
    assert r["right_listed"] == [created["id"]]
    assert r["right_text"] == 'You said: "keyed hello"'
    assert_api_error(
        r["right_agents"], 503, "agents are not available on this deployment", auth=True
    )
    assert {req.header("Authorization") for req in keyed.requests} == {
        f"Bearer wrong-{API_KEY}",
        None,
        f"Bearer {API_KEY}",
    }
    assert keyed.store.get_conversation(created["id"]) is not None


CHECKS: dict[str, Callable[[Result, DevServer, DevServer], None]] = {
    "conversations": check_conversations,
    "messages": check_messages,
    "chat_plain": check_chat_plain,
    "chat_tool": check_chat_tool,
    "chat_error": check_chat_error,
    "chat_send": check_chat_send,
    "chat_hitl": check_chat_hitl,
    "chat_stop": check_chat_stop,
    "cron": check_cron,
    "agents": check_agents,
    "errors": check_errors,
    "auth": check_auth,
}


@pytest.mark.parametrize("scenario", list(CHECKS))
async def test_scenario(scenario: str, drive: Drive, servers: tuple[DevServer, DevServer]) -> None:
    results = await drive(scenario)
    assert list(results) == [scenario]
    CHECKS[scenario](results[scenario], *servers)


async def test_all_scenarios_in_one_run(drive: Drive, servers: tuple[DevServer, DevServer]) -> None:
    results = await drive("all")
    assert list(results) == list(CHECKS)
    for name, check in CHECKS.items():
        check(results[name], *servers)
