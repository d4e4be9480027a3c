"""The sync client against the dev server: the async end-to-end scenarios, blocking.

The dev server runs on its own loop in a helper thread (a sync test has no running
loop); the client under test runs its own loop thread, as users get it.
"""

from __future__ import annotations

import gc
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from _support import ServerThread

import llmrix
from llmrix import (
    APITimeoutError,
    AuthenticationError,
    CancelledEvent,
    ClientClosedError,
    ErrorEvent,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixError,
    Mate,
    MessageChunkEvent,
    NotFoundError,
    RunEndEvent,
    RunPausedError,
    RunStartEvent,
    StreamError,
    StreamEvent,
    SubagentStartEvent,
    ToolEndEvent,
    ToolStartEvent,
    UnprocessableEntityError,
)
from llmrix import resources as aio
from llmrix.devserver import DevServer, FaultOptions
from llmrix.sync import Agents, Chat, ChatStream, Conversations, Cron, LlmrixClient

T = TypeVar("T")
LEAK_ROUNDS = 1_000


@pytest.fixture
def host() -> Iterator[ServerThread]:
    host = ServerThread()
    yield host
    host.close()


def start(host: ServerThread, **options: Any) -> DevServer:
    server = DevServer(**options)
    host.run(server.start())
    return server


@pytest.fixture
def server(host: ServerThread) -> Iterator[DevServer]:
    server = start(host, heartbeat_interval=0.5)
    yield server
    host.run(server.stop())


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("llmrix-sync")]


@pytest.fixture
def make_client(server: DevServer) -> Iterator[Callable[..., LlmrixClient]]:
    clients: list[LlmrixClient] = []

    def make(**options: Any) -> LlmrixClient:
        client = LlmrixClient(server.base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    gc.collect()
    assert loop_threads() == []


@pytest.fixture
def client(make_client: Callable[..., LlmrixClient]) -> LlmrixClient:
    return make_client()


def acquired(client: LlmrixClient) -> int:
    """Connections the client's pool has handed out and not got back."""
    session = client._client.session
    if session is None or session.connector is None:
        return 0
    return len(session.connector._acquired)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def run(client: LlmrixClient, conversation_id: str, message: str) -> list[StreamEvent]:
    with client.chat(conversation_id).stream(message) as stream:
        return list(stream)


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.content for e in events if isinstance(e, MessageChunkEvent))


def test_plain_reply_streams_in_chunks(client: LlmrixClient) -> None:
    conversation = client.conversations.create(title="Demo")
    events = run(client, conversation.id, "hello there")
    assert isinstance(events[0], RunStartEvent)
    assert isinstance(events[-1], RunEndEvent)
    assert events[0].thread_id == conversation.id
    assert sum(isinstance(e, MessageChunkEvent) for e in events) > 2
    assert "hello there" in text_of(events)
    assert acquired(client) == 0


def test_tool_and_subagent_events(client: LlmrixClient) -> None:
    conversation = client.conversations.create("t")
    events = run(client, conversation.id, "look /tool web_search /subagent critic")
    kinds = [type(e) for e in events]
    assert kinds.index(ToolStartEvent) < kinds.index(ToolEndEvent) < kinds.index(MessageChunkEvent)
    sub = next(e for e in events if isinstance(e, SubagentStartEvent))
    assert sub.agent_name == "critic"


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (HitlDecision.approve(), "approved"),
        (HitlDecision.reject("too risky"), "too risky"),
        (HitlDecision.modify({"target": "elsewhere"}), "elsewhere"),
    ],
)
def test_hitl_decided_inside_the_loop(
    client: LlmrixClient, decision: HitlDecision, expected: str
) -> None:
    conversation = client.conversations.create("t")
    events: list[StreamEvent] = []
    with client.chat(conversation.id).stream("do it /hitl") as stream:
        for event in stream:
            events.append(event)
            if isinstance(event, HitlInterruptEvent):
                assert stream.interrupt is event
                stream.decide([decision])
                assert stream.interrupt is None
    assert isinstance(events[-1], RunEndEvent)
    assert expected in text_of(events)


