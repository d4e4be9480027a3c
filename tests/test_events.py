"""Event decoding: both shapes, heartbeats, unknown events and bad data."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrix.chunks import ChunkDecoder
from llmrix.decoding import decode_event
from llmrix.errors import StreamError
from llmrix.events import (
    ActionRequest,
    CancelledEvent,
    ErrorEvent,
    HitlInterruptEvent,
    MessageChunkEvent,
    RubricEndEvent,
    RubricStartEvent,
    RunEndEvent,
    RunStartEvent,
    SubagentEndEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
    UnknownEvent,
)


def test_primary_shape() -> None:
    cases = {
        b'{"channel":"lifecycle","type":"run_start","run_id":"r1","thread_id":"c1"}': (
            RunStartEvent(run_id="r1", thread_id="c1")
        ),
        b'{"channel":"lifecycle","type":"run_end","run_id":"r1","thread_id":"c1"}': (
            RunEndEvent(run_id="r1", thread_id="c1")
        ),
        b'{"channel":"messages","type":"message_chunk","content":"Hel","id":"m1"}': (
            MessageChunkEvent(content="Hel", id="m1")
        ),
        b'{"channel":"tools","type":"tool_start","id":"t1","name":"s","args":{"q":"c"}}': (
            ToolStartEvent(id="t1", name="s", args={"q": "c"})
        ),
        b'{"channel":"tools","type":"tool_end","id":"t1","name":"s","result":"3","error":true}': (
            ToolEndEvent(id="t1", name="s", raw_result="3", error=True)
        ),
        b'{"channel":"tools","type":"subagent_start","id":"s1","agent_name":"a"}': (
            SubagentStartEvent(id="s1", agent_name="a")
        ),
        b'{"channel":"tools","type":"subagent_end","id":"s1","agent_name":"a","error":false}': (
            SubagentEndEvent(id="s1", agent_name="a")
        ),
        b'{"channel":"hitl","type":"hitl_interrupt","id":"h1","action_name":"rm",'
        b'"action_args":{"p":"x"},"description":"d"}': HitlInterruptEvent(
            id="h1", action_name="rm", action_args={"p": "x"}, description="d"
        ),
        b'{"channel":"error","type":"error","message":"boom","error_code":"E1"}': ErrorEvent(
            message="boom", error_code="E1"
        ),
        b'{"channel":"error","type":"cancelled","reason":"stop"}': CancelledEvent(reason="stop"),
    }
    for data, expected in cases.items():
        assert decode_event(data, b"x") == expected


def test_typescript_shape() -> None:
    assert decode_event(
        b'{"channel":"messages","type":"message_chunk","content":"a","run_id":"r"}'
    ) == MessageChunkEvent(content="a", run_id="r")
    tool = decode_event(
        b'{"channel":"tools","type":"tool_start","tool_call_id":"c1","name":"n",'
        b'"input":{"a":1},"parent_ids":["p"]}'
    )
    assert tool == ToolStartEvent(tool_call_id="c1", name="n", input={"a": 1}, parent_ids=["p"])
    end = decode_event(b'{"type":"tool_end","tool_call_id":"c1","output":"ok"}')
    assert isinstance(end, ToolEndEvent)
    assert end.output == "ok"
    sub = decode_event(b'{"type":"subagent_end","tool_call_id":"c","name":"n","output":[1]}')
    assert sub == SubagentEndEvent(tool_call_id="c", name="n", output=[1])
    hitl = decode_event(
        b'{"channel":"hitl","type":"hitl_interrupt","action_requests":[{"name":"rm",'
        b'"args":{"p":1},"description":"d","decisions":["approve","reject"]}]}'
    )
    assert isinstance(hitl, HitlInterruptEvent)
    assert hitl.action_requests == [
        ActionRequest(name="rm", args={"p": 1}, description="d", decisions=["approve", "reject"])
    ]
    assert decode_event(b'{"type":"cancelled","message":"m"}') == CancelledEvent(message="m")
    assert decode_event(
        b'{"channel":"rubric","type":"rubric_evaluation_start","iteration":2,"grading_run_id":"g"}'
    ) == RubricStartEvent(iteration=2, grading_run_id="g")
    end_r = decode_event(b'{"type":"rubric_evaluation_end","iteration":2,"result":"pass"}')
    assert end_r == RubricEndEvent(iteration=2, result="pass")


def test_all_fields_default_and_unknown_fields_ignored() -> None:
    event = decode_event(b'{"type":"tool_start","extra":{"deep":[1,2]},"zzz":null}')
    assert event == ToolStartEvent()
    assert event is not None
    assert (event.channel, event.type, event.args) == ("tools", "tool_start", {})


def test_type_property_and_terminal_flags() -> None:
    assert MessageChunkEvent().type == "message_chunk"
    assert RunEndEvent.terminal and ErrorEvent.terminal and CancelledEvent.terminal
    assert not HitlInterruptEvent.terminal and not UnknownEvent.terminal


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b'{"channel":"heartbeat","type":""}', b"heartbeat"),
        (b'{"channel":"heartbeat","type":""}', b""),
        (b'{"channel":"heartbeat"}', b""),
        (b":ping", b""),
        (b":ping", b"message"),
        (b"anything at all", b"heartbeat"),
        (b'{"channel":"heartbeat","type":"run_end"}', b""),
        (b"", b""),
        (b"  ", b"message"),
    ],
)
def test_heartbeat_forms_decode_to_none(data: bytes, name: bytes) -> None:
    assert decode_event(data, name) is None


def test_unknown_type_is_kept_raw() -> None:
    event = decode_event(b'{"channel":"usage","type":"token_count","n":5}', b"usage")
    assert event == UnknownEvent(
        channel="usage",
        type="token_count",
        data={"channel": "usage", "type": "token_count", "n": 5},
    )


def test_unknown_without_channel_uses_event_name() -> None:
    event = decode_event(b'{"type":"novel"}', b"custom")
    assert isinstance(event, UnknownEvent)
    assert (event.channel, event.type) == ("custom", "novel")


def test_null_type_is_unknown_not_an_error() -> None:
    event = decode_event(b'{"channel":"usage","type":null}')
    assert event == UnknownEvent(channel="usage", type="", data={"channel": "usage", "type": None})


def test_empty_type_on_other_channel_is_unknown_not_heartbeat() -> None:
    event = decode_event(b'{"channel":"messages","type":""}')
    assert isinstance(event, UnknownEvent)
    assert event.channel == "messages"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'{"type": "message_chunk", "content": ', "malformed JSON"),
        (b"not json", "malformed JSON"),
        (b'["a"]', "not a JSON object"),
        (b'"run_end"', "not a JSON object"),
        (b"42", "not a JSON object"),
        (b'{"type":"message_chunk","content":5}', r"invalid 'message_chunk' event.*\$\.content"),
        (b'{"type":"tool_start","parent_ids":"p1"}', r"invalid 'tool_start'.*\$\.parent_ids"),
        (b'{"type":"hitl_interrupt","description":5}', r"\$\.description"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"type":"message_chunk","content":NaN}', "malformed JSON"),
        (b'{"type":"message_chunk","content":"\\ud83d","x":NaN}', "malformed JSON"),
        (b'{"type":7}', "non-string"),
        (b'{"type":"message_chunk","content":"\xff"}', "malformed JSON"),
    ],
)
def test_bad_data_raises_stream_error_with_the_text(data: bytes, match: str) -> None:
    with pytest.raises(StreamError, match=match):
        decode_event(data)


def test_error_text_is_cut() -> None:
    with pytest.raises(StreamError) as info:
        decode_event(b"{" + b"x" * 10_000)
    assert len(str(info.value)) < 400


def test_events_encode_back_with_their_type() -> None:
    wire = msgspec.json.encode(MessageChunkEvent(content="hi"))
    assert msgspec.json.decode(wire)["type"] == "message_chunk"
    assert decode_event(wire) == MessageChunkEvent(content="hi")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_give_an_event_none_or_stream_error(data: bytes) -> None:
    try:
        decode_event(data)
    except StreamError:
        pass


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["type", "channel", "content", "args", "id", "action_requests", "x"]),
        JSON_VALUES | st.sampled_from(["message_chunk", "tool_start", "hitl_interrupt", ""]),
    )
)
def test_random_objects_give_an_event_none_or_stream_error(obj: dict[str, object]) -> None:
    try:
        decode_event(msgspec.json.encode(obj))
    except StreamError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            [
                b"event: messages\n",
                b"event: heartbeat\n",
                b"data: ",
                b'{"type":"message_chunk","content":"x"}',
                b'{"type":"run_end"}',
                b'{"channel":"heartbeat","type":""}',
                b'{"type":"mystery"}',
                b":ping",
                b"\n",
                b"\n\n",
                b"\r",
                b"{",
                b"\xff",
                b"[1]",
            ]
        ),
        max_size=50,
    ),
    cuts=st.lists(st.integers(0, 40), max_size=10),
)
def test_hot_path_on_random_streams_gives_events_or_stream_error(
    pieces: list[bytes], cuts: list[int]
) -> None:
    """The chat stream's decoder (ChunkDecoder) on any bytes: events, or StreamError."""
    stream = b"".join(pieces)
    decoder = ChunkDecoder()
    out: list[object] = []
    try:
        start = 0
        for size in [*cuts, len(stream)]:
            if decoder.feed(stream[start : start + size], out):  # type: ignore[arg-type]
                break
            start += size
        else:
            decoder.feed(b"", out)  # type: ignore[arg-type]
    except StreamError:
        pass
    assert all(getattr(event, "channel", None) != "heartbeat" for event in out)


