"""The relays' output checked by the protocols' own code.

AG-UI: every event validated by the ``ag-ui-protocol`` models (AG-UI 1.0,
pydantic; a dev dependency only) with no unknown field anywhere and a lossless
round trip; and, through node, by ``@ag-ui/core``'s event schemas and
``@ag-ui/client``'s ``verifyEvents`` sequence rules. AI SDK: through node, the
``ai`` package's own chat-transport path (``parseJsonEventStream`` with
``uiMessageChunkSchema``, then ``readUIMessageStream``), and the UI message it
builds answered the way ``addToolApprovalResponse`` does, read back by
``vercel_decisions``. The npm packages are installed by the ``ui_node`` fixture
(tests/conftest.py) into an ignored cache folder of the checkout.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _support import ServeApp
from _ui_support import SCRIPTS, UpstreamApp, relay_app, relayed, sse_data, until
from ag_ui import core as ag_ui_core
from pydantic import BaseModel, TypeAdapter

from llmrix import HitlDecision, LlmrixClient
from llmrix.devserver import DevServer
from llmrix.ui import vercel_decisions

EVENT = TypeAdapter(ag_ui_core.Event)
REPORTED = {
    "error": ["model overloaded"],
    "cut": ["stream ended before the run finished (no terminal event)"],
}


def extras(model: Any, path: str = "") -> list[str]:
    """Fields a model accepted without knowing them (AG-UI models keep unknown fields)."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{key}" for key in model.model_extra or {}]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for index, item in enumerate(model):
            found += extras(item, f"{path}[{index}]")
    return found


def check(node: Path, protocol: str, body: bytes, continuing: Path | None = None) -> dict[str, Any]:
    extra = [str(continuing)] if continuing is not None else []
    done = subprocess.run(
        ["node", str(node / "check_stream.mjs"), protocol, *extra],
        input=body,
        capture_output=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("script", sorted(SCRIPTS))
async def test_agui_events_validate_against_ag_ui_protocol_models(
    serve: ServeApp, script: str
) -> None:
    base_url = await serve(UpstreamApp().build())
    for event in sse_data(await relayed(base_url, script, "agui")):
        model = EVENT.validate_python(event)
        assert extras(model) == [], event
        assert model.model_dump(mode="json", by_alias=True) == event


def test_the_model_check_can_fail() -> None:
    model = EVENT.validate_python({"type": "TOOL_CALL_END", "toolCallID": "t1", "toolCallId": "t1"})
    assert extras(model) == [".toolCallID"]
    with pytest.raises(ValueError, match="interrupts"):
        EVENT.validate_python(
            {
                "type": "RUN_FINISHED",
                "threadId": "t",
                "runId": "r",
                "outcome": {"type": "interrupt"},
            }
        )


@pytest.mark.parametrize("script", sorted(SCRIPTS))
async def test_agui_stream_passes_ag_ui_client_checks(
    serve: ServeApp, ui_node: Path, script: str
) -> None:
    base_url = await serve(UpstreamApp().build())
    body = await relayed(base_url, script, "agui")
    result = check(ui_node, "agui", body)
    assert result["errors"] == []
    assert result["events"] == len(sse_data(body))


@pytest.mark.parametrize("script", sorted(SCRIPTS))
async def test_vercel_stream_is_read_by_the_ai_sdk(
    serve: ServeApp, ui_node: Path, script: str
) -> None:
    base_url = await serve(UpstreamApp().build())
    result = check(ui_node, "vercel", await relayed(base_url, script, "vercel"))
    assert result["errors"] == []
    assert result["reported"] == REPORTED.get(script, [])
    assert result["message"]["id"] == "msg-1"


def test_the_node_checks_can_fail(ui_node: Path) -> None:
    bogus = b'data: {"type":"start"}\n\ndata: {"type":"bogus"}\n\ndata: [DONE]\n\n'
    assert check(ui_node, "vercel", bogus)["errors"]
    out_of_order = b'data: {"type":"text-delta","id":"x","delta":"a"}\n\n'
    assert check(ui_node, "vercel", out_of_order)["reported"]
    no_start = b'data: {"type":"TEXT_MESSAGE_END","messageId":"x"}\n\n'
    assert check(ui_node, "agui", no_start)["errors"]


async def test_ai_sdk_message_answers_read_back_as_decisions(
    serve: ServeApp, ui_node: Path
) -> None:
    """The message the AI SDK builds, answered as addToolApprovalResponse does, decides."""
    base_url = await serve(UpstreamApp().build())
    message = check(ui_node, "vercel", await relayed(base_url, "hitl_ts", "vercel"))["message"]
    tools = [part for part in message["parts"] if part["type"] == "dynamic-tool"]
    assert [part["state"] for part in tools] == ["approval-requested", "approval-requested"]
    first, second = tools
    first.update(state="approval-responded", input={"to": "b"})
    first["approval"] |= {"approved": True}
    second.update(state="approval-responded")
    second["approval"] |= {"approved": False, "reason": "too much"}
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}
    assert vercel_decisions([user, message]) == [
        HitlDecision.modify({"to": "b"}),
        HitlDecision.reject("too much"),
    ]


