"""Models: request bodies omit unset fields; answers tolerate nulls and extras."""

from __future__ import annotations

import msgspec
import pytest

from llmrix import (
    Attachment,
    ChatRequest,
    Conversation,
    ConversationCreateRequest,
    HitlDecision,
    Message,
    PageResult,
)


def encode(value: object) -> object:
    return msgspec.json.decode(msgspec.json.encode(value))


def test_hitl_decision_factories() -> None:
    assert encode(HitlDecision.approve()) == {"decision": "approve"}
    assert encode(HitlDecision.reject()) == {"decision": "reject"}
    assert encode(HitlDecision.reject("unsafe")) == {"decision": "reject", "reason": "unsafe"}
    assert encode(HitlDecision.modify({"n": 1})) == {
        "decision": "modify",
        "modified_args": {"n": 1},
    }


def test_chat_request_sends_only_what_was_set() -> None:
    assert encode(ChatRequest(message="hi")) == {"message": "hi"}
    full = ChatRequest(
        message="hi",
        agent_id="a",
        metadata={},
        hitl_decisions=[HitlDecision.approve()],
        model="openai:gpt-4o",
        thinking=True,
        attachments=[Attachment(type="image/png", data="aGk=")],
    )
    assert encode(full) == {
        "message": "hi",
        "agent_id": "a",
        "metadata": {},
        "hitl_decisions": [{"decision": "approve"}],
        "model": "openai:gpt-4o",
        "thinking": True,
        "attachments": [{"type": "image/png", "data": "aGk="}],
    }
    assert encode(ConversationCreateRequest(title="t")) == {"title": "t"}


def test_required_request_fields() -> None:
    with pytest.raises(TypeError):
        ChatRequest()  # type: ignore[call-arg]


@pytest.mark.parametrize("seq", [3, "0003-abc"])
def test_seq_accepts_int_or_str(seq: object) -> None:
    raw = msgspec.json.encode({"items": [{"id": "c", "seq": seq}], "has_more": False})
    page = msgspec.json.decode(raw, type=PageResult[Conversation])
    assert page.items[0].seq == seq
    message = msgspec.json.decode(msgspec.json.encode({"seq": seq}), type=Message)
    assert message.seq == seq


def test_nulls_and_unknown_fields_are_tolerated() -> None:
    raw = b'{"id":"c","title":null,"seq":1,"agent_id":null,"created_at":null,"new":{"x":1}}'
    assert msgspec.json.decode(raw, type=Conversation) == Conversation(id="c", seq=1)
    message = msgspec.json.decode(b'{"role":"user","content":null,"tool_calls":null}', type=Message)
    assert message.content is None
    assert message.tool_calls is None


def test_conversation_without_id_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match="id"):
        msgspec.json.decode(b"{}", type=Conversation)