def test_null_members_read_as_absent() -> None:
    """Go servers write empty slices and maps as null: those fall back to defaults."""
    tool = decode_event(
        b'{"channel":"tools","type":"tool_start","id":"t","args":null,"parent_ids":null,'
        b'"input":{"keep":null}}'
    )
    assert tool == ToolStartEvent(id="t", args=None, input={"keep": None})
    assert isinstance(tool, ToolStartEvent) and tool.arguments == {"keep": None}
    hitl = decode_event(
        b'{"type":"hitl_interrupt","action_args":null,'
        b'"action_requests":[{"name":"rm","args":null,"decisions":null}]}'
    )
    assert hitl == HitlInterruptEvent(
        action_args=None, action_requests=[ActionRequest(name="rm", args=None)]
    )
    assert decode_event(b'{"type":"message_chunk","content":null}') == MessageChunkEvent()


def test_null_does_not_excuse_a_wrong_type() -> None:
    with pytest.raises(StreamError, match=r"\$\.content"):
        decode_event(b'{"type":"message_chunk","content":5,"id":null}')


def test_shape_neutral_accessors_read_either_shape() -> None:
    primary = decode_event(b'{"type":"tool_start","id":"t1","name":"s","args":{"q":"c"}}')
    variant = decode_event(b'{"type":"tool_start","tool_call_id":"t1","input":{"q":"c"}}')
    for start in (primary, variant):
        assert isinstance(start, ToolStartEvent)
        assert (start.call_id, start.arguments) == ("t1", {"q": "c"})
    for data in (
        b'{"type":"tool_end","id":"t1","result":"3 hits","error":true}',
        b'{"type":"tool_end","tool_call_id":"t1","output":"3 hits","error":true}',
    ):
        end = decode_event(data)
        assert isinstance(end, ToolEndEvent)
        assert (end.call_id, end.result, end.is_error) == ("t1", "3 hits", True)
    assert ToolEndEvent().result == "" and ToolStartEvent().arguments == {}
    sub_start = decode_event(b'{"type":"subagent_start","tool_call_id":"c","name":"a","input":[1]}')
    assert isinstance(sub_start, SubagentStartEvent)
    assert (sub_start.call_id, sub_start.agent, sub_start.arguments) == ("c", "a", [1])
    sub_end = decode_event(b'{"type":"subagent_end","id":"c","agent_name":"a","error":true}')
    assert isinstance(sub_end, SubagentEndEvent)
    assert (sub_end.call_id, sub_end.agent, sub_end.result, sub_end.is_error) == (
        "c",
        "a",
        "",
        True,
    )
    assert CancelledEvent(message="m").why == "m" and CancelledEvent(reason="r").why == "r"


