"""Every REST call: method, path, query, body sent; answer decoded into models."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from _support import ServeApp
from aiohttp import web

from llmrix import (
    Agent,
    AgentCreateRequest,
    AgentUpdateRequest,
    APIResponseValidationError,
    Conversation,
    ConversationCreateRequest,
    ConversationUpdateRequest,
    CronCreateRequest,
    CronTask,
    CronUpdateRequest,
    LlmrixClient,
    Mate,
    Message,
    PageResult,
    ToolCall,
)

Answer = Callable[[web.Request], Any]


class Recorder:
    """A catch-all app: records each request, answers from a route table."""

    def __init__(self, answers: dict[tuple[str, str], Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict[str, str], Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/open/v1/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        path = request.raw_path.split("?")[0].removeprefix("/api/open/v1")
        self.calls.append((request.method, path, dict(request.query), body))
        answer = self.answers.get((request.method, path))
        if callable(answer):
            answer = answer(request)
        if answer is None:
            return web.Response(status=204)
        return web.json_response(answer)


CONVERSATION = {
    "id": "c1",
    "title": "Demo",
    "seq": 7,
    "agent_id": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-02T00:00:00Z",
    "unknown_field": [1, 2],
}
TASK = {
    "id": "t1",
    "name": "daily",
    "prompt": "summarise",
    "schedule_type": "cron",
    "schedule_expr": "0 9 * * *",
    "status": "active",
    "thread_id": None,
    "last_run": None,
    "next_run": 1767000000.5,
    "created_at": 1766000000,
}
AGENT = {"id": 3, "name": "helper", "type": "team", "mcps": ["fs"], "metadata": {"k": "v"}}


async def start(serve: ServeApp, make_client: Callable[..., LlmrixClient], answers: Any) -> Any:
    recorder = Recorder(answers)
    client = make_client(await serve(recorder.app()))
    return recorder, client


async def test_conversations_crud(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    recorder, client = await start(
        serve,
        make_client,
        {
            ("POST", "/conversations"): CONVERSATION,
            ("GET", "/conversations/c1"): CONVERSATION,
            ("PATCH", "/conversations/c1"): {**CONVERSATION, "title": "New"},
            ("DELETE", "/conversations/c1"): None,
        },
    )
    created = await client.conversations.create(title="Demo")
    assert created == Conversation(
        id="c1",
        title="Demo",
        seq=7,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-02T00:00:00Z",
    )
    await client.conversations.create(ConversationCreateRequest(title="X", agent_id="a1"))
    await client.conversations.create("Y", agent_id="a2")
    assert (await client.conversations.get("c1")).title == "Demo"
    assert (await client.conversations.update("c1", title="New")).title == "New"
    await client.conversations.update("c1", agent_id="a9")
    await client.conversations.update("c1", agent_id=None)
    await client.conversations.update("c1", ConversationUpdateRequest(title="T", agent_id=None))
    assert await client.conversations.delete("c1") is None
    assert [(m, p, b) for m, p, _, b in recorder.calls] == [
        ("POST", "/conversations", {"title": "Demo"}),
        ("POST", "/conversations", {"title": "X", "agent_id": "a1"}),
        ("POST", "/conversations", {"title": "Y", "agent_id": "a2"}),
        ("GET", "/conversations/c1", None),
        ("PATCH", "/conversations/c1", {"title": "New"}),
        ("PATCH", "/conversations/c1", {"agent_id": "a9"}),
        ("PATCH", "/conversations/c1", {"agent_id": None}),
        ("PATCH", "/conversations/c1", {"title": "T", "agent_id": None}),
        ("DELETE", "/conversations/c1", None),
    ]


async def test_list_and_messages_pages(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    message = {
        "seq": "m5",
        "id": "x",
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "t", "name": "search", "args": {"q": 1}}],
    }
    recorder, client = await start(
        serve,
        make_client,
        {
            ("GET", "/conversations"): {"items": [CONVERSATION], "has_more": True},
            ("GET", "/conversations/c1/messages"): {"items": [message], "has_more": False},
        },
    )
    page = await client.conversations.list(last_id=12, size=5)
    assert isinstance(page, PageResult)
    assert page.has_more
    assert page.items[0].seq == 7
    messages = await client.conversations.messages("c1")
    assert messages.items == [
        Message(
            seq="m5",
            id="x",
            role="assistant",
            tool_calls=[ToolCall(id="t", name="search", args={"q": 1})],
        )
    ]
    assert [(p, q) for _, p, q, _ in recorder.calls] == [
        ("/conversations", {"lastId": "12", "size": "5"}),
        ("/conversations/c1/messages", {"lastId": "0", "size": "20"}),
    ]


def paged(items: list[dict[str, Any]]) -> Answer:
    """Serve ``items`` by ``seq`` cursor, two per page."""

    def answer(request: web.Request) -> dict[str, Any]:
        last = request.query.get("lastId", "0")
        size = int(request.query["size"])
        start = 0 if last == "0" else [str(i["seq"]) for i in items].index(last) + 1
        page = items[start : start + size]
        return {"items": page, "has_more": start + size < len(items)}

    return answer


@pytest.mark.parametrize("cursor", [lambda i: i + 1, lambda i: f"s{i:03}"])
async def test_iter_follows_the_cursor(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], cursor: Callable[[int], Any]
) -> None:
    items = [{"id": f"c{i}", "seq": cursor(i)} for i in range(5)]
    messages = [{"id": f"m{i}", "seq": cursor(i), "role": "user"} for i in range(3)]
    recorder, client = await start(
        serve,
        make_client,
        {
            ("GET", "/conversations"): paged(items),
            ("GET", "/conversations/c%2F1/messages"): paged(messages),
        },
    )
    assert [c.id async for c in client.conversations.iter(size=2)] == [
        "c0",
        "c1",
        "c2",
        "c3",
        "c4",
    ]
    assert [m.id async for m in client.conversations.iter_messages("c/1", size=2)] == [
        "m0",
        "m1",
        "m2",
    ]
    queries = [q["lastId"] for _, _, q, _ in recorder.calls]
    assert queries == ["0", str(cursor(1)), str(cursor(3)), "0", str(cursor(1))]


async def test_iter_stops_if_the_cursor_does_not_advance(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    stuck = {"items": [{"id": "c", "seq": 0}], "has_more": True}
    _, client = await start(serve, make_client, {("GET", "/conversations"): stuck})
    with pytest.raises(APIResponseValidationError, match="did not advance"):
        [c async for c in client.conversations.iter()]


async def test_cron(serve: ServeApp, make_client: Callable[..., LlmrixClient]) -> None:
    paused = {**TASK, "status": "paused"}
    recorder, client = await start(
        serve,
        make_client,
        {
            ("GET", "/cron/tasks"): {"tasks": [TASK]},
            ("POST", "/cron/tasks"): TASK,
            ("GET", "/cron/tasks/t1"): TASK,
            ("PUT", "/cron/tasks/t1"): TASK,
            ("POST", "/cron/tasks/t1/pause"): paused,
            ("POST", "/cron/tasks/t1/resume"): TASK,
            ("DELETE", "/cron/tasks/t1"): None,
        },
    )
    tasks = await client.cron.list()
    assert tasks == [
        CronTask(
            id="t1",
            name="daily",
            prompt="summarise",
            schedule_type="cron",
            schedule_expr="0 9 * * *",
            status="active",
            next_run=1767000000.5,
            created_at=1766000000.0,
        )
    ]
    await client.cron.create("daily", prompt="summarise", schedule_expr="0 9 * * *")
    await client.cron.create(
        CronCreateRequest(
            name="n", prompt="p", schedule_expr="60", schedule_type="interval", channel="web"
        )
    )
    assert (await client.cron.get("t1")).id == "t1"
    await client.cron.update("t1", prompt="new prompt")
    await client.cron.update("t1", CronUpdateRequest(schedule_expr="*/5 * * * *"))
    assert (await client.cron.pause("t1")).status == "paused"
    assert (await client.cron.resume("t1")).status == "active"
    await client.cron.delete("t1")
    assert [(m, p, b) for m, p, _, b in recorder.calls] == [
        ("GET", "/cron/tasks", None),
        (
            "POST",
            "/cron/tasks",
            {
                "name": "daily",
                "prompt": "summarise",
                "schedule_expr": "0 9 * * *",
                "schedule_type": "cron",
            },
        ),
        (
            "POST",
            "/cron/tasks",
            {
                "name": "n",
                "prompt": "p",
                "schedule_expr": "60",
                "schedule_type": "interval",
                "channel": "web",
            },
        ),
        ("GET", "/cron/tasks/t1", None),
        ("PUT", "/cron/tasks/t1", {"prompt": "new prompt"}),
        ("PUT", "/cron/tasks/t1", {"schedule_expr": "*/5 * * * *"}),
        ("POST", "/cron/tasks/t1/pause", {}),
        ("POST", "/cron/tasks/t1/resume", {}),
        ("DELETE", "/cron/tasks/t1", None),
    ]


async def test_cron_create_needs_its_fields(make_client: Callable[..., LlmrixClient]) -> None:
    client = make_client("http://127.0.0.1:9")
    with pytest.raises(TypeError, match="prompt"):
        await client.cron.create("name-only")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="schedule_expr"):
        await client.cron.create("name-only", prompt="p")  # type: ignore[call-overload]


async def test_empty_envelopes_give_empty_lists(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    _, client = await start(
        serve,
        make_client,
        {
            ("GET", "/cron/tasks"): {"tasks": None},
            ("GET", "/agent"): {},
            ("GET", "/agent/1/mates"): None,
        },
    )
    assert await client.cron.list() == []
    assert await client.agents.list() == []
    assert await client.agents.list_mates(1) == []


async def test_agents_and_mates(serve: ServeApp, make_client: Callable[..., LlmrixClient]) -> None:
    mates = [{"name": "a", "introduce": "i", "system_prompt": "s", "sort": 1}]
    recorder, client = await start(
        serve,
        make_client,
        {
            ("GET", "/agent"): {"agents": [AGENT]},
            ("POST", "/agent"): {"agent": AGENT},
            ("GET", "/agent/3"): {"agent": AGENT},
            ("PATCH", "/agent/3"): {"agent": {**AGENT, "name": "renamed"}},
            ("DELETE", "/agent/3"): None,
            ("GET", "/agent/3/mates"): {"mates": mates},
            ("POST", "/agent/3/mates"): {"mates": mates},
        },
    )
    agents = await client.agents.list()
    assert agents == [Agent(id=3, name="helper", type="team", mcps=["fs"], metadata={"k": "v"})]
    await client.agents.create("helper", type="team", mcps=["fs"])
    await client.agents.create(AgentCreateRequest(name="x", system_prompt="be brief"))
    assert (await client.agents.get(3)).id == 3
    assert (await client.agents.update(3, name="renamed")).name == "renamed"
    await client.agents.update(3, AgentUpdateRequest(skills=[]))
    await client.agents.delete(3)
    assert await client.agents.list_mates(3) == [
        Mate(name="a", introduce="i", system_prompt="s", sort=1)
    ]
    saved = await client.agents.save_mates(3, [Mate(name="a", introduce="i", sort=1)])
    assert saved[0].system_prompt == "s"
    assert [(m, p, b) for m, p, _, b in recorder.calls] == [
        ("GET", "/agent", None),
        ("POST", "/agent", {"name": "helper", "type": "team", "mcps": ["fs"]}),
        ("POST", "/agent", {"name": "x", "system_prompt": "be brief"}),
        ("GET", "/agent/3", None),
        ("PATCH", "/agent/3", {"name": "renamed"}),
        ("PATCH", "/agent/3", {"skills": []}),
        ("DELETE", "/agent/3", None),
        ("GET", "/agent/3/mates", None),
        (
            "POST",
            "/agent/3/mates",
            {"mates": [{"name": "a", "introduce": "i", "system_prompt": "", "sort": 1}]},
        ),
    ]


async def test_stop_and_decide_bodies(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    from llmrix import HitlDecision

    recorder, client = await start(serve, make_client, {})
    chat = client.chat("c 1")
    await chat.stop()
    await chat.decide([HitlDecision.approve(), HitlDecision.reject(), HitlDecision.reject("no")])
    assert [(m, p, b) for m, p, _, b in recorder.calls] == [
        ("POST", "/conversations/c%201/chat/stop", {}),
        (
            "POST",
            "/conversations/c%201/chat/hitl/decide",
            {
                "decisions": [
                    {"decision": "approve"},
                    {"decision": "reject"},
                    {"decision": "reject", "reason": "no"},
                ]
            },
        ),
    ]


async def test_request_objects_and_fields_do_not_mix(
    make_client: Callable[..., LlmrixClient],
) -> None:
    client = make_client("http://127.0.0.1:9")
    with pytest.raises(TypeError, match="agent_id"):
        await client.conversations.create(ConversationCreateRequest(title="t"), agent_id="a")
    with pytest.raises(TypeError, match="channel"):
        request = CronCreateRequest(name="n", prompt="p", schedule_expr="1")
        await client.cron.create(request, channel="web")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="prompt"):
        await client.cron.update("t1", CronUpdateRequest(name="n"), prompt="p")
    with pytest.raises(TypeError, match="type"):
        await client.agents.create(AgentCreateRequest(name="a"), type="team")
    with pytest.raises(TypeError, match="name"):
        await client.agents.update(1, AgentUpdateRequest(type="solo"), name="b")


async def test_null_lists_and_fields_in_answers_read_as_absent(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    _, client = await start(
        serve,
        make_client,
        {
            ("GET", "/conversations"): {"items": None, "has_more": False},
            ("GET", "/conversations/c/messages"): {
                "items": [{"seq": 1, "id": "m", "role": None, "tool_calls": None}],
                "has_more": None,
            },
            ("GET", "/agent/1/mates"): {"mates": [{"name": "a", "introduce": None, "sort": None}]},
            ("GET", "/agent/1"): {"agent": {"id": 1, "name": None, "metadata": {"k": None}}},
        },
    )
    assert (await client.conversations.list()).items == []
    page = await client.conversations.messages("c")
    assert page.items == [Message(seq=1, id="m", role="")]
    assert page.has_more is False
    assert await client.agents.list_mates(1) == [Mate(name="a")]
    agent = await client.agents.get(1)
    assert agent.name == ""
    assert agent.metadata == {"k": None}
