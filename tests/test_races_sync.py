"""Races of the sync client's two threads, and a process forked under it (issue 16,
items 1-3 and 12): the caller's thread and the loop thread are made to switch
every microsecond while they hand events over; no timing is asserted."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import RUN_END, RUN_START, ServerThread, chunk
from aiohttp import web

from llmrix import ClientClosedError, HitlDecision, MessageChunkEvent, StreamEvent
from llmrix.devserver import DevServer
from llmrix.sync import LlmrixClient

CHAT = "/api/open/v1/conversations/{id}/chat"
PIECES = [f"<{i}>" for i in range(2_000)]
TEXT = "".join(PIECES)


async def many_reads(request: web.Request) -> web.StreamResponse:
    """A run of 2,000 chunks, written a few at a time (the client reads often) or,
    for the message ``burst``, at once (the loop thread decodes them in a row)."""
    body = await request.json()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    step = len(PIECES) if body["message"] == "burst" else 3
    await response.write(RUN_START)
    for start in range(0, len(PIECES), step):
        await response.write(b"".join(chunk(piece) for piece in PIECES[start : start + step]))
        await asyncio.sleep(0)
    await response.write(RUN_END)
    return response


@pytest.fixture(scope="module")
def host() -> Iterator[ServerThread]:
    host = ServerThread()
    yield host
    host.close()


@pytest.fixture
def base_url(host: ServerThread) -> Iterator[str]:
    app = web.Application()
    app.router.add_post(CHAT, many_reads)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    host.run(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    host.run(site.start())
    address = runner.addresses[0]
    yield f"http://{address[0]}:{address[1]}"
    host.run(runner.cleanup())


@pytest.fixture
def devserver(host: ServerThread) -> Iterator[DevServer]:
    server = DevServer(heartbeat_interval=0.5)
    host.run(server.start())
    yield server
    host.run(server.stop())


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Let the interpreter switch threads every microsecond."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.fixture
def yield_at_c_calls(switch_often: None) -> Iterator[None]:
    """In the test's thread, offer the loop thread the interpreter before every C call
    (between a look at shared state and the change that follows it)."""

    def hook(frame: object, event: str, arg: object) -> None:
        if event == "c_call":
            time.sleep(0)

    sys.setprofile(hook)
    yield
    sys.setprofile(None)


def chunk_texts(events: list[StreamEvent]) -> list[str]:
    return [event.content for event in events if isinstance(event, MessageChunkEvent)]


@pytest.mark.usefixtures("yield_at_c_calls")
def test_batches_lose_nothing_while_the_loop_thread_reads_ahead(base_url: str) -> None:
    with LlmrixClient(base_url) as client:
        for message in ["many", "burst", "many", "burst"]:
            with client.chat("c").stream(message) as stream:
                events = [event for batch in stream.batches() for event in batch]
            assert chunk_texts(events) == PIECES
            assert [events[0].type, events[-1].type] == ["run_start", "run_end"]


@pytest.mark.usefixtures("yield_at_c_calls")
def test_events_and_batches_mixed_hand_out_each_event_once(base_url: str) -> None:
    with LlmrixClient(base_url) as client, client.chat("c").stream("burst") as stream:
        events = [next(stream), next(stream)]
        for batch in stream.batches():
            events += batch
            events += [next(stream) for _ in range(min(2, len(PIECES) - len(events) + 2))]
        events += list(stream)
    assert chunk_texts(events) == PIECES


@pytest.mark.usefixtures("switch_often")
def test_snapshot_read_inside_the_loop_holds_each_chunk_once(base_url: str) -> None:
    """The documented mid-loop view: every event handed out, maybe some read ahead."""
    with LlmrixClient(base_url) as client, client.chat("c").stream("many") as stream:
        handed = ""
        for event in stream:
            if isinstance(event, MessageChunkEvent):
                handed += event.content
            text = stream.snapshot.text
            assert text.startswith(handed)
            assert TEXT.startswith(text)
            assert stream.run_id == "r1"
        final = stream.until_done()
    assert final.text == TEXT
    assert final.status == "finished"


@pytest.mark.usefixtures("switch_often")
def test_text_read_from_another_thread_while_the_loop_applies_loses_nothing(
    base_url: str,
) -> None:
    with LlmrixClient(base_url) as client:
        for _ in range(3):
            with client.chat("c").stream("many") as stream:
                for _batch in stream.batches():
                    assert TEXT.startswith(stream.snapshot.text)
                assert stream.snapshot.text == TEXT
            assert client.chat("c").complete("many").text == TEXT


def test_every_call_and_stream_of_a_closed_client_raises_client_closed(
    devserver: DevServer,
) -> None:
    client = LlmrixClient(devserver.base_url)
    conversation = client.conversations.create("t")
    chat = client.chat(conversation.id)
    stream = chat.stream("/slow").__enter__()
    assert next(stream).type == "run_start"
    unopened = chat.stream("hi")
    client.close()
    calls = {
        "read on": lambda: list(stream),
        "get": lambda: client.conversations.get(conversation.id),
        "list": client.conversations.list,
        "iter": lambda: list(client.conversations.iter()),
        "enter": unopened.__enter__,
        "complete": lambda: chat.complete("hi"),
        "stop": chat.stop,
        "decide": lambda: chat.decide([HitlDecision.approve()]),
        "stream stop": stream.stop,
        "stream decide": lambda: stream.decide([HitlDecision.approve()]),
        "cron": client.cron.list,
    }
    raised = {}
    for name, call in calls.items():
        with pytest.raises(ClientClosedError) as info:
            call()
        raised[name] = type(info.value)
    assert raised == dict.fromkeys(calls, ClientClosedError)
    stream.close()


FORK_SCRIPT = """
import gc, os, sys, time
from llmrix import ClientClosedError
from llmrix.sync import LlmrixClient

def child_work(url, client):
    try:
        client.conversations.create("x")
    except ClientClosedError as exc:
        print("inherited client refused:", "os.fork()" in str(exc), flush=True)
    del client
    gc.collect()
    with LlmrixClient(url) as own:
        print("own client:", own.conversations.create("child").title, flush=True)

def wait_bounded(pid):
    for _ in range(400):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "hung"

url, how = sys.argv[1], sys.argv[2]
client = LlmrixClient(url)
client.conversations.create("parent")
if how == "os.fork":
    pid = os.fork()
    if pid == 0:
        child_work(url, client)
        sys.exit(0)
    print("child exit:", wait_bounded(pid), flush=True)
else:
    import multiprocessing
    process = multiprocessing.get_context("fork").Process(target=child_work, args=(url, client))
    process.start()
    process.join(20)
    if process.is_alive():
        process.kill()
        process.join()
    print("child exit:", process.exitcode if process.exitcode is not None else "hung", flush=True)
print("parent goes on:", client.conversations.create("after").title, flush=True)
"""


@pytest.mark.parametrize("how", ["os.fork", "multiprocessing"])
def test_a_child_forked_under_a_sync_client_exits_and_builds_its_own(
    devserver: DevServer, tmp_path: Path, how: str
) -> None:
    script = tmp_path / "fork_child.py"
    script.write_text(textwrap.dedent(FORK_SCRIPT))
    output = tmp_path / "output.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-X",
                "dev",
                "-W",
                "error",
                "-W",
                "ignore:This process:DeprecationWarning",
                str(script),
                devserver.base_url,
                how,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert output.read_text().splitlines() == [
        "inherited client refused: True",
        "own client: child",
        "child exit: 0",
        "parent goes on: after",
    ]
    assert process.returncode == 0
