"""Cassettes: record through the loopback proxy, replay with the server gone (async and sync)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import llmrix
from llmrix import (
    APIError,
    APITimeoutError,
    CancelledEvent,
    ErrorEvent,
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    MessageChunkEvent,
    StreamError,
)
from llmrix.devserver import DevServer
from llmrix.sync import LlmrixClient as SyncClient
from llmrix.testing import (
    CassetteFormatError,
    CassetteMismatch,
    Recorder,
    ReplayServer,
    Script,
    load,
    use_cassette,
)
from llmrix.testing._recorder import FrameSplitter
from llmrix.testing._session import ServerThread

KEY = "sk-live-7f3a9c-very-secret"
END_AT_INTERRUPT = {"X-Llmrix-Dev-Faults": "end_at_interrupt"}
APPROVE = HitlDecision.approve()


def describe(event: Any) -> str:
    """An event as a short comparable string."""
    if isinstance(event, MessageChunkEvent):
        return f"chunk:{event.content}"
    return type(event).__name__


async def session(base_url: str, decision: HitlDecision = APPROVE) -> list[Any]:
    """A user's session: REST calls, a plain stream, decide inside the loop, a paused
    stream resumed after it ended, and a stop mid-run."""
    seen: list[Any] = []
    async with LlmrixClient(base_url, stream_idle_timeout=10) as client:
        conversation = await client.conversations.create("cassette", agent_id="a1")
        chat = client.chat(conversation.id)
        seen.append(await chat.complete_text("hello there"))
        page = await client.conversations.list(size=5)
        seen.append([c.id for c in page.items])
        async with chat.stream("/hitl wipe /tool search") as stream:
            async for event in stream:
                seen.append(describe(event))
                if isinstance(event, HitlInterruptEvent):
                    await stream.decide([decision])
        async with chat.stream("/hitl again", extra_headers=END_AT_INTERRUPT) as stream:
            seen += [describe(event) async for event in stream]
            assert stream.interrupt is not None
            await stream.decide([decision])
            seen += [describe(event) async for event in stream]
        chunks = 0
        async with chat.stream("/slow tell me") as stream:
            async for event in stream:
                seen.append(describe(event))
                if isinstance(event, MessageChunkEvent):
                    chunks += 1
                    if chunks == 3:
                        await stream.stop()
        history = await client.conversations.messages(conversation.id)
        seen.append([(m.role, m.content) for m in history.items])
    return seen


def read(path: Path) -> str:
    """A small file's text (a blocking read is fine in a test)."""
    return path.read_text()


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return tmp_path / "session.jsonl"


async def record(cassette: Path, run: Callable[[str], Any], **options: Any) -> Any:
    async with (
        DevServer(api_key=KEY, slow_delay=0.01) as dev,
        Recorder(dev.base_url, api_key=KEY, **options) as recorder,
    ):
        result = await run(recorder.base_url)
    recorder.save(cassette)
    return result


async def test_a_recorded_session_replays_with_the_server_gone(cassette: Path) -> None:
    recorded = await record(cassette, session)
    assert "CancelledEvent" in recorded and recorded.count("HitlInterruptEvent") == 2
    async with ReplayServer(cassette) as replay:
        replayed = await session(replay.base_url)
    replay.check()
    assert replayed == recorded
    lines = read(cassette).splitlines()
    header = json.loads(lines[0])
    assert header["llmrix_cassette"] == 1 and header["sdk_version"] == llmrix.__version__
    assert header["recorded_at"].endswith("Z")
    exchanges = [json.loads(line) for line in lines[1:]]
    streams = [e for e in exchanges if "frames" in e["response"]]
    decided, paused, stopped = streams[1], streams[2], streams[4]
    (decide,) = decided["actions"]
    assert decide["request"]["path"].endswith("/chat/hitl/decide")
    assert decide["request"]["json"] == {"decisions": [{"decision": "approve"}]}
    assert '"hitl_interrupt"' in decided["response"]["frames"][decide["at"] - 1]["raw"]
    assert "actions" not in paused and streams[3]["request"]["json"]["hitl_decisions"]
    (stop,) = stopped["actions"]
    assert stop["request"]["path"].endswith("/chat/stop") and stop["at"] >= 4
    assert '"cancelled"' in stopped["response"]["frames"][-1]["raw"]


async def test_no_key_anywhere_in_a_cassette(cassette: Path) -> None:
    async def leaky(base_url: str) -> None:
        async with LlmrixClient(base_url, api_key=KEY) as client:
            conversation = await client.conversations.create(f"title with {KEY}")
            await client.chat(conversation.id).complete_text(f"my key is {KEY}")
            await client.conversations.list(extra_query={"token": KEY})

    await record(cassette, leaky)
    text = read(cassette)
    assert KEY not in text and "Bearer" not in text and "authorization" not in text.lower()
    assert text.count("<redacted>") >= 4
    async with ReplayServer(cassette) as replay:
        await leaky(replay.base_url)
    replay.check()


