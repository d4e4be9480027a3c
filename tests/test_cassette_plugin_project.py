"""The ``llmrix_cassette`` marker in a fresh project under ``-W error``: record, then replay."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from llmrix.devserver import DevServer

KEY = "sk-fresh-project-4242-secret"
TIMEOUT = 120.0

PYPROJECT = """\
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""

TESTS = """\
import pytest

from llmrix import HitlDecision, HitlInterruptEvent, MessageChunkEvent


@pytest.mark.llmrix_cassette
async def test_async_turn_with_an_approval(llmrix_client):
    conversation = await llmrix_client.conversations.create("fresh")
    text = ""
    async with llmrix_client.chat(conversation.id).stream("/hitl clean up") as stream:
        async for event in stream:
            if isinstance(event, HitlInterruptEvent):
                await stream.decide([HitlDecision.DECISION()])
            elif isinstance(event, MessageChunkEvent):
                text += event.content
    assert "dangerous_action" in text


def hide_title(exchange):
    for part in (exchange["request"], exchange.get("response", {})):
        body = part.get("json")
        if isinstance(body, dict) and body.get("title") == "fresh sync":
            body["title"] = "<title>"
    return exchange


@pytest.mark.llmrix_cassette("sync-turn", redact=hide_title)
def test_sync_turn(llmrix_sync_client):
    conversation = llmrix_sync_client.conversations.create("fresh sync")
    chat = llmrix_sync_client.chat(conversation.id)
    assert chat.complete_text("hello") == 'You said: "hello"'


def test_unmarked_sync_client_gets_a_dev_server(llmrix_sync_client):
    conversation = llmrix_sync_client.conversations.create("plain")
    assert "hi" in llmrix_sync_client.chat(conversation.id).complete_text("hi")
"""


async def run_pytest(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LLMRIX_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-W",
        "error",
        "-p",
        "no:cacheprovider",
        "-q",
        *args,
        cwd=project,
        env={**clean, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def write_project(project: Path, decision: str = "approve") -> Path:
    (project / "pyproject.toml").write_text(PYPROJECT)
    tests = project / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "test_agent.py").write_text(TESTS.replace("DECISION", decision))
    return tests / "cassettes" / "test_agent"


async def test_a_fresh_project_records_then_replays(tmp_path: Path) -> None:
    cassettes = write_project(tmp_path)
    code, out = await run_pytest(tmp_path)
    assert code != 0, out
    assert "no cassette" in out and "--llmrix-record=once" in out
    assert "tests/test_agent.py::test_async_turn_with_an_approval" in out

    async with DevServer(api_key=KEY) as server:
        env = {"LLMRIX_BASE_URL": server.base_url, "LLMRIX_API_KEY": KEY}
        code, out = await run_pytest(tmp_path, "--llmrix-record=once", env=env)
        assert code == 0, out
        assert re.search(r"\b3 passed\b", out), out
        recorded = sorted(p.name for p in cassettes.iterdir())
        assert recorded == ["sync-turn.jsonl", "test_async_turn_with_an_approval.jsonl"]
        requests_seen = len(server.requests)
        code, out = await run_pytest(tmp_path, "--llmrix-record=once", env=env)
        assert code == 0, out
        assert len(server.requests) == requests_seen, "once must not record again"
    for cassette in cassettes.iterdir():
        text = cassette.read_text()
        assert KEY not in text and "uthorization" not in text
        assert "fresh sync" not in text
    assert '"title": "<title>"' in (cassettes / "sync-turn.jsonl").read_text()

    code, out = await run_pytest(tmp_path)
    assert code == 0, out
    assert re.search(r"\b3 passed\b", out) and "warning" not in out.lower(), out

    write_project(tmp_path, decision="reject")
    code, out = await run_pytest(tmp_path)
    assert code != 0
    assert "llmrix cassette mismatch" in out and '"decision": "reject"' in out, out
    assert re.search(r"\b1 failed\b", out) and re.search(r"\b2 passed\b", out), out