def test_hitl_pause_then_resume_with_decisions(server: DevServer, client: LlmrixClient) -> None:
    server.faults = FaultOptions(end_at_interrupt=True)
    conversation = client.conversations.create("t")
    chat = client.chat(conversation.id)
    with chat.stream("/hitl") as stream:
        events = list(stream)
        assert isinstance(events[-1], HitlInterruptEvent)
        assert stream.interrupt is events[-1]
    with chat.stream("resume", hitl_decisions=[HitlDecision.approve()]) as stream:
        assert "approved" in stream.final_text()


def test_decide_on_a_paused_stream_resumes_it(server: DevServer, client: LlmrixClient) -> None:
    server.faults = FaultOptions(end_at_interrupt=True)
    conversation = client.conversations.create("t")
    with client.chat(conversation.id).stream("tidy up /hitl") as stream:
        first = list(stream)
        assert isinstance(first[-1], HitlInterruptEvent)
        stream.decide([HitlDecision.reject("not now")])
        assert stream.interrupt is None
        second = list(stream)
    assert isinstance(second[-1], RunEndEvent)
    assert "not now" in text_of(second)
    assert server.requests[-1].json()["hitl_decisions"] == [
        {"decision": "reject", "reason": "not now"}
    ]
    assert acquired(client) == 0


def test_stop_inside_the_loop_cancels_a_slow_run(client: LlmrixClient) -> None:
    conversation = client.conversations.create("t")
    events: list[StreamEvent] = []
    with client.chat(conversation.id).stream("/slow") as stream:
        for event in stream:
            events.append(event)
            if isinstance(event, MessageChunkEvent) and len(events) == 3:
                stream.stop()
    assert isinstance(events[-1], CancelledEvent)
    assert len(events) < 20
    assert acquired(client) == 0


def test_stop_and_decide_from_another_thread(host: ServerThread) -> None:
    """Heartbeats keep a stream paused 1 s at an interrupt alive (0.4 s idle timeout)."""
    server = start(host, heartbeat_interval=0.1)
    try:
        with LlmrixClient(server.base_url, stream_idle_timeout=0.4) as client:
            chat = client.chat(client.conversations.create("t").id)
            decider = threading.Timer(1.0, chat.decide, args=([HitlDecision.approve()],))
            with chat.stream("/hitl") as stream:
                events = []
                for event in stream:
                    events.append(event)
                    if isinstance(event, HitlInterruptEvent):
                        decider.start()
            decider.join()
            assert isinstance(events[-1], RunEndEvent)
            with chat.stream("/slow") as stream:
                stopper = threading.Timer(0.2, stream.stop)
                stopper.start()
                events = list(stream)
            stopper.join()
            assert isinstance(events[-1], CancelledEvent)
    finally:
        host.run(server.stop())


def test_typescript_shapes_and_heartbeat_forms(client: LlmrixClient) -> None:
    conversation = client.conversations.create("t")
    events: list[StreamEvent] = []
    with client.chat(conversation.id).stream("/ts /tool calc /hitl") as stream:
        for event in stream:
            events.append(event)
            if isinstance(event, HitlInterruptEvent):
                assert event.action_requests[0].decisions
                stream.decide([HitlDecision.approve()])
    assert next(e for e in events if isinstance(e, ToolStartEvent)).tool_call_id
    assert isinstance(events[-1], RunEndEvent)
    events = run(client, conversation.id, "/heartbeats beat")
    assert all(e.channel != "heartbeat" for e in events)
    assert isinstance(events[-1], RunEndEvent)


def test_stop_without_a_run_is_harmless(client: LlmrixClient) -> None:
    client.chat(client.conversations.create("t").id).stop()