async def test_the_redaction_hook_hides_the_users_own_fields(cassette: Path) -> None:
    def redact(exchange: dict[str, Any]) -> dict[str, Any]:
        body = exchange["request"].get("json") or {}
        if "metadata" in body:
            body["metadata"]["email"] = "<email>"
        return exchange

    async def run(base_url: str, email: str = "ann@example.com") -> str:
        async with LlmrixClient(base_url) as client:
            conversation = await client.conversations.create("r")
            return await client.chat(conversation.id).complete_text("hi", metadata={"email": email})

    await record(cassette, run, redact=redact)
    text = read(cassette)
    assert "ann@example.com" not in text and '"email": "<email>"' in text
    async with ReplayServer(cassette, redact=redact) as replay:
        assert await run(replay.base_url, "bob@example.com") == 'You said: "hi"'
    replay.check()


async def test_a_changed_decision_fails_with_a_side_by_side_diff(cassette: Path) -> None:
    await record(cassette, session)
    async with ReplayServer(cassette) as replay:
        with pytest.raises(APIError) as caught:
            await session(replay.base_url, HitlDecision.reject("no"))
    message = str(caught.value)
    assert "llmrix cassette mismatch" in message
    assert "recorded" in message and "actual" in message
    assert '"decision": "approve"' in message and '"decision": "reject",' in message
    assert " | " in message and " > " in message
    with pytest.raises(CassetteMismatch) as failed:
        replay.check()
    assert failed.value.args[0].startswith(replay.errors[0])
    assert "never made" in failed.value.args[0]


async def test_a_changed_resume_after_a_pause_fails_with_a_diff(cassette: Path) -> None:
    async def paused(base_url: str, decision: HitlDecision) -> None:
        async with LlmrixClient(base_url) as client:
            conversation = await client.conversations.create("p")
            chat = client.chat(conversation.id)
            async with chat.stream("/hitl", extra_headers=END_AT_INTERRUPT) as stream:
                [event async for event in stream]
                await stream.decide([decision])
                [event async for event in stream]

    await record(cassette, lambda url: paused(url, HitlDecision.approve()))
    async with ReplayServer(cassette) as replay:
        with pytest.raises(APIError, match="request 3 differs") as caught:
            await paused(replay.base_url, HitlDecision.modify({"target": "x"}))
    assert caught.value.status_code == 409
    assert '"hitl_decisions"' in str(caught.value) and "modified_args" in str(caught.value)


async def test_a_missing_stop_fails_without_hanging(cassette: Path) -> None:
    async def stopper(base_url: str, stop: bool) -> list[Any]:
        seen: list[Any] = []
        async with LlmrixClient(base_url) as client:
            conversation = await client.conversations.create("s")
            async with client.chat(conversation.id).stream("/slow go") as stream:
                async for event in stream:
                    seen.append(event)
                    if stop and len(seen) == 3:
                        await stream.stop()
        return seen

    recorded = await record(cassette, lambda url: stopper(url, True))
    assert isinstance(recorded[-1], CancelledEvent)
    async with ReplayServer(cassette, action_timeout=0.2) as replay:
        replayed = await stopper(replay.base_url, False)
    error = replayed[-1]
    assert isinstance(error, ErrorEvent) and error.error_code == "cassette_mismatch"
    assert "which never came" in error.message and "/chat/stop" in error.message
    assert "(nothing)" in error.message
    with pytest.raises(CassetteMismatch, match=r"waited 0\.2 s"):
        replay.check()


async def test_an_extra_call_and_a_missing_call_are_reported(cassette: Path) -> None:
    async def calls(base_url: str, count: int) -> None:
        async with LlmrixClient(base_url) as client:
            for index in range(count):
                await client.conversations.create(f"c{index}")

    await record(cassette, lambda url: calls(url, 2))
    async with ReplayServer(cassette) as replay:
        with pytest.raises(APIError, match="request 3 was not recorded") as caught:
            await calls(replay.base_url, 3)
    assert "(nothing)" in str(caught.value) and '"title": "c2"' in str(caught.value)
    async with ReplayServer(cassette) as replay:
        await calls(replay.base_url, 1)
    with pytest.raises(CassetteMismatch, match=r"1 recorded request\(s\) never made"):
        replay.check()


async def test_replay_answers_with_the_recorded_ids(cassette: Path) -> None:
    async def run(base_url: str) -> tuple[str, str | None]:
        async with LlmrixClient(base_url) as client:
            conversation = await client.conversations.create("ids")
            async with client.chat(conversation.id).stream("hi") as stream:
                await stream.until_done()
                return conversation.id, stream.run_id

    recorded = await record(cassette, run)
    async with ReplayServer(cassette) as replay:
        assert await run(replay.base_url) == recorded
    replay.check()