@pytest.mark.parametrize("approved", [True, False])
async def test_ai_sdk_round_trip_in_the_ai_package(
    serve: ServeApp, ui_node: Path, tmp_path: Path, approved: bool
) -> None:
    """The AI SDK builds the message, the answer goes back, and it settles the same part."""
    async with (
        DevServer() as dev,
        LlmrixClient(dev.base_url) as client,
        aiohttp.ClientSession() as session,
    ):
        base = await serve(relay_app(client))
        conversation_id = (await client.conversations.create("ai sdk")).id
        user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Clean /hitl"}]}
        request = {"id": conversation_id, "messages": [user], "trigger": "submit-message"}
        async with session.post(base + "/vercel", json=request) as response:
            first = check(ui_node, "vercel", await response.read())
        assert first["errors"] == first["reported"] == []
        message = first["message"] | {"id": "a1"}
        (part,) = [p for p in message["parts"] if p["type"] == "dynamic-tool"]
        part["state"] = "approval-responded"
        part["approval"] |= {"approved": approved, "reason": "no thanks"}
        await until(lambda: dev.live_streams == 0, "the paused stream is closed on the server")
        answered = {**request, "messages": [user, message]}
        async with session.post(base + "/vercel", json=answered) as response:
            saved = tmp_path / "message.json"
            saved.write_text(json.dumps(message))
            final = check(ui_node, "vercel", await response.read(), continuing=saved)
    assert final["errors"] == final["reported"] == []
    assert final["message"]["id"] == "a1"
    settled = next(
        p for p in final["message"]["parts"] if p.get("toolCallId") == part["toolCallId"]
    )
    assert settled["state"] == ("output-available" if approved else "output-denied")
    text = "".join(p["text"] for p in final["message"]["parts"] if p["type"] == "text")
    assert ("was approved and ran" if approved else "was rejected: no thanks") in text


async def test_agui_resumed_run_passes_ag_ui_client_checks(serve: ServeApp, ui_node: Path) -> None:
    async with (
        DevServer(end_at_interrupt=True) as dev,
        LlmrixClient(dev.base_url) as client,
        aiohttp.ClientSession() as session,
    ):
        base = await serve(relay_app(client))
        thread = (await client.conversations.create("ag-ui")).id
        user = {"id": "u1", "role": "user", "content": "Clean /hitl 2 /ts"}
        run_input = {"threadId": thread, "runId": "r1", "messages": [user]}
        async with session.post(base + "/agui", json=run_input) as response:
            body = await response.read()
        assert check(ui_node, "agui", body)["errors"] == []
        interrupts = sse_data(body)[-1]["outcome"]["interrupts"]
        resume = [
            {"interruptId": i["id"], "status": "resolved", "payload": {"approved": True}}
            for i in interrupts
        ]
        resumed = {**run_input, "runId": "r2", "resume": resume}
        async with session.post(base + "/agui", json=resumed) as response:
            body = await response.read()
    assert check(ui_node, "agui", body)["errors"] == []
    events = sse_data(body)
    assert [e["toolCallId"] for e in events if e["type"] == "TOOL_CALL_RESULT"][:2] == [
        i["id"] for i in interrupts
    ]
    assert events[-1]["outcome"] == {"type": "success"}