def test_error_event_and_complete_raising(client: LlmrixClient) -> None:
    conversation = client.conversations.create("t")
    events = run(client, conversation.id, "/error")
    assert isinstance(events[-1], ErrorEvent)
    with pytest.raises(StreamError) as info:
        client.chat(conversation.id).complete("/error")
    assert isinstance(info.value.event, ErrorEvent)
    with client.chat(conversation.id).stream("/error") as stream, pytest.raises(StreamError):
        stream.final_text()


def test_final_text_and_text_stream_around_an_interrupt(client: LlmrixClient) -> None:
    chat = client.chat(client.conversations.create("t").id)
    with chat.stream("wipe it /hitl") as stream:
        with pytest.raises(RunPausedError, match="dangerous_action") as info:
            stream.final_text()
        assert info.value.interrupt is stream.interrupt
        stream.decide([HitlDecision.approve()])
        text = stream.final_text()
    assert text.startswith('You said: "wipe it /hitl"')
    assert "approved" in text
    with chat.stream("once more /hitl") as stream:
        with pytest.raises(RunPausedError):
            list(stream.text_stream)
        stream.decide([HitlDecision.approve()])
        assert "approved" in "".join(stream.text_stream)
    assert "hi" in chat.complete_text("hi")


def test_send_calls_the_handler_in_the_callers_thread(client: LlmrixClient) -> None:
    chat = client.chat(client.conversations.create("t").id)
    seen: list[tuple[StreamEvent, threading.Thread]] = []
    chat.send("hi", lambda event: seen.append((event, threading.current_thread())))
    assert isinstance(seen[-1][0], RunEndEvent)
    assert {thread for _, thread in seen} == {threading.current_thread()}
    events: list[StreamEvent] = []
    with chat.stream("x") as stream:
        chat.send_request(stream.request, events.append)
    assert isinstance(events[-1], RunEndEvent)


def test_pages_iterate_across_requests(client: LlmrixClient) -> None:
    created = {client.conversations.create(f"c{i}").id for i in range(7)}
    listed = [c.id for c in client.conversations.iter(size=3)]
    assert sorted(listed) == sorted(created)
    assert client.conversations.list(size=3).has_more
    first = next(iter(client.conversations.iter(size=3)))
    assert first.id in created
    conversation = client.conversations.get(listed[0])
    client.chat(conversation.id).complete("first")
    client.chat(conversation.id).complete("second /tool grep")
    messages = list(client.conversations.iter_messages(conversation.id, size=2))
    assert [m.role for m in messages].count("user") == 2
    assert client.conversations.messages(conversation.id, size=1).has_more