async def test_timed_replay_keeps_the_recorded_pauses(cassette: Path) -> None:
    async def run(base_url: str, idle: float | None = None) -> str:
        async with LlmrixClient(base_url, stream_idle_timeout=idle) as client:
            conversation = await client.conversations.create("t")
            return await client.chat(conversation.id).complete_text("go")

    async with DevServer() as dev, Recorder(dev.base_url) as recorder:
        dev.play(Script().text("before ").delay(1.5).text("after"))
        assert await run(recorder.base_url) == "before after"
    recorder.save(cassette)
    async with ReplayServer(cassette) as replay:
        assert await run(replay.base_url, idle=0.6) == "before after"
    async with ReplayServer(cassette, speed=1.0) as replay:
        with pytest.raises(APITimeoutError):
            await run(replay.base_url, idle=0.6)
    with pytest.raises(ValueError, match="speed must be positive"):
        ReplayServer(cassette, speed=0)


async def test_a_cut_stream_replays_cut(cassette: Path) -> None:
    async def run(base_url: str) -> str:
        async with LlmrixClient(base_url, max_retries=0) as client:
            conversation = await client.conversations.create("cut")
            chat = client.chat(conversation.id)
            try:
                await chat.complete_text(
                    "hello there friend", extra_query={"faults": "cut_after=2"}
                )
            except StreamError as exc:
                return type(exc).__name__
        return "no error"

    recorded = await record(cassette, run)
    assert recorded != "no error"
    exchanges = load(cassette).exchanges
    assert exchanges[1]["response"]["end"] == "cut"
    async with ReplayServer(cassette) as replay:
        assert await run(replay.base_url) == recorded
    replay.check()


@pytest.fixture
def threaded_dev() -> Iterator[DevServer]:
    """A dev server on a thread of its own, so a sync client can block this one."""
    thread = ServerThread()
    dev = DevServer(slow_delay=0.01)
    thread.call(dev.start())
    yield dev
    thread.call(dev.stop())
    thread.close()


def sync_session(base_url: str, decision: HitlDecision = APPROVE) -> list[Any]:
    seen: list[Any] = []
    with SyncClient(base_url) as client:
        conversation = client.conversations.create("sync")
        chat = client.chat(conversation.id)
        seen.append(chat.complete_text("hello"))
        with chat.stream("/hitl") as stream:
            for event in stream:
                seen.append(describe(event))
                if isinstance(event, HitlInterruptEvent):
                    stream.decide([decision])
        with chat.stream("/hitl", extra_headers=END_AT_INTERRUPT) as stream:
            seen += [describe(event) for event in stream]
            stream.decide([decision])
            seen += [describe(event) for event in stream]
        with chat.stream("/slow go") as stream:
            for index, event in enumerate(stream):
                seen.append(describe(event))
                if index == 3:
                    stream.stop()
    return seen


def test_the_sync_client_records_and_replays(threaded_dev: DevServer, cassette: Path) -> None:
    with use_cassette(cassette, record="all", base_url=threaded_dev.base_url) as used:
        assert used.recording
        recorded = sync_session(used.base_url)
    assert recorded[-1] == "CancelledEvent"
    with use_cassette(cassette) as used:
        assert not used.recording and "replaying" in repr(used)
        assert sync_session(used.base_url) == recorded
    with pytest.raises(APIError, match="cassette mismatch"), use_cassette(cassette) as again:
        sync_session(again.base_url, HitlDecision.reject())


def test_use_cassette_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(FileNotFoundError, match="no cassette"), use_cassette(missing):
        pass
    monkeypatch.delenv("LLMRIX_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="LLMRIX_BASE_URL"), use_cassette(missing, record="once"):
        pass
    with (
        pytest.raises(ValueError, match="record must be one of"),
        use_cassette(missing, record="sometimes"),  # type: ignore[arg-type]
    ):
        pass


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "no header line"),
        ('{"request": {}}\n', "no header line"),
        ('{"llmrix_cassette": 99}\n', "format 99 is not supported"),
        ('{"llmrix_cassette": 1}\nnot json\n', ":2: not JSON"),
        ('{"llmrix_cassette": 1}\n{"request": {}}\n', "exchange 1 lacks"),
    ],
)
def test_unreadable_cassettes_are_named(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CassetteFormatError, match=problem):
        load(path)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_frames_are_cut_as_sent_under_any_chunking(size: int, end: str) -> None:
    frames = [
        f": ping{end}{end}",
        f"event: messages{end}data: {{}}{end}{end}",
        f"data: a{end}data: b{end}{end}",
    ]
    stream = "".join(frames).encode()
    splitter = FrameSplitter()
    cut: list[bytes] = []
    for start in range(0, len(stream), size):
        cut += splitter.feed(stream[start : start + size])
    cut += splitter.finish()
    assert [frame.decode() for frame in cut] == frames


async def test_leaving_a_stream_early_records_and_replays(cassette: Path) -> None:
    async def early(base_url: str) -> list[str]:
        async with LlmrixClient(base_url) as client:
            conversation = await client.conversations.create("early")
            chat = client.chat(conversation.id)
            async with chat.stream("/slow a long answer") as stream:
                async for event in stream:
                    if isinstance(event, MessageChunkEvent):
                        break
            await chat.stop()
            return [await chat.complete_text("next")]

    recorded = await record(cassette, early)
    async with ReplayServer(cassette) as replay:
        assert await early(replay.base_url) == recorded
    replay.check()
