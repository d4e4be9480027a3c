"""mypy --strict and pyright see the sync client's real signatures and result types.

The sync methods are declared from the async ones (``blocking(twin(...).create)``);
this checks that a type checker gets the parameters and results through, so a
misspelt keyword or a wrong argument type is a type error for sync users too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from mypy import api

SNIPPET = """
from llmrix.sync import LlmrixClient

def use(client: LlmrixClient) -> None:
    conversation = client.conversations.create("t", agent_id=None)
    reveal_type(conversation)
    reveal_type(client.conversations.list(last_id=0, size=3))
    reveal_type(client.conversations.iter(size=2))
    reveal_type(client.agents.create("lead", type="team"))
    reveal_type(client.chat(conversation.id).complete("hi"))
    with client.chat(conversation.id).stream("hi", model="openai:gpt-4o") as stream:
        for event in stream:
            reveal_type(event)
        reveal_type(stream.final_text())
        reveal_type(stream.text_stream)
    client.conversations.create(title=1)
    client.conversations.get(1)
    client.chat("c").stream("hi", modle="x")
    client.cron.pause()
"""


def test_mypy_sees_the_async_signatures_through_the_sync_layer() -> None:
    out, err, status = api.run(["--strict", "--no-error-summary", "-c", SNIPPET])
    assert status == 1, err
    lines = out.splitlines()
    revealed = [
        re.sub(r".*Revealed type is |builtins\.|typing\.|collections\.abc\.", "", line)
        for line in lines
        if "Revealed" in line
    ]
    assert revealed == [
        '"llmrix.models.Conversation"',
        '"llmrix.models.PageResult[llmrix.models.Conversation]"',
        '"Iterator[llmrix.models.Conversation]"',
        '"llmrix.models.Agent"',
        '"llmrix.snapshot.RunSnapshot"',
        revealed[5],
        '"str"',
        '"Iterator[str]"',
    ]
    assert "RunStartEvent" in revealed[5] and "HitlInterruptEvent" in revealed[5]
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 4, out
    for line, expected in zip(
        errors, ('"title"', 'incompatible type "int"', '"modle"', "Too few arguments"), strict=True
    ):
        assert expected in line, line


def test_pyright_sees_the_async_signatures_through_the_sync_layer(tmp_path: Path) -> None:
    snippet = tmp_path / "use_sync.py"
    snippet.write_text(SNIPPET)
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""))
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", str(snippet)],
        capture_output=True,
        env=env,
        timeout=100,
        check=False,
    )
    report = json.loads(done.stdout)["generalDiagnostics"]
    revealed = [
        re.sub(r'^Type of ".*" is ', "", item["message"])
        for item in report
        if item["severity"] == "information"
    ]
    assert revealed == [
        '"Conversation"',
        '"PageResult[Conversation]"',
        '"Iterator[Conversation]"',
        '"Agent"',
        '"RunSnapshot"',
        revealed[5],
        '"str"',
        '"Iterator[str]"',
    ]
    assert "RunStartEvent" in revealed[5] and "HitlInterruptEvent" in revealed[5]
    errors = [item["message"] for item in report if item["severity"] == "error"]
    for message, expected in zip(
        errors, ('"title"', '"conversation_id"', '"modle"', '"task_id"'), strict=True
    ):
        assert expected in message, message
