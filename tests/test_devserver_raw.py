"""The dev server exercised with a raw aiohttp client (no SDK)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from llmrix.devserver import DevServer, FaultOptions

PREFIX = "/api/open/v1"
Frame = dict[str, str]


@pytest.fixture
async def dev() -> AsyncIterator[DevServer]:
    async with DevServer(heartbeat_interval=0.05, slow_delay=0.02) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def url(server: DevServer, path: str) -> URL:
    return URL(server.base_url + PREFIX + path, encoded=True)


def parse_frames(raw: bytes) -> list[Frame]:
    """Split an SSE body into frames (comments kept under the empty key)."""
    text = raw.decode().replace("\r\n", "\n").replace("\r", "\n")
    frames: list[Frame] = []
    for block in text.split("\n\n"):
        if not block:
            continue
        fields: Frame = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        frames.append(fields)
    return frames


def events(raw: bytes) -> list[dict[str, Any]]:
    """The JSON events of a stream, keep-alives dropped."""
    out: list[dict[str, Any]] = []
    for fields in parse_frames(raw):
        data = fields.get("data")
        if data is None or data == ":ping" or fields.get("event") == "heartbeat":
            continue
        event = json.loads(data)
        if event.get("channel") != "heartbeat":
            out.append(event)
    return out


def types(evs: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in evs]


def text_of(evs: list[dict[str, Any]]) -> str:
    return "".join(e["content"] for e in evs if e["type"] == "message_chunk")


async def new_conversation(server: DevServer, http: aiohttp.ClientSession) -> str:
    async with http.post(url(server, "/conversations"), json={"title": "t"}) as resp:
        assert resp.status == 200
        body = await resp.json()
    return str(body["id"])


async def chat(
    server: DevServer, http: aiohttp.ClientSession, cid: str, body: dict[str, Any], **kw: Any
) -> bytes:
    async with http.post(url(server, f"/conversations/{cid}/chat"), json=body, **kw) as resp:
        assert resp.status == 200
        return await resp.read()


async def read_until(resp: aiohttp.ClientResponse, marker: bytes) -> bytes:
    buf = b""
    while marker not in buf:
        chunk = await resp.content.readany()
        assert chunk, f"stream ended before {marker!r}: {buf!r}"
        buf += chunk
    return buf


async def test_conversation_crud(dev: DevServer, http: aiohttp.ClientSession) -> None:
    async with http.post(url(dev, "/conversations"), json={"title": "a", "agent_id": "x"}) as r:
        conv = await r.json()
    assert set(conv) == {"id", "title", "seq", "agent_id", "created_at", "updated_at"}
    assert isinstance(conv["seq"], int)
    assert conv["title"] == "a"
    assert conv["agent_id"] == "x"
    cid = conv["id"]
    async with http.get(url(dev, f"/conversations/{cid}")) as r:
        assert (await r.json()) == conv
    async with http.patch(url(dev, f"/conversations/{cid}"), json={"title": "b"}) as r:
        patched = await r.json()
    assert patched["title"] == "b"
    assert patched["agent_id"] == "x"
    async with http.delete(url(dev, f"/conversations/{cid}")) as r:
        assert r.status == 204
        assert await r.read() == b""
    async with http.get(url(dev, f"/conversations/{cid}")) as r:
        assert r.status == 404
        assert cid in (await r.json())["message"]


async def test_auth(http: aiohttp.ClientSession) -> None:
    async with DevServer(api_key="sekret") as dev:
        async with http.get(url(dev, "/conversations")) as r:
            assert r.status == 401
            assert "API key" in (await r.json())["message"]
        bad = {"Authorization": "Bearer nope"}
        async with http.get(url(dev, "/cron/tasks"), headers=bad) as r:
            assert r.status == 401
        good = {"Authorization": "Bearer sekret"}
        async with http.get(url(dev, "/conversations"), headers=good) as r:
            assert r.status == 200
        assert dev.requests[-1].header("authorization") == "Bearer sekret"
        assert dev.requests[0].header("Authorization") is None


async def test_errors(dev: DevServer, http: aiohttp.ClientSession) -> None:
    post = url(dev, "/conversations")
    async with http.post(post, data=b"{nope", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert "not valid JSON" in (await r.json())["message"]
    async with http.post(post, json={"agent_id": 7}) as r:
        assert r.status == 422
        assert "agent_id" in (await r.json())["message"]
    async with http.post(post, json={"title": 5}) as r:
        assert r.status == 422
        assert "title" in (await r.json())["message"]
    async with http.get(url(dev, "/conversations?lastId=abc")) as r:
        assert r.status == 422
    cid = await new_conversation(dev, http)
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json={"msg": "x"}) as r:
        assert r.status == 422
        assert "message" in (await r.json())["message"]
    async with http.get(url(dev, "/nowhere")) as r:
        assert r.status == 404
        assert "message" in await r.json()
    async with http.put(url(dev, "/conversations")) as r:
        assert r.status == 405
        assert "Allow" in r.headers


async def test_encoded_ids_reach_the_route(dev: DevServer, http: aiohttp.ClientSession) -> None:
    dev.seed_conversation("odd", id="a/b")
    async with http.get(url(dev, "/conversations/a%2Fb")) as r:
        assert r.status == 200
        assert (await r.json())["id"] == "a/b"
    async with http.get(url(dev, "/conversations/..%2Fx/messages")) as r:
        assert r.status == 404
        assert "'../x'" in (await r.json())["message"]
    assert dev.requests[-1].raw_path == PREFIX + "/conversations/..%2Fx/messages"
    assert dev.requests[-1].method == "GET"


async def test_conversation_pagination(dev: DevServer, http: aiohttp.ClientSession) -> None:
    created = [await new_conversation(dev, http) for _ in range(5)]
    seen: list[str] = []
    last_id = 0
    pages = 0
    while True:
        async with http.get(url(dev, f"/conversations?lastId={last_id}&size=2")) as r:
            page = await r.json()
        pages += 1
        seen += [c["id"] for c in page["items"]]
        if not page["has_more"]:
            break
        last_id = page["items"][-1]["seq"]
    assert pages == 3
    assert seen == list(reversed(created))


async def test_message_pagination(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    for word in ("one", "two", "three"):
        await chat(dev, http, cid, {"message": word})
    items: list[dict[str, Any]] = []
    last_id = 0
    while True:
        path = f"/conversations/{cid}/messages?lastId={last_id}&size=4"
        async with http.get(url(dev, path)) as r:
            page = await r.json()
        items += page["items"]
        if not page["has_more"]:
            break
        last_id = page["items"][-1]["seq"]
    assert [m["seq"] for m in items] == [1, 2, 3, 4, 5, 6]
    assert [m["role"] for m in items] == ["user", "assistant"] * 3
    assert items[4]["content"] == "three"
    assert items[5]["content"] == 'You said: "three"'
    assert items[5]["tool_calls"] is None


async def test_plain_chat_stream(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    path = f"/conversations/{cid}/chat"
    headers = {"Accept": "text/event-stream"}
    async with http.post(url(dev, path), json={"message": "hello there"}, headers=headers) as r:
        assert r.headers["Content-Type"] == "text/event-stream"
        assert r.headers["Cache-Control"] == "no-cache"
        raw = await r.read()
    frames = parse_frames(raw)
    assert all(f["event"] == json.loads(f["data"])["channel"] for f in frames)
    evs = events(raw)
    assert evs[0]["type"] == "run_start"
    assert evs[0]["thread_id"] == cid
    assert evs[-1] == {
        "channel": "lifecycle",
        "type": "run_end",
        "run_id": evs[0]["run_id"],
        "thread_id": cid,
    }
    chunks = evs[1:-1]
    assert len(chunks) > 2
    assert all(c["type"] == "message_chunk" and c["id"] for c in chunks)
    assert text_of(evs) == 'You said: "hello there"'


async def test_tools_and_subagents(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    evs = events(await chat(dev, http, cid, {"message": "find /tool web_search /subagent bob"}))
    assert types(evs)[:5] == [
        "run_start",
        "tool_start",
        "tool_end",
        "subagent_start",
        "subagent_end",
    ]
    start, end = evs[1], evs[2]
    assert start["name"] == "web_search"
    assert start["args"] == {"query": "find"}
    assert end["id"] == start["id"]
    assert isinstance(end["result"], str)
    assert end["error"] is False
    assert evs[3]["agent_name"] == "bob"
    async with http.get(url(dev, f"/conversations/{cid}/messages")) as r:
        messages = (await r.json())["items"]
    assert [m["role"] for m in messages] == ["user", "tool", "assistant"]
    assert messages[1]["tool_calls"] == [
        {"id": start["id"], "name": "web_search", "args": {"query": "find"}}
    ]


async def test_hitl_decide_on_open_stream(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    decide = url(dev, f"/conversations/{cid}/chat/hitl/decide")
    async with http.post(decide, json={"decisions": [{"decision": "approve"}]}) as r:
        assert r.status == 409
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json={"message": "go /hitl"}) as r:
        head = await read_until(r, b"hitl_interrupt")
        await asyncio.sleep(0.15)
        async with http.post(decide, json={"decisions": []}) as d:
            assert d.status == 422
            assert "empty" in (await d.json())["message"]
        async with http.post(decide, json={"decisions": [{"decision": "approve"}]}) as d:
            assert d.status == 200
            assert await d.read() == b""
        raw = head + await r.read()
    frames = parse_frames(raw)
    assert any("" in f and "data" not in f for f in frames), "no comment keep-alive"
    assert any(f.get("event") == "heartbeat" for f in frames), "no heartbeat frame"
    evs = events(raw)
    interrupt = evs[1]
    assert interrupt["type"] == "hitl_interrupt"
    assert interrupt["action_name"] == "dangerous_action"
    assert interrupt["action_args"] == {"target": "go"}
    assert interrupt["id"]
    assert interrupt["description"]
    assert types(evs)[2:4] == ["tool_start", "tool_end"]
    assert "approved" in text_of(evs)
    assert evs[-1]["type"] == "run_end"


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ({"decision": "reject", "reason": "too risky"}, "rejected: too risky"),
        ({"decision": "modify", "modified_args": {"target": "b"}}, '{"target":"b"}'),
    ],
)
async def test_hitl_reject_and_modify(
    dev: DevServer, http: aiohttp.ClientSession, decision: dict[str, Any], expected: str
) -> None:
    cid = await new_conversation(dev, http)
    decide = url(dev, f"/conversations/{cid}/chat/hitl/decide")
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json={"message": "/hitl"}) as r:
        head = await read_until(r, b"hitl_interrupt")
        async with http.post(decide, json={"decisions": [decision]}) as d:
            assert d.status == 200
        raw = head + await r.read()
    assert expected in text_of(events(raw))


async def test_hitl_resume_on_new_stream(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json={"message": "/hitl"}) as r:
        await read_until(r, b"hitl_interrupt")
    await asyncio.sleep(0.05)
    assert dev.live_streams == 0
    resume = {"message": "", "hitl_decisions": [{"decision": "reject", "reason": "no"}]}
    evs = events(await chat(dev, http, cid, resume))
    assert evs[0]["type"] == "message_chunk"
    assert "rejected: no" in text_of(evs)
    assert evs[-1]["type"] == "run_end"
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json=resume) as r:
        assert r.status == 409


async def test_hitl_decide_after_stream_closed(dev: DevServer, http: aiohttp.ClientSession) -> None:
    dev.faults = FaultOptions(end_at_interrupt=True)
    cid = await new_conversation(dev, http)
    evs = events(await chat(dev, http, cid, {"message": "/hitl"}))
    assert types(evs) == ["run_start", "hitl_interrupt"]
    decide = url(dev, f"/conversations/{cid}/chat/hitl/decide")
    async with http.post(decide, json={"decisions": [{"decision": "approve"}]}) as d:
        assert d.status == 200
    async with http.get(url(dev, f"/conversations/{cid}/messages")) as r:
        roles = [m["role"] for m in (await r.json())["items"]]
    assert roles == ["user", "tool", "assistant"]


async def test_slow_then_stop(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    stop = url(dev, f"/conversations/{cid}/chat/stop")
    async with http.post(stop, json={}) as s:
        assert s.status == 200
        assert await s.read() == b""
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json={"message": "/slow"}) as r:
        head = await read_until(r, b"message_chunk")
        async with http.post(stop, json={}) as s:
            assert s.status == 200
        raw = head + await r.read()
    evs = events(raw)
    assert evs[-1] == {"channel": "error", "type": "cancelled", "reason": "stopped by user"}
    assert len([e for e in evs if e["type"] == "message_chunk"]) < 10


async def test_error_command(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    evs = events(await chat(dev, http, cid, {"message": "/tool x /error"}))
    assert types(evs) == ["run_start", "tool_start", "tool_end", "error"]
    assert evs[-1]["error_code"] == "agent_failure"
    assert evs[-1]["message"]


async def test_long_stream(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    evs = events(await chat(dev, http, cid, {"message": "/long 5000"}))
    assert len(evs) == 5002
    assert text_of(evs) == "lorem " * 5000


async def test_typescript_shapes(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    body = {"message": "/ts /tool calc /subagent helper /hitl"}
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json=body) as r:
        head = await read_until(r, b"hitl_interrupt")
        decide = url(dev, f"/conversations/{cid}/chat/hitl/decide")
        async with http.post(decide, json={"decisions": [{"decision": "approve"}]}) as d:
            assert d.status == 200
        evs = events(head + await r.read())
    by_type = {e["type"]: e for e in evs}
    assert set(by_type["tool_start"]) >= {"tool_call_id", "name", "input", "parent_ids"}
    assert "output" in by_type["tool_end"]
    assert set(by_type["subagent_start"]) >= {"tool_call_id", "name", "input", "parent_ids"}
    assert "output" in by_type["subagent_end"]
    request = by_type["hitl_interrupt"]["action_requests"][0]
    assert request["name"] == "dangerous_action"
    assert request["decisions"] == ["approve", "reject", "modify"]
    assert by_type["message_chunk"]["run_id"] == evs[0]["run_id"]
    assert "id" not in by_type["message_chunk"]
    assert by_type["rubric_evaluation_start"]["iteration"] == 1
    assert by_type["rubric_evaluation_start"]["grading_run_id"]
    assert by_type["rubric_evaluation_end"]["result"] == "pass"
    assert types(evs)[-3:] == ["rubric_evaluation_start", "rubric_evaluation_end", "run_end"]


async def test_ts_cancelled_uses_message(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    async with http.post(
        url(dev, f"/conversations/{cid}/chat"), json={"message": "/ts /slow"}
    ) as r:
        head = await read_until(r, b"message_chunk")
        async with http.post(url(dev, f"/conversations/{cid}/chat/stop"), json={}):
            pass
        evs = events(head + await r.read())
    assert evs[-1] == {"channel": "error", "type": "cancelled", "message": "stopped by user"}


async def test_all_keepalive_forms(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    raw = await chat(dev, http, cid, {"message": "/heartbeats"})
    assert b"\n: ping\n\n" in raw
    assert b'event: heartbeat\ndata: {"channel":"heartbeat","type":""}\n\n' in raw
    assert b"\ndata: :ping\n\n" in raw
    assert b'\n\ndata: {"channel":"heartbeat","type":""}\n\n' in raw
    assert text_of(events(raw)) == 'You said: "/heartbeats"'


async def test_fault_crlf(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    headers = {"X-Llmrix-Dev-Faults": "crlf"}
    raw = await chat(dev, http, cid, {"message": "hi"}, headers=headers)
    assert b"\r\n\r\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert text_of(events(raw)) == 'You said: "hi"'


async def test_fault_byte_per_write(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    path = f"/conversations/{cid}/chat?faults=byte_per_write"
    reads = 0
    raw = b""
    async with http.post(url(dev, path), json={"message": "hi"}) as r:
        async for data in r.content.iter_any():
            reads += 1
            raw += data
    assert reads > 20
    assert text_of(events(raw)) == 'You said: "hi"'


async def test_fault_cut_after(dev: DevServer, http: aiohttp.ClientSession) -> None:
    dev.faults = FaultOptions(cut_after=3)
    cid = await new_conversation(dev, http)
    raw = b""
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json={"message": "a b c d"}) as r:
        with pytest.raises(aiohttp.ClientPayloadError):
            async for data in r.content.iter_any():
                raw += data
    evs = events(raw)
    assert len(evs) == 3
    assert evs[-1]["type"] == "message_chunk"


async def test_fault_malformed_after(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    raw = await chat(
        dev, http, cid, {"message": "hi"}, headers={"X-Llmrix-Dev-Faults": "malformed_after=2"}
    )
    datas = [f["data"] for f in parse_frames(raw) if "data" in f]
    broken = [i for i, d in enumerate(datas) if not d.endswith("}")]
    assert broken == [2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(datas[2])
    assert json.loads(datas[-1])["type"] == "run_end"


async def test_fault_stall_after(http: aiohttp.ClientSession) -> None:
    dev = DevServer(heartbeat_interval=0.02, stall_after=2)
    await dev.start()
    try:
        cid = await new_conversation(dev, http)
        body = {"message": "hello world"}
        resp = await http.post(url(dev, f"/conversations/{cid}/chat"), json=body)
        head = await read_until(resp, b"message_chunk")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(resp.content.readany(), 0.2)
    finally:
        await dev.stop()
    rest = await resp.read()
    resp.release()
    assert types(events(head + rest)) == ["run_start", "message_chunk"]
    assert b"ping" not in head + rest


async def test_bad_fault_spec(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    path = f"/conversations/{cid}/chat?faults=explode"
    async with http.post(url(dev, path), json={"message": "hi"}) as r:
        assert r.status == 400
        assert "explode" in (await r.json())["message"]


async def test_cron_tasks(dev: DevServer, http: aiohttp.ClientSession) -> None:
    body = {"name": "n", "prompt": "p", "schedule_expr": "*/5 * * * *"}
    async with http.post(url(dev, "/cron/tasks"), json=body) as r:
        task = await r.json()
    assert task["status"] == "active"
    assert task["schedule_type"] == "cron"
    assert isinstance(task["created_at"], float)
    tid = task["id"]
    async with http.get(url(dev, "/cron/tasks")) as r:
        assert [t["id"] for t in (await r.json())["tasks"]] == [tid]
    async with http.put(url(dev, f"/cron/tasks/{tid}"), json={"prompt": "q"}) as r:
        assert (await r.json())["prompt"] == "q"
    async with http.post(url(dev, f"/cron/tasks/{tid}/pause"), json={}) as r:
        paused = await r.json()
    assert paused["status"] == "paused"
    assert paused["next_run"] is None
    async with http.post(url(dev, f"/cron/tasks/{tid}/resume"), json={}) as r:
        assert (await r.json())["status"] == "active"
    async with http.get(url(dev, f"/cron/tasks/{tid}")) as r:
        assert (await r.json())["prompt"] == "q"
    async with http.post(url(dev, "/cron/tasks"), json={**body, "schedule_type": "weekly"}) as r:
        assert r.status == 422
    async with http.delete(url(dev, f"/cron/tasks/{tid}")) as r:
        assert r.status == 204
    async with http.get(url(dev, f"/cron/tasks/{tid}")) as r:
        assert r.status == 404


async def test_agents_and_mates(dev: DevServer, http: aiohttp.ClientSession) -> None:
    async with http.post(url(dev, "/agent"), json={"name": "ada", "mcps": ["fs"]}) as r:
        agent = (await r.json())["agent"]
    assert agent["id"] == 1
    assert agent["type"] == "solo"
    assert agent["mcps"] == ["fs"]
    async with http.patch(url(dev, "/agent/1"), json={"type": "team"}) as r:
        assert (await r.json())["agent"]["type"] == "team"
    async with http.get(url(dev, "/agent/1")) as r:
        assert (await r.json())["agent"]["name"] == "ada"
    async with http.get(url(dev, "/agent")) as r:
        assert len((await r.json())["agents"]) == 1
    mates = {"mates": [{"name": "b", "sort": 2}, {"name": "a", "sort": 1}]}
    async with http.post(url(dev, "/agent/1/mates"), json=mates) as r:
        assert [m["name"] for m in (await r.json())["mates"]] == ["a", "b"]
    async with http.get(url(dev, "/agent/1/mates")) as r:
        got = (await r.json())["mates"]
    assert got[0] == {"name": "a", "introduce": "", "system_prompt": "", "sort": 1}
    async with http.delete(url(dev, "/agent/1")) as r:
        assert r.status == 204
    async with http.get(url(dev, "/agent/1")) as r:
        assert r.status == 404
    async with http.get(url(dev, "/agent/abc")) as r:
        assert r.status == 404
    dev.settings.agents_enabled = False
    async with http.get(url(dev, "/agent")) as r:
        assert r.status == 503


async def test_request_log(dev: DevServer, http: aiohttp.ClientSession) -> None:
    await new_conversation(dev, http)
    logged = dev.requests[-1]
    assert logged.method == "POST"
    assert logged.raw_path == PREFIX + "/conversations"
    assert logged.json() == {"title": "t"}
    assert logged.header("content-type") == "application/json"


async def test_shutdown_with_open_stream(http: aiohttp.ClientSession) -> None:
    dev = DevServer(heartbeat_interval=0.05)
    await dev.start()
    cid = await new_conversation(dev, http)
    resp = await http.post(url(dev, f"/conversations/{cid}/chat"), json={"message": "/hitl"})
    head = await read_until(resp, b"hitl_interrupt")
    await dev.stop()
    await dev.stop()
    rest = await resp.read()
    resp.release()
    assert dev.live_streams == 0
    assert types(events(head + rest)) == ["run_start", "hitl_interrupt"]
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
    with pytest.raises(RuntimeError):
        _ = dev.base_url


async def test_client_leaving_mid_run_frees_the_stream(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    cid = await new_conversation(dev, http)
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json={"message": "/slow"}) as r:
        await read_until(r, b"message_chunk")
        assert dev.live_streams == 1
        r.close()
    for _ in range(100):
        if dev.live_streams == 0:
            break
        await asyncio.sleep(0.01)
    assert dev.live_streams == 0


@pytest.mark.parametrize("spec", ["byte_per_write", "stall_after=1", ""])
async def test_shutdown_mid_stream(http: aiohttp.ClientSession, spec: str) -> None:
    dev = DevServer(heartbeat_interval=0.05, slow_delay=0.05)
    await dev.start()
    cid = await new_conversation(dev, http)
    path = f"/conversations/{cid}/chat?faults={spec}"
    resp = await http.post(url(dev, path), json={"message": "/slow"})
    head = await read_until(resp, b"run_start")
    await dev.stop()
    raw = head + await resp.read()
    resp.release()
    assert dev.live_streams == 0
    assert b"run_start" in raw
    assert b"run_end" not in raw


async def test_the_primary_shape_asks_about_each_action_in_its_own_interrupt(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    cid = await new_conversation(dev, http)
    decide = url(dev, f"/conversations/{cid}/chat/hitl/decide")
    answers = [
        {"decision": "approve"},
        {"decision": "reject", "reason": "keep it"},
        {"decision": "modify", "modified_args": {"target": "elsewhere"}},
    ]
    async with http.post(
        url(dev, f"/conversations/{cid}/chat"), json={"message": "clean /hitl 3"}
    ) as r:
        raw = b""
        for seen, answer in enumerate(answers, start=1):
            while raw.count(b"hitl_interrupt") < seen:
                chunk = await r.content.readany()
                assert chunk, f"stream ended before interrupt {seen}: {raw!r}"
                raw += chunk
            async with http.post(decide, json={"decisions": [answer] * 2}) as d:
                assert d.status == 422
                assert (await d.json())["message"] == (
                    "the pending interrupt has 1 action: send 1 decision, not 2"
                )
            async with http.post(decide, json={"decisions": [answer]}) as d:
                assert d.status == 200
        raw += await r.read()
    evs = events(raw)
    interrupts = [e for e in evs if e["type"] == "hitl_interrupt"]
    assert [e["action_args"] for e in interrupts] == [
        {"target": "clean #1"},
        {"target": "clean #2"},
        {"target": "clean #3"},
    ]
    assert interrupts[0]["description"] == 'Run dangerous_action on "clean #1"'
    assert len({e["id"] for e in interrupts}) == 3
    assert [e["args"] for e in evs if e["type"] == "tool_start"] == [
        {"target": "clean #1"},
        {"target": "elsewhere"},
    ]
    text = text_of(evs)
    assert 'The dangerous_action on "clean #1" was approved and ran.' in text
    assert 'The dangerous_action on "clean #2" was rejected: keep it.' in text
    assert 'The dangerous_action on "clean #3" ran with modified args {"target":"elsewhere"}.' in (
        text
    )


async def test_a_paused_run_with_two_primary_interrupts_pauses_again_at_the_second(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    dev.faults = FaultOptions(end_at_interrupt=True)
    cid = await new_conversation(dev, http)
    first = events(await chat(dev, http, cid, {"message": "x /hitl 2"}))
    assert first[-1]["action_args"] == {"target": "x #1"}
    decide = url(dev, f"/conversations/{cid}/chat/hitl/decide")
    async with http.post(decide, json={"decisions": [{"decision": "approve"}]}) as d:
        assert d.status == 200
    resume = {"message": "", "hitl_decisions": [{"decision": "reject", "reason": "no"}]}
    text = text_of(events(await chat(dev, http, cid, resume)))
    assert 'on "x #1" was approved and ran.' in text
    assert 'on "x #2" was rejected: no.' in text


async def test_resume_applies_every_decision_and_a_wrong_count_keeps_the_run_paused(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    dev.faults = FaultOptions(end_at_interrupt=True)
    cid = await new_conversation(dev, http)
    evs = events(await chat(dev, http, cid, {"message": "x /hitl 2 /ts"}))
    assert [r["args"] for r in evs[1]["action_requests"]] == [
        {"target": "x #1"},
        {"target": "x #2"},
    ]
    chat_url = url(dev, f"/conversations/{cid}/chat")
    wrong = {"message": "", "hitl_decisions": [{"decision": "approve"}] * 3}
    async with http.post(chat_url, json=wrong) as r:
        assert r.status == 422
    right = {"message": "", "hitl_decisions": [{"decision": "reject"}, {"decision": "approve"}]}
    text = text_of(events(await chat(dev, http, cid, right)))
    assert 'on "x #1" was rejected: no reason given.' in text
    assert 'on "x #2" was approved and ran.' in text


async def test_a_resume_with_no_paused_run_is_409(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    cid = await new_conversation(dev, http)
    resume = {"message": "", "hitl_decisions": [{"decision": "approve"}]}
    async with http.post(url(dev, f"/conversations/{cid}/chat"), json=resume) as r:
        assert r.status == 409
        assert (await r.json())["message"] == "no paused run to resume in this conversation"


async def test_failing_tool_and_subagent(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    raw = await chat(dev, http, cid, {"message": "go /tool_error fetch /subagent_error helper"})
    evs = events(raw)
    assert types(evs)[:5] == [
        "run_start",
        "tool_start",
        "tool_end",
        "subagent_start",
        "subagent_end",
    ]
    assert evs[2]["error"] is True
    assert evs[2]["result"] == 'fetch failed on purpose with {"query":"go"}'
    assert evs[4]["error"] is True
    assert evs[4]["agent_name"] == "helper"
    ok = events(await chat(dev, http, cid, {"message": "/tool fetch /subagent helper"}))
    assert [e["error"] for e in ok if e["type"] in ("tool_end", "subagent_end")] == [False, False]


@pytest.mark.parametrize(
    ("mode", "status", "message"),
    [
        ("forbidden", 403, "this API key may not use the Open API"),
        ("unconfigured", 503, "authentication is not configured on this server"),
    ],
)
async def test_auth_modes(
    http: aiohttp.ClientSession, mode: Any, status: int, message: str
) -> None:
    async with DevServer(auth_mode=mode) as server, http.get(url(server, "/conversations")) as r:
        assert r.status == status
        assert (await r.json()) == {"message": message}


async def test_string_seq_cursors(http: aiohttp.ClientSession) -> None:
    async with DevServer(string_seq=True) as server:
        for title in "abc":
            async with http.post(url(server, "/conversations"), json={"title": title}) as r:
                assert (await r.json())["seq"] == f"seq-{'abc'.index(title) + 1}"
        async with http.get(url(server, "/conversations?size=2")) as r:
            page = await r.json()
        assert [c["seq"] for c in page["items"]] == ["seq-3", "seq-2"]
        async with http.get(url(server, "/conversations?size=2&lastId=seq-2")) as r:
            assert [c["seq"] for c in (await r.json())["items"]] == ["seq-1"]
        cid = page["items"][0]["id"]
        await chat(server, http, cid, {"message": "hi"})
        async with http.get(url(server, f"/conversations/{cid}/messages?lastId=seq-1")) as r:
            assert [m["seq"] for m in (await r.json())["items"]] == ["seq-2"]


async def test_fault_bom_and_cr(dev: DevServer, http: aiohttp.ClientSession) -> None:
    cid = await new_conversation(dev, http)
    raw = await chat(dev, http, cid, {"message": "hi"}, headers={"X-Llmrix-Dev-Faults": "bom, cr"})
    assert raw.startswith(b"\xef\xbb\xbfevent: lifecycle\r")
    assert b"\n" not in raw
    assert raw.count(b"\xef\xbb\xbf") == 1
    assert text_of(events(raw[3:])) == 'You said: "hi"'


async def test_crlf_and_cr_together_are_refused(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    cid = await new_conversation(dev, http)
    headers = {"X-Llmrix-Dev-Faults": "crlf, cr"}
    async with http.post(
        url(dev, f"/conversations/{cid}/chat"), json={"message": "x"}, headers=headers
    ) as r:
        assert r.status == 400
        assert "choose one line end" in (await r.json())["message"]


async def test_fault_multiline_data_ids_and_no_event_line(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    cid = await new_conversation(dev, http)
    headers = {"X-Llmrix-Dev-Faults": "multiline_data, sse_ids, no_event_line"}
    raw = await chat(dev, http, cid, {"message": "hi"}, headers=headers)
    first, second = raw.split(b"\n\n")[:2]
    assert first == (
        b"id: 1\nretry: 3000\n"
        b'data: {"channel":"lifecycle",\ndata: "type":"run_start",\n'
        b'data: "run_id":' + first.split(b'"run_id":')[1].split(b",")[0] + b",\n"
        b'data: "thread_id":"' + cid.encode() + b'"}'
    )
    assert second.startswith(b'id: 2\ndata: {"channel":"messages",\n')
    assert b"event:" not in raw
    data = [
        json.loads("\n".join(line[6:] for line in block.split("\n") if line.startswith("data:")))
        for block in raw.decode().split("\n\n")
        if block
    ]
    assert "".join(d.get("content", "") for d in data) == 'You said: "hi"'


async def test_typescript_request_shapes_are_accepted(
    dev: DevServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(url(dev, "/conversations"), json={}) as r:
        assert r.status == 200
        created = await r.json()
    assert created["title"] is None
    cid = created["id"]
    decide = url(dev, f"/conversations/{cid}/chat/hitl/decide")
    async with http.post(
        url(dev, f"/conversations/{cid}/chat"), json={"message": "wipe /hitl"}
    ) as r:
        head = await read_until(r, b"hitl_interrupt")
        ts_shape = {"decisions": [{"type": "reject", "feedback": "not today"}]}
        async with http.post(decide, json=ts_shape) as d:
            assert d.status == 200
        raw = head + await r.read()
    assert "was rejected: not today." in text_of(events(raw))
    async with http.post(decide, json={"decisions": [{"feedback": "no kind"}]}) as d:
        assert d.status == 422
