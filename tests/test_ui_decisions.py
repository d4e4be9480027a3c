"""Approvals both ways: the browser's answer read back as HitlDecisions, and full round trips.

A round trip is what a page does: send a message to a relay backend, get the
approval request (AG-UI interrupt outcome / AI SDK tool-approval-request),
answer it on a new request, and read the resumed run, here against the dev
server (which holds the stream open at an interrupt, or ends it there with
``end_at_interrupt``).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from _support import ServeApp
from _ui_support import relay_app, sse_data, until
from ag_ui import core as ag_ui_core

from llmrix import HitlDecision, LlmrixClient
from llmrix.devserver import DevServer
from llmrix.ui import agui_decisions, vercel_decisions


def resume(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"threadId": "c1", "runId": "r2", "messages": [], "resume": list(entries)}


def entry(interrupt_id: str, payload: Any = None, status: str = "resolved") -> dict[str, Any]:
    out: dict[str, Any] = {"interruptId": interrupt_id, "status": status}
    if payload is not None:
        out["payload"] = payload
    return out


def test_agui_resume_entries_become_decisions_in_action_order() -> None:
    run_input = resume(
        entry("h1:3/3", status="cancelled"),
        entry("h1:1/3", {"approved": True}),
        entry("h1:2/3", {"approved": True, "editedArgs": {"path": "safe"}}),
    )
    ag_ui_core.RunAgentInput.model_validate(run_input)  # what we read is valid AG-UI 1.0
    assert agui_decisions(run_input) == [
        HitlDecision.approve(),
        HitlDecision.modify({"path": "safe"}),
        HitlDecision.reject("cancelled"),
    ]
    rejected = resume(entry("h1:1/1", {"approved": False, "reason": "no"}))
    assert agui_decisions(json.dumps(rejected)) == [HitlDecision.reject("no")]
    assert agui_decisions(json.dumps(rejected).encode()) == [HitlDecision.reject("no")]


@pytest.mark.parametrize(
    ("run_input", "message"),
    [
        ("{not json", "run_input is not valid JSON"),
        (b"[1, 2]", "run_input must be a JSON object, got list"),
        ({"threadId": "c1"}, "has no resume entries"),
        (resume(), "has no resume entries"),
        ({"resume": "h1:1/1"}, "has no resume entries"),
        (resume("h1:1/1"), r"resume\[0\]: Expected `object`"),
        (
            resume({"status": "resolved"}),
            r"resume\[0\]: Object missing required field `interruptId`",
        ),
        (resume(entry("h1:1/1", status="done")), r"resume\[0\]: Invalid enum value 'done'"),
        (resume(entry("h1:1/1")), r"resume\[0\]\.payload: Expected `object`, got `null`"),
        (
            resume(entry("h1:1/1", {"ok": True})),
            r"payload: Object missing required field `approved`",
        ),
        (resume(entry("h1:1/1", {"approved": "yes"})), r"payload: Expected `bool`"),
        (resume(entry("h1:1/1", {"approved": False, "reason": 3})), r"Expected `str \| null`"),
        (
            resume(entry("h1:1/1", {"approved": True, "editedArgs": [1]})),
            r"Expected `object \| null`",
        ),
        (
            resume(entry("h1:1/1", {"approved": False, "editedArgs": {}})),
            "editedArgs given for a rejection",
        ),
        (resume(entry("h1", {"approved": True})), "'h1' is not an approval id this relay sent"),
        (resume(entry("h1:0/1", {"approved": True})), "not an approval id"),
        (resume(entry("h1:2/1", {"approved": True})), "not an approval id"),
        (resume(entry("h1:x/1", {"approved": True})), "not an approval id"),
        (
            resume(entry("h1:1/2", {"approved": True}), entry("h9:2/2", {"approved": True})),
            "'h9:2/2' answers another interrupt than 'h1:1/2'",
        ),
        (
            resume(entry("h1:1/2", {"approved": True}), entry("h1:2/3", {"approved": True})),
            "answers another interrupt",
        ),
        (
            resume(entry("h1:1/2", {"approved": True}), entry("h1:1/2", {"approved": True})),
            "'h1:1/2' is answered twice",
        ),
        (resume(entry("h1:2/3", {"approved": True})), r"has 3 actions; no answer for #1, #3"),
    ],
)
def test_bad_agui_input_is_a_clear_value_error(run_input: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        agui_decisions(run_input)


def tool_part(approval: dict[str, Any], **fields: Any) -> dict[str, Any]:
    part = {
        "type": "dynamic-tool",
        "toolName": "delete_file",
        "toolCallId": "call-1",
        "state": "approval-responded",
        "input": {"path": "old.tar"},
        "toolMetadata": {"llmrix": {"interruptId": "h1", "input": {"path": "old.tar"}}},
        "approval": approval,
    }
    return part | fields


def conversation(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "clean up"}]}
    text = {"type": "text", "text": "Checking", "state": "done"}
    return [user, {"id": "a1", "role": "assistant", "parts": [text, *parts]}]


def test_ai_sdk_approval_answers_become_decisions() -> None:
    messages = conversation(
        tool_part({"id": "h1:2/3", "approved": False, "reason": "no"}, state="output-denied"),
        tool_part({"id": "h1:1/3", "approved": True}),
        tool_part({"id": "h1:3/3", "approved": True}, input={"path": "archive"}),
        {"type": "dynamic-tool", "toolName": "web_search", "toolCallId": "t1", "state": "done"},
    )
    assert vercel_decisions(messages) == [
        HitlDecision.approve(),
        HitlDecision.reject("no"),
        HitlDecision.modify({"path": "archive"}),
    ]
    assert vercel_decisions(json.dumps(messages)) == vercel_decisions(messages)
    stripped = conversation(tool_part({"id": "h1:1/1", "approved": True}, toolMetadata=None))
    assert vercel_decisions(stripped) == [HitlDecision.approve()]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("[", "messages is not valid JSON"),
        ({"messages": []}, "messages must be a list of UI messages, got dict"),
        ([], "messages has no assistant message"),
        (conversation()[:1], "messages has no assistant message"),
        ([{"id": "a", "role": "assistant"}], "has no list of parts"),
        (conversation(), "answers no approval"),
        (conversation({"type": "text", "text": "x"}), "answers no approval"),
        (
            conversation(tool_part({"approved": True})),
            r"parts\[1\]: Object missing required field `id`",
        ),
        (
            conversation(tool_part("yes")),
            r"parts\[1\]: Expected `object \| null`, got `str` - at `\$.approval`",
        ),
        (
            conversation(tool_part({"id": "h1:1/1"}, state="approval-requested")),
            "has no answer yet",
        ),
        (conversation(tool_part({"id": "h1:1/1", "approved": "y"})), r"Expected `bool \| null`"),
        (
            conversation(tool_part({"id": "h1:1/1", "approved": True}, input=[1])),
            "must be a JSON object",
        ),
        (conversation(tool_part({"id": "t1", "approved": True})), "'t1' is not an approval id"),
        (
            conversation(
                tool_part({"id": "h1:1/2", "approved": True}),
                tool_part({"id": "h1:1/2", "approved": False}),
            ),
            "answered twice",
        ),
        (conversation(tool_part({"id": "h1:1/2", "approved": True})), "no answer for #2"),
    ],
)
def test_bad_ai_sdk_input_is_a_clear_value_error(messages: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vercel_decisions(messages)


async def post_sse(session: aiohttp.ClientSession, url: str, body: Any) -> list[Any]:
    async with session.post(url, json=body) as response:
        assert response.status == 200
        return sse_data(await response.read())


ANSWERS = {
    "approve": ({"approved": True}, True, None, "The dangerous_action was approved and ran."),
    "reject": (
        {"approved": False, "reason": "not today"},
        False,
        None,
        "The dangerous_action was rejected: not today.",
    ),
    "modify": (
        {"approved": True, "editedArgs": {"target": "safe"}},
        True,
        {"target": "safe"},
        'The dangerous_action ran with modified args {"target":"safe"}.',
    ),
}
CLOSED_AGUI = {
    "approve": "approved",
    "reject": "rejected: not today",
    "modify": 'approved with edited arguments {"target":"safe"}',
}
CLOSED_VERCEL = {
    "approve": {
        "type": "tool-output-available",
        "output": {"decision": "approve"},
        "dynamic": True,
    },
    "reject": {"type": "tool-output-denied"},
    "modify": {
        "type": "tool-output-available",
        "output": {"decision": "modify", "arguments": {"target": "safe"}},
        "dynamic": True,
    },
}


@pytest.fixture(params=[False, True], ids=["stream-held", "stream-ends"])
async def dev(request: pytest.FixtureRequest) -> Any:
    async with DevServer(end_at_interrupt=request.param) as server:
        yield server


@pytest.mark.parametrize("answer", sorted(ANSWERS))
async def test_agui_approval_round_trip(serve: ServeApp, dev: DevServer, answer: str) -> None:
    payload, _, _, outcome = ANSWERS[answer]
    async with LlmrixClient(dev.base_url) as client, aiohttp.ClientSession() as session:
        base = await serve(relay_app(client))
        conversation_id = (await client.conversations.create("round trip")).id
        user = {"id": "u1", "role": "user", "content": "Delete old backups /hitl"}
        run_input = {"threadId": conversation_id, "runId": "run-1", "messages": [user]}
        first = await post_sse(session, base + "/agui", run_input)
        finished = first[-1]
        assert finished["type"] == "RUN_FINISHED"
        assert finished["runId"] == "run-1"
        (interrupt,) = finished["outcome"]["interrupts"]
        assert interrupt["metadata"]["llmrix"]["arguments"] == {"target": "Delete old backups"}
        await until(lambda: dev.live_streams == 0, "the paused stream is closed on the server")
        answer_entry = {"interruptId": interrupt["id"], "status": "resolved", "payload": payload}
        resumed = {**run_input, "runId": "run-2", "resume": [answer_entry]}
        second = await post_sse(session, base + "/agui", resumed)
    text = "".join(e["delta"] for e in second if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert outcome in text
    assert second[0]["runId"] == "run-2"
    assert second[1] == {
        "type": "TOOL_CALL_RESULT",
        "messageId": interrupt["id"] + "-result",
        "toolCallId": interrupt["id"],
        "content": CLOSED_AGUI[answer],
        "role": "tool",
    }
    assert second[-1]["outcome"] == {"type": "success"}
    ran = [e for e in second if e["type"] == "TOOL_CALL_START"]
    assert len(ran) == (0 if answer == "reject" else 1)


def approval_message(chunks: list[Any]) -> dict[str, Any]:
    """The assistant UI message a browser builds from an approval stream (its tool parts)."""
    parts: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        if chunk == "[DONE]":
            continue
        if chunk["type"] == "tool-input-available":
            parts[chunk["toolCallId"]] = {
                "type": "dynamic-tool",
                "toolName": chunk["toolName"],
                "toolCallId": chunk["toolCallId"],
                "state": "input-available",
                "input": chunk["input"],
                "toolMetadata": chunk.get("toolMetadata"),
            }
        elif chunk["type"] == "tool-approval-request":
            part = parts[chunk["toolCallId"]]
            part.update(state="approval-requested", approval={"id": chunk["approvalId"]})
    return {"id": "assistant-1", "role": "assistant", "parts": list(parts.values())}


@pytest.mark.parametrize("answer", sorted(ANSWERS))
async def test_ai_sdk_approval_round_trip(serve: ServeApp, dev: DevServer, answer: str) -> None:
    payload, approved, edited, outcome = ANSWERS[answer]
    async with LlmrixClient(dev.base_url) as client, aiohttp.ClientSession() as session:
        base = await serve(relay_app(client))
        conversation_id = (await client.conversations.create("round trip")).id
        user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Clean /hitl"}]}
        request = {"id": conversation_id, "messages": [user], "trigger": "submit-message"}
        first = await post_sse(session, base + "/vercel", request)
        assert first[-2] == {"type": "finish", "finishReason": "tool-calls"}
        assistant = approval_message(first)
        (part,) = assistant["parts"]
        part["state"] = "approval-responded"
        part["approval"]["approved"] = approved
        if "reason" in payload:
            part["approval"]["reason"] = payload["reason"]
        if edited is not None:
            part["input"] = edited
        await until(lambda: dev.live_streams == 0, "the paused stream is closed on the server")
        second = await post_sse(
            session, base + "/vercel", {**request, "messages": [user, assistant]}
        )
    assert second[0] == {"type": "start", "messageId": "assistant-1"}
    assert second[2] == {**CLOSED_VERCEL[answer], "toolCallId": part["toolCallId"]}
    text = "".join(c["delta"] for c in second[:-1] if c["type"] == "text-delta")
    assert outcome in text
    assert second[-2:] == [{"type": "finish", "finishReason": "stop"}, "[DONE]"]
