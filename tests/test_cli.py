"""The ``llmrix`` command, run as a real subprocess."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from llmrix.devserver import DevServer


async def run_cli(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "llmrix",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_demo_exits_0_and_streams_text() -> None:
    code, out, err = await run_cli("demo")
    assert code == 0, err
    assert 'You said: "Hello! What can you do?"' in out
    assert "[tool] web_search" in out
    assert "approved and ran" in out
    assert "[cancelled]" in out
    assert "assistant:" in out
    assert err == ""


async def test_chat_answers_hitl_from_stdin() -> None:
    async with DevServer(heartbeat_interval=0.2) as server:
        code, out, err = await run_cli(
            "chat", "Delete logs /hitl", "--base-url", server.base_url, stdin=b"y\n"
        )
        assert code == 0, err
        assert "Approve? [y/n]" in out
        assert "approved and ran" in out
        code, out, err = await run_cli(
            "chat",
            "Delete logs /hitl",
            "--base-url",
            server.base_url,
            stdin=b"n\nnot today\n",
        )
        assert code == 0, err
        assert "not today" in out


async def test_chat_with_no_answer_on_stdin_is_one_line() -> None:
    async with DevServer(heartbeat_interval=0.2) as server:
        code, _out, err = await run_cli("chat", "x /hitl", "--base-url", server.base_url)
    assert code == 1
    assert err == "llmrix: error: input ended before an answer was given\n"


async def test_chat_interactive_loop_uses_env_and_one_conversation() -> None:
    async with DevServer() as server:
        conversation = server.seed_conversation("existing")
        code, out, err = await run_cli(
            "chat",
            "--conversation",
            conversation.id,
            stdin=b"first line\nsecond line\n",
            env={"LLMRIX_BASE_URL": server.base_url},
        )
        assert code == 0, err
        assert 'You said: "first line"' in out
        assert 'You said: "second line"' in out


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["chat", "hi", "--base-url", "http://127.0.0.1:9"], {}, "failed"),
        (["chat", "hi", "--base-url", "ftp://nowhere"], {}, "base_url"),
        (["chat", "hi"], {"LLMRIX_BASE_URL": ""}, "LLMRIX_BASE_URL"),
    ],
)
async def test_errors_are_one_line_without_traceback(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    code, _out, err = await run_cli(*args, env=env)
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("llmrix: error:")
    assert expected in err
    assert "Traceback" not in err


async def test_wrong_key_is_one_line() -> None:
    async with DevServer(api_key="sk-right") as server:
        code, _out, err = await run_cli(
            "chat", "hi", "--base-url", server.base_url, "--api-key", "sk-wrong"
        )
    assert code == 1
    assert "HTTP 401" in err
    assert "sk-wrong" not in err
    assert "Traceback" not in err


async def test_serve_runs_until_interrupted() -> None:
    import signal
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "llmrix",
        "serve",
        "--port",
        str(port),
        "--api-key",
        "sk-serve",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f"127.0.0.1:{port}" in banner.decode()
        from llmrix import AuthenticationError, LlmrixClient

        async with LlmrixClient(f"http://127.0.0.1:{port}", api_key="sk-serve") as client:
            conversation = await client.conversations.create("served")
            assert "hello" in await client.chat(conversation.id).complete_text("hello")
        async with LlmrixClient(f"http://127.0.0.1:{port}", api_key="nope") as client:
            with pytest.raises(AuthenticationError):
                await client.conversations.list()
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, err
        assert b"Traceback" not in err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