def test_crud_errors_and_odd_ids(server: DevServer, client: LlmrixClient) -> None:
    conversation = client.conversations.create("before")
    assert client.conversations.update(conversation.id, title="after").title == "after"
    client.conversations.delete(conversation.id)
    with pytest.raises(NotFoundError):
        client.conversations.get(conversation.id)
    with pytest.raises(NotFoundError):
        run(client, conversation.id, "hi")
    with pytest.raises(UnprocessableEntityError):
        client.conversations.create(title=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        client.chat("c").stream("hi", hitl_decisions=[])
    for odd in ("a/b", "../x"):
        server.seed_conversation("odd", id=odd)
        assert client.conversations.get(odd).id == odd
        assert "hi" in client.chat(odd).complete_text("hi")


def test_cron_and_agents(client: LlmrixClient) -> None:
    task = client.cron.create("daily", prompt="summarise", schedule_expr="0 9 * * *")
    assert client.cron.update(task.id, name="renamed").name == "renamed"
    assert client.cron.pause(task.id).status == "paused"
    assert client.cron.resume(task.id).status == "active"
    assert [t.name for t in client.cron.list()] == ["renamed"]
    assert client.cron.get(task.id).id == task.id
    client.cron.delete(task.id)
    agent = client.agents.create("lead", type="team")
    assert client.agents.update(agent.id, introduce="hi").introduce == "hi"
    assert [m.name for m in client.agents.save_mates(agent.id, [Mate(name="a")])] == ["a"]
    assert [m.name for m in client.agents.list_mates(agent.id)] == ["a"]
    assert client.agents.get(agent.id).id in [a.id for a in client.agents.list()]
    client.agents.delete(agent.id)
    with pytest.raises(NotFoundError):
        client.agents.get(agent.id)


def test_api_key_and_options(host: ServerThread) -> None:
    server = start(host, api_key="sk-dev")
    try:
        with LlmrixClient(server.base_url, api_key="wrong") as client:
            with pytest.raises(AuthenticationError) as info:
                client.conversations.list()
            assert info.value.status_code == 401
            keyed = client.with_options(api_key="sk-dev")
            assert keyed.conversations.list().items == []
            assert keyed.base_url == client.base_url == server.base_url
        assert keyed.closed
        with pytest.raises(LlmrixError, match="closed"):
            keyed.conversations.list()
    finally:
        host.run(server.stop())
    assert loop_threads() == []


def test_cut_and_malformed_streams_are_stream_errors(
    server: DevServer, client: LlmrixClient
) -> None:
    conversation = client.conversations.create("t")
    server.faults = FaultOptions(cut_after=3)
    with pytest.raises(StreamError, match="ended before the run finished"):
        run(client, conversation.id, "a b c d e f g")
    server.faults = FaultOptions(malformed_after=2)
    with pytest.raises(StreamError, match="malformed JSON"):
        run(client, conversation.id, "a b c d")
    assert acquired(client) == 0


def test_stall_hits_the_idle_timeout(server: DevServer, client: LlmrixClient) -> None:
    server.faults = FaultOptions(stall_after=2)
    conversation = client.conversations.create("t")
    started = time.monotonic()
    chat = client.chat(conversation.id)
    with (
        pytest.raises(APITimeoutError, match="stream_idle_timeout"),
        chat.stream("a b c", stream_idle_timeout=0.3) as stream,
    ):
        list(stream)
    assert time.monotonic() - started < 5
    assert acquired(client) == 0


def test_iterating_outside_with_is_a_clear_error(client: LlmrixClient) -> None:
    with pytest.raises(RuntimeError, match="inside 'async with'"):
        next(iter(client.chat("c").stream("hi")))


LEAVE_AT = [
    ("/slow", RunStartEvent),  # the loop thread is reading: leaving cancels the read
    ("/hitl", HitlInterruptEvent),  # the loop thread waits for the decision
    ("/long 5000", MessageChunkEvent),  # the loop thread read a batch ahead and stopped
]
"""Where to leave a stream, so that each state of the reading side is left from."""


def test_breaking_out_releases_the_connection_every_time(
    server: DevServer, client: LlmrixClient
) -> None:
    chat = client.chat(client.conversations.create("t").id)
    for round_ in range(LEAK_ROUNDS):
        message, leave_at = LEAVE_AT[round_ % len(LEAVE_AT)]
        with chat.stream(message) as stream:
            for event in stream:
                if isinstance(event, leave_at):
                    break
        assert isinstance(event, leave_at)
    assert acquired(client) == 0
    assert loop_threads() == [client._portal.thread]
    wait_until(lambda: server.live_streams == 0)


def test_an_exception_in_the_loop_releases_the_connection_every_time(
    server: DevServer, client: LlmrixClient
) -> None:
    chat = client.chat(client.conversations.create("t").id)
    for round_ in range(LEAK_ROUNDS):
        message, leave_at = LEAVE_AT[round_ % len(LEAVE_AT)]
        with pytest.raises(KeyError), chat.stream(message) as stream:
            for event in stream:
                if isinstance(event, leave_at):
                    raise KeyError(round_)
    assert acquired(client) == 0
    assert loop_threads() == [client._portal.thread]
    wait_until(lambda: server.live_streams == 0)


def test_close_joins_the_thread_and_later_use_is_a_clear_error(server: DevServer) -> None:
    client = LlmrixClient(server.base_url)
    conversation = client.conversations.create("t")
    thread = client._portal.thread
    session = client._client.session
    assert thread.is_alive()
    assert session is not None
    client.close()
    client.close()
    assert not thread.is_alive()
    assert session.closed
    assert session.connector is None or session.connector.closed
    assert client._portal.core.loop.is_closed()
    assert loop_threads() == []
    with pytest.raises(ClientClosedError, match="client is closed"):
        client.conversations.get(conversation.id)
    with pytest.raises(ClientClosedError, match="client is closed"):
        client.chat(conversation.id).stream("hi").__enter__()
    with pytest.raises(ClientClosedError, match="client is closed"):
        list(client.conversations.iter())


def test_closing_the_client_mid_stream_is_a_clear_error(server: DevServer) -> None:
    client = LlmrixClient(server.base_url)
    conversation = client.conversations.create("t")
    with (
        pytest.raises(ClientClosedError, match="client was closed while the stream was open"),
        client.chat(conversation.id).stream("/slow") as stream,
    ):
        for event in stream:
            if isinstance(event, MessageChunkEvent):
                client.close()
    assert loop_threads() == []


def test_close_from_another_thread_wakes_a_blocked_reader(server: DevServer) -> None:
    client = LlmrixClient(server.base_url)
    conversation = client.conversations.create("t")
    closer = threading.Timer(0.3, client.close)
    with client.chat(conversation.id).stream("/hitl") as stream:
        events = []
        closer.start()
        with pytest.raises(ClientClosedError, match="client was closed while the stream was open"):
            for event in stream:
                events.append(event)
                if isinstance(event, HitlInterruptEvent):
                    next(stream)
    closer.join()
    assert loop_threads() == []


def test_many_threads_share_one_client(client: LlmrixClient) -> None:
    conversations = [client.conversations.create(f"c{i}").id for i in range(8)]
    failures: list[BaseException] = []

    def work(conversation_id: str) -> None:
        try:
            for i in range(5):
                assert f"n{i}" in client.chat(conversation_id).complete_text(f"n{i}")
                with client.chat(conversation_id).stream("/long 500") as stream:
                    assert sum(1 for _ in stream) == 502
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(c,)) for c in conversations]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert acquired(client) == 0


