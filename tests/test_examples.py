"""Run every script in examples/ against a dev server, as a user would."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmrix.devserver import DevServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 60.0

EXPECTED = {
    "quickstart.py": ["[tool web_search started", 'You said: "Find cat pictures', "[run run_"],
    "hitl_inline.py": [
        "[approval needed]",
        "The dangerous_action was approved and ran.",
        "The dangerous_action was rejected: too risky.",
    ],
    "stop_mid_loop.py": ["[cancelled] stopped by user", "chunks before the run stopped"],
    "run_to_completion.py": [
        'complete: You said: "Summarise this"',
        "final_text of run run_",
        "message_chunk x",
        "run_end x1",
    ],
    "run_snapshot.py": [
        "status finished",
        "tool web_search",
        "subagent critic done: True",
        "long run: 5002 events, status finished, no text kept",
    ],
    "pagination.py": [
        "has_more=True",
        "iter(size=2) found 5 of ours",
        'assistant: You said: "message 3"',
        "iter_messages(size=2) yielded 6 messages",
    ],
    "sync_client.py": [
        "[approval needed: ",
        "was approved",
        "[run run_",
        "iter(size=1) found ['Sync client']",
        'complete: You said: "Summarise this"',
    ],
    "error_handling.py": [
        "NotFoundError: HTTP 404",
        "error_code=agent_failure",
        "APITimeoutError:",
    ],
    "tracing_opentelemetry.py": [
        'reply: You said: "Tidy up',
        "handle request [INTERNAL]",
        "  invoke_agent [CLIENT]",
        "finished",
        "* llmrix.hitl.interrupt llmrix.hitl.action_names=('dangerous_action',)",
        "* llmrix.hitl.decision llmrix.hitl.decision=approve",
        "    execute_tool web_search [INTERNAL]",
        "    invoke_agent critic [INTERNAL]",
        "    execute_tool dangerous_action [INTERNAL]",
        "metric gen_ai.client.operation.duration: 1 series",
    ],
}


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as server:
        yield server


async def run_example(name: str, base_url: str) -> tuple[int, str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LLMRIX_")}
    env["LLMRIX_BASE_URL"] = base_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(EXAMPLES / name),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.communicate()
        pytest.fail(f"{name} did not finish within {TIMEOUT} s")
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def test_every_example_is_tested() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_example_runs(server: DevServer, name: str) -> None:
    code, stdout, stderr = await run_example(name, server.base_url)
    assert code == 0, f"{name} exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    for expected in EXPECTED[name]:
        assert expected in stdout, f"{expected!r} missing from {name}'s output:\n{stdout}"
    assert "Warning" not in stderr, stderr
