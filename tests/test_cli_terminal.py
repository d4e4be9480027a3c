"""``llmrix chat`` in a real pseudo-terminal: Ctrl-C, Ctrl-D, the approval prompt, colour."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable

import pytest

from llmrix import LlmrixClient
from llmrix.devserver import DevServer

if sys.platform == "win32":
    pytest.skip("needs a POSIX pty", allow_module_level=True)

from _support import free_port
from _terminal import Terminal

Start = Callable[..., Terminal]
INTERRUPTED = 130


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(heartbeat_interval=0.2, slow_delay=0.2) as server:
        yield server


@pytest.fixture
async def terminal(server: DevServer) -> AsyncIterator[Start]:
    """Start ``llmrix chat`` (plus extra arguments) in a pty, talking to ``server``."""
    started: list[Terminal] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Terminal:
        term = Terminal("chat", "--base-url", server.base_url, *args, env=env)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


async def test_ctrl_c_at_the_idle_prompt_exits_at_once(terminal: Start) -> None:
    term = terminal()
    await term.expect("> ")
    term.send("half a thought")
    term.send("\x03")
    assert await term.wait(timeout=5) == INTERRUPTED
    assert "Traceback" not in term.output


async def test_ctrl_d_at_the_prompt_exits_cleanly(terminal: Start) -> None:
    term = terminal()
    await term.expect("> ")
    term.send("\x04")
    assert await term.wait(timeout=5) == 0


async def test_ctrl_c_at_the_approval_prompt_stops_the_run_and_keeps_the_next_line(
    terminal: Start, server: DevServer
) -> None:
    term = terminal()
    end = await term.expect("> ")
    term.send("Delete logs /hitl\r")
    end = await term.expect("Approve? [y/n] ", after=end)
    term.send("\x03")
    end = await term.expect("cancelled: stopped by user", after=end)
    end = await term.expect("> ", after=end)
    term.send("hello again\r")
    end = await term.expect('You said: "hello again"', after=end)
    await term.expect("> ", after=end)
    term.send("\x04")
    assert await term.wait(timeout=10) == 0
    assert "HTTP 409" not in term.output  # (a bare "409" may be part of the conversation id)
    assert "Traceback" not in term.output
    assert server.live_streams == 0


async def test_ctrl_c_during_a_reply_stops_it_and_a_second_one_quits(terminal: Start) -> None:
    term = terminal()
    end = await term.expect("> ")
    term.send("Tell me a story /slow\r")
    end = await term.expect("You said:", after=end)
    term.send("\x03")
    end = await term.expect("cancelled: stopped by user", after=end)
    end = await term.expect("> ", after=end)
    term.send("Another one /slow\r")
    end = await term.expect("You said:", after=end)
    term.send("\x03")
    await term.expect("stopping", after=end)
    term.send("\x03")
    assert await term.wait(timeout=10) == INTERRUPTED
    assert "Traceback" not in term.output


async def test_the_approval_prompt_shows_the_arguments_and_asks_again(terminal: Start) -> None:
    term = terminal()
    end = await term.expect("> ")
    term.send("Delete logs /hitl\r")
    end = await term.expect('dangerous_action {"target": "Delete logs"}', after=end)
    end = await term.expect("Approve? [y/n] ", after=end)
    term.send("maybe\r")
    end = await term.expect("Please answer y (approve) or n (reject).", after=end)
    end = await term.expect("Approve? [y/n] ", after=end)
    term.send("n\r")
    end = await term.expect("Reason (optional): ", after=end)
    term.send("not today\r")
    await term.expect("The dangerous_action was rejected: not today.", after=end)
    term.send("\x04")
    assert await term.wait(timeout=10) == 0


async def test_each_action_of_an_interrupt_gets_its_own_question(terminal: Start) -> None:
    term = terminal()
    end = await term.expect("> ")
    term.send("Tidy up /hitl 2 /ts\r")
    end = await term.expect("Approve (1/2)? [y/n] ", after=end)
    term.send("y\r")
    end = await term.expect("Approve (2/2)? [y/n] ", after=end)
    term.send("n\r")
    end = await term.expect("Reason (optional): ", after=end)
    term.send("\r")
    end = await term.expect('on "Tidy up #1" was approved and ran.', after=end)
    await term.expect('on "Tidy up #2" was rejected: no reason given.', after=end)
    term.send("\x04")
    assert await term.wait(timeout=10) == 0


async def test_two_actions_in_the_primary_shape_are_asked_one_after_the_other(
    terminal: Start, server: DevServer
) -> None:
    term = terminal()
    end = await term.expect("> ")
    term.send("Tidy up /hitl 2\r")
    end = await term.expect('dangerous_action {"target": "Tidy up #1"}', after=end)
    end = await term.expect("Approve? [y/n] ", after=end)
    term.send("y\r")
    end = await term.expect('dangerous_action {"target": "Tidy up #2"}', after=end)
    end = await term.expect("Approve? [y/n] ", after=end)
    term.send("n\r")
    end = await term.expect("Reason (optional): ", after=end)
    term.send("not now\r")
    end = await term.expect('on "Tidy up #1" was approved and ran.', after=end)
    await term.expect('on "Tidy up #2" was rejected: not now.', after=end)
    term.send("\x04")
    assert await term.wait(timeout=10) == 0
    assert "422" not in term.output
    assert server.live_streams == 0


async def test_colour_on_a_terminal_and_none_with_no_color(terminal: Start) -> None:
    coloured = terminal("Find cats /tool web_search /tool_error broken")
    plain = terminal("Find cats /tool web_search /tool_error broken", env={"NO_COLOR": "1"})
    assert await coloured.wait() == 0
    assert await plain.wait() == 0
    assert "\x1b[36m" in coloured.raw_output  # tool activity
    assert "\x1b[1;31m" in coloured.raw_output  # the failed tool
    assert "\x1b[" not in plain.raw_output
    assert "✗ broken failed: broken failed on purpose" in plain.output


async def test_approval_on_a_server_that_ends_the_stream_at_the_interrupt() -> None:
    async with DevServer(end_at_interrupt=True) as server:
        term = Terminal("chat", "--base-url", server.base_url)
        try:
            end = await term.expect("> ")
            term.send("Delete logs /hitl\r")
            end = await term.expect("Approve? [y/n] ", after=end)
            term.send("y\r")
            await term.expect("The dangerous_action was approved and ran.", after=end, timeout=3)
        finally:
            term.close()


async def test_serve_prints_the_base_url_to_copy_and_a_line_per_request() -> None:
    term = Terminal("serve", "--port", str(free_port()))
    try:
        end = await term.expect("base_url: ")
        await term.expect("\n", after=end)
        base_url = term.output[end:].split()[0]
        for given in (base_url, base_url + "/api/open/v1", base_url + "/api/open/v1/"):
            async with LlmrixClient(given) as client:
                assert client.base_url == base_url
                await client.conversations.create("copied")
        for _ in range(3):  # one line per request, each once its answer is sent
            end = await term.expect("POST /api/open/v1/conversations 200 ", after=end)
            end = await term.expect(" ms\n", after=end)
        assert term.output.count("POST /api/open/v1/conversations 200") == 3
        term.send("\x03")
        assert await term.wait(timeout=10) == 0
    finally:
        term.close()


async def test_serve_quiet_prints_no_request_lines() -> None:
    term = Terminal("serve", "--quiet", "--port", str(free_port()))
    try:
        end = await term.expect("base_url: ")
        await term.expect("\n", after=end)
        async with LlmrixClient(term.output[end:].split()[0]) as client:
            await client.conversations.create("quiet")
            await client.conversations.list()
        term.send("\x03")
        assert await term.wait(timeout=10) == 0
        assert "/api/open/v1" not in term.output
    finally:
        term.close()


async def test_the_demo_marks_history_lines_it_cuts() -> None:
    term = Terminal("demo")
    try:
        assert await term.wait(timeout=60) == 0
    finally:
        term.close()
    history = term.output.split("The conversation's history:")[1].split("\nDone.")[0]
    cut = [line for line in history.splitlines() if "was approve" in line]
    assert cut == [
        '  assistant: You said: "Delete old backups /hitl" The dangerous_action was approve…'
    ]
    assert not any(line.endswith("approved") for line in history.splitlines())


async def test_a_refused_http_connection_does_not_mention_tls() -> None:
    term = Terminal("chat", "hello", "--base-url", f"http://127.0.0.1:{free_port()}")
    try:
        assert await term.wait(timeout=30) == 1
    finally:
        term.close()
    assert "cannot connect to 127.0.0.1:" in term.output
    assert "Connection refused" in term.output
    assert "ssl" not in term.output