def test_interrupt_requests_are_a_list_in_both_shapes() -> None:
    primary = decode_event(
        b'{"type":"hitl_interrupt","action_name":"rm","action_args":{"p":1},"description":"d"}'
    )
    variant = decode_event(
        b'{"type":"hitl_interrupt","action_requests":[{"name":"rm","args":{"p":1},'
        b'"description":"d"}]}'
    )
    for event in (primary, variant):
        assert isinstance(event, HitlInterruptEvent)
        assert event.requests == [ActionRequest(name="rm", args={"p": 1}, description="d")]
    assert HitlInterruptEvent().requests == []


@pytest.mark.parametrize(
    ("data", "accessor", "value"),
    [
        (b'{"type":"tool_start","args":"ls -l"}', "arguments", "ls -l"),
        (b'{"type":"tool_start","input":[1,2]}', "arguments", [1, 2]),
        (b'{"type":"tool_end","result":{"rows":[1]}}', "result", {"rows": [1]}),
        (b'{"type":"tool_end","output":7}', "result", 7),
        (b'{"type":"subagent_end","output":{"a":null}}', "result", {"a": None}),
        (b'{"type":"hitl_interrupt","action_args":"rm -rf"}', "requests", None),
        (b'{"type":"rubric_evaluation_end","result":{"score":1}}', "result", {"score": 1}),
    ],
)
def test_free_form_fields_take_any_json_value(data: bytes, accessor: str, value: object) -> None:
    event = decode_event(data)
    assert event is not None and not isinstance(event, UnknownEvent)
    if accessor == "requests":
        assert isinstance(event, HitlInterruptEvent)
        assert event.requests == [ActionRequest(args="rm -rf")]
    else:
        assert getattr(event, accessor) == value


def test_a_known_type_on_a_foreign_channel_is_unknown() -> None:
    for data, name in [
        (b'{"channel":"audit","type":"error","message":"x"}', b""),
        (b'{"channel":"audit","type":"run_end"}', b"lifecycle"),
        (b'{"type":"error","message":"x"}', b"audit"),
        (b'{"channel":"tools","type":"message_chunk"}', b"messages"),
    ]:
        event = decode_event(data, name)
        assert isinstance(event, UnknownEvent), (data, name)
        assert not event.terminal
        assert event.channel == (msgspec.json.decode(data).get("channel") or name.decode())
    assert decode_event(b'{"type":"error"}') == ErrorEvent()
    assert decode_event(b'{"type":"error"}', b"error") == ErrorEvent()
    assert decode_event(b'{"channel":"error","type":"error"}', b"other") == ErrorEvent()


def test_stream_event_is_what_the_iterator_yields() -> None:
    from typing import get_args

    from llmrix.events import HeartbeatEvent, StreamEvent

    members = set(get_args(StreamEvent))
    assert HeartbeatEvent not in members
    assert UnknownEvent in members and ToolStartEvent in members and RunEndEvent in members
