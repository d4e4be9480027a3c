"""The ``llmrix`` command, run as a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _support import free_port

import llmrix
from llmrix import AuthenticationError, InternalServerError, LlmrixClient
from llmrix.cli import _parser
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
    assert "⚙ web_search" in out
    assert "approved and ran" in out
    assert "■ cancelled: stopped by user" in out
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


@contextlib.asynccontextmanager
async def served(*args: str, ignore_sigint: bool = False) -> AsyncIterator[tuple[Any, str]]:
    """``llmrix serve`` on a free port; yields the process and its base URL."""
    port = free_port()

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "llmrix",
        "serve",
        "--port",
        str(port),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=ignore if ignore_sigint else None,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f"127.0.0.1:{port}" in banner.decode()
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("ignore_sigint", [False, True], ids=["default", "sigint-ignored"])
async def test_serve_runs_until_interrupted(ignore_sigint: bool) -> None:
    async with served("--api-key", "sk-serve", ignore_sigint=ignore_sigint) as (process, url):
        async with LlmrixClient(url, api_key="sk-serve") as client:
            conversation = await client.conversations.create("served")
            assert "hello" in await client.chat(conversation.id).complete_text("hello")
        async with LlmrixClient(url, api_key="nope") as client:
            with pytest.raises(AuthenticationError):
                await client.conversations.list()
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, err
        assert b"Traceback" not in err


@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [("forbidden", 403, AuthenticationError), ("unconfigured", 503, InternalServerError)],
)
async def test_serve_auth_modes(mode: str, status: int, error: type[Exception]) -> None:
    async with (
        served("--auth-mode", mode) as (process, url),
        LlmrixClient(url, max_retries=0) as client,
    ):
        with pytest.raises(error, match=f"HTTP {status}"):
            await client.conversations.list()
        process.terminate()
        await process.wait()


async def test_serve_string_seq_and_faults_flags() -> None:
    async with (
        served("--string-seq", "--faults", "bom, cr, multiline_data, sse_ids, no_event_line") as (
            process,
            url,
        ),
        LlmrixClient(url) as client,
    ):
        conversation = await client.conversations.create("strings")
        assert isinstance(conversation.seq, str)
        assert conversation.seq.startswith("seq-")
        chat = client.chat(conversation.id)
        assert await chat.complete_text("one two three") == 'You said: "one two three"'
        process.terminate()
        await process.wait()


async def test_serve_names_the_port_already_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _out, err = await run_cli("serve", "--port", str(port))
    assert code == 1
    assert err == (
        f"llmrix: error: port {port} on 127.0.0.1 is already in use (choose another with --port)\n"
    )


async def test_serve_rejects_unknown_fault_options() -> None:
    code, _out, err = await run_cli("serve", "--faults", "crlf, sideways")
    assert code == 1
    assert err == "llmrix: error: unknown fault option 'sideways'\n"


async def test_version() -> None:
    code, out, _err = await run_cli("--version")
    assert code == 0
    assert out == f"llmrix {llmrix.__version__}\n"


async def test_chat_help_names_the_environment_variables() -> None:
    code, out, _err = await run_cli("chat", "--help", env={"COLUMNS": "200"})
    assert code == 0
    assert "default: the LLMRIX_BASE_URL environment variable" in out
    assert "default: the LLMRIX_API_KEY environment variable" in out
    assert "--model" in out
    assert "--agent" in out


async def test_chat_sends_model_and_agent() -> None:
    async with DevServer() as server:
        code, out, err = await run_cli(
            "chat", "hi", "--base-url", server.base_url, "--model", "openai:gpt-4o", "--agent", "7"
        )
        assert code == 0, err
        assert 'You said: "hi"' in out
        body = server.requests[-1].json()
    assert body == {"message": "hi", "agent_id": "7", "model": "openai:gpt-4o"}


async def test_piped_output_has_no_colour() -> None:
    async with DevServer() as server:
        code, out, err = await run_cli(
            "chat", "x /tool_error t /subagent_error s", "--base-url", server.base_url
        )
    assert code == 0, err
    assert "\x1b[" not in out
    assert "✗ t failed: t failed on purpose" in out
    assert "✗ sub-agent s failed" in out


def test_every_serve_flag_has_help_text() -> None:
    commands = next(a for a in _parser()._actions if a.dest == "command")
    serve = commands.choices["serve"]  # type: ignore[index]
    flags = [a for a in serve._actions if a.option_strings and a.dest != "help"]
    assert flags
    for flag in flags:
        assert flag.help, f"{flag.option_strings[0]} has no help text"