def test_long_stream_crosses_many_batches(client: LlmrixClient) -> None:
    conversation = client.conversations.create("t")
    with client.chat(conversation.id).stream("/long 20000") as stream:
        events = list(stream)
        assert stream.run_id
    assert len(events) == 20_002
    assert isinstance(events[-1], RunEndEvent)


@pytest.mark.parametrize(
    ("sync_class", "async_class"),
    [
        (Conversations, aio.Conversations),
        (Cron, aio.Cron),
        (Agents, aio.Agents),
        (Chat, aio.Chat),
        (ChatStream, llmrix.ChatStream),
        (LlmrixClient, llmrix.LlmrixClient),
    ],
)
def test_every_public_async_name_has_a_sync_twin(sync_class: type, async_class: type) -> None:
    def public(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    missing = public(async_class) - public(sync_class) - {"session", "aclose"}
    assert not missing, f"llmrix.sync.{sync_class.__name__} lacks {sorted(missing)}"


def test_sync_signatures_are_the_async_ones(client: LlmrixClient) -> None:
    for name in ("create", "list", "iter", "update", "messages"):
        bound = getattr(aio.Conversations(None), name)  # type: ignore[arg-type]
        assert inspect.signature(getattr(client.conversations, name)) == inspect.signature(bound)
    assert inspect.signature(client.chat("c").stream) == inspect.signature(
        aio.Chat(None, "c").stream  # type: ignore[arg-type]
    )


def test_constructor_takes_the_async_arguments_but_session_and_picks_its_loop() -> None:
    sync_parameters = dict(inspect.signature(LlmrixClient).parameters)
    async_parameters = dict(inspect.signature(llmrix.LlmrixClient).parameters)
    del async_parameters["session"]
    assert sync_parameters.pop("event_loop").default == "auto"
    assert list(sync_parameters) == list(async_parameters)
    for name, parameter in sync_parameters.items():
        assert parameter.default == async_parameters[name].default, name
        assert parameter.kind == async_parameters[name].kind, name
    with pytest.raises(ValueError, match="no base_url"), pytest.MonkeyPatch.context() as patch:
        patch.delenv("LLMRIX_BASE_URL", raising=False)
        LlmrixClient()
    assert loop_threads() == []


def test_official_style_calls_and_error_names(host: ServerThread, client: LlmrixClient) -> None:
    """The calls docs/migration.md maps from llmrix-python-sdk, written its way."""
    from llmrix import (
        ConversationCreateRequest,
        CronCreateRequest,
        CronUpdateRequest,
        LlmrixApiError,
        LlmrixAuthError,
    )

    assert LlmrixApiError is llmrix.APIError
    assert LlmrixAuthError is AuthenticationError
    conversation = client.conversations.create(ConversationCreateRequest(title="Demo"))
    seen: list[StreamEvent] = []
    client.chat(conversation.id).send("Hello!", seen.append)
    assert isinstance(seen[-1], RunEndEvent)
    task = client.cron.create(CronCreateRequest(name="n", prompt="p", schedule_expr="0 9 * * *"))
    assert client.cron.update(task.id, CronUpdateRequest(name="m")).name == "m"
    with pytest.raises(LlmrixApiError) as info:
        client.conversations.get("missing")
    assert info.value.status_code == 404
    keyed = start(host, api_key="sk-dev")
    try:
        with LlmrixClient(keyed.base_url) as anonymous, pytest.raises(LlmrixAuthError):
            anonymous.conversations.list()
    finally:
        host.run(keyed.stop())


def test_class_attributes_document_themselves() -> None:
    import pydoc

    text = pydoc.plain(pydoc.render_doc(Conversations))
    assert "One page of conversations" in text
    assert "Every conversation, page after page" in text
    assert "Send a turn" in pydoc.plain(pydoc.render_doc(Chat))


def test_a_forgotten_client_is_closed_when_collected(server: DevServer) -> None:
    client = LlmrixClient(server.base_url)
    client.conversations.create("t")
    thread = client._portal.thread
    del client
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_a_client_left_open_at_exit_is_closed_quietly(server: DevServer) -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from llmrix.sync import LlmrixClient\n"
        "client = LlmrixClient(sys.argv[1])\n"
        "conversation = client.conversations.create('t')\n"
        "stream = client.chat(conversation.id).stream('/slow').__enter__()\n"
        "next(iter(stream))\n"
        "print('left open')\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-X", "dev", "-c", script, server.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "left open\n", "")


def test_snapshot_batches_and_until_done(client: LlmrixClient) -> None:
    conversation = client.conversations.create("snap")
    chat = client.chat(conversation.id)
    with chat.stream("look it up /tool web_search") as stream:
        first = next(iter(stream))
        assert first.type == "run_start"
        snapshot = stream.until_done()
    assert snapshot.status == "finished"
    assert [call.name for call in snapshot.tool_calls] == ["web_search"]
    assert snapshot.tool_calls[0].done
    assert 'You said: "look it up' in snapshot.text
    with chat.stream("again") as stream:
        batches = list(stream.batches())
        assert all(batches)
        assert batches[-1][-1].type == "run_end"
        assert stream.snapshot.status == "finished"
    with chat.stream("wipe it /hitl") as stream:
        with pytest.raises(RunPausedError):
            stream.until_done()
        stream.decide([HitlDecision.approve()])
        assert stream.until_done().status == "finished"
    assert chat.complete("once more").text == 'You said: "once more"'
