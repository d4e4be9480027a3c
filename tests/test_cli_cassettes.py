"""``llmrix serve --replay`` (driven by our SDK and by the official one) and ``llmrix record``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from test_cli import run_cli, served
from test_official_client import DRIVER, DRIVER_TIMEOUT, official_sdk, results_of

from llmrix import APIError, HitlDecision, HitlInterruptEvent, LlmrixClient
from llmrix.devserver import DevServer
from llmrix.testing import Recorder, load

__all__ = ["official_sdk"]

KEY = "sk-cli-cassette-secret"


async def approve_turn(base_url: str, decision: HitlDecision) -> list[str]:
    async with LlmrixClient(base_url) as client:
        conversation = await client.conversations.create("llmrix chat")
        seen = []
        async with client.chat(conversation.id).stream("/hitl wipe it") as stream:
            async for event in stream:
                seen.append(type(event).__name__)
                if isinstance(event, HitlInterruptEvent):
                    await stream.decide([decision])
        return seen


async def test_serve_replay_answers_strictly_and_starts_over(tmp_path: Path) -> None:
    cassette = tmp_path / "turn.jsonl"
    async with DevServer(api_key=KEY) as dev, Recorder(dev.base_url, api_key=KEY) as recorder:
        recorded = await approve_turn(recorder.base_url, HitlDecision.approve())
    recorder.save(cassette)
    async with served("--replay", str(cassette)) as (process, url):
        assert await approve_turn(url, HitlDecision.approve()) == recorded
        assert await approve_turn(url, HitlDecision.approve()) == recorded
        with pytest.raises(APIError, match="cassette mismatch") as caught:
            await approve_turn(url, HitlDecision.reject("no"))
        assert caught.value.status_code == 409
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert '"decision": "reject",' in err.decode() and "Traceback" not in err.decode()


async def test_serve_replay_refuses_a_missing_file_and_a_bad_speed(tmp_path: Path) -> None:
    code, _, err = await run_cli("serve", "--replay", str(tmp_path / "nope.jsonl"))
    assert code == 1 and "no cassette file" in err
    (tmp_path / "bad.jsonl").write_text("{}\n")
    code, _, err = await run_cli("serve", "--port", "0", "--replay", str(tmp_path / "bad.jsonl"))
    assert code == 1 and "not an llmrix cassette" in err
    code, _, err = await run_cli(
        "serve", "--replay", str(tmp_path / "bad.jsonl"), "--replay-speed", "0"
    )
    assert code == 1 and "--replay-speed must be a positive number" in err


async def official(sdk: Path, base_url: str, cwd: Path, *scenarios: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=str(sdk), PYTHONIOENCODING="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-s",
        str(DRIVER),
        base_url,
        *scenarios,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), DRIVER_TIMEOUT)
    assert proc.returncode == 0, err.decode()
    return results_of(json.loads(out), sdk, cwd)


@pytest.mark.official
async def test_serve_replay_driven_by_the_official_sdk(official_sdk: Path, tmp_path: Path) -> None:
    scenarios = ("chat_plain", "chat_tool", "chat_hitl", "chat_stop", "messages")
    cassette = tmp_path / "official.jsonl"
    async with DevServer(heartbeat_interval=0.1) as dev, Recorder(dev.base_url) as recorder:
        recorded = await official(official_sdk, recorder.base_url, tmp_path, *scenarios)
    recorder.save(cassette)
    hitl = next(e for e in load(cassette).exchanges if "actions" in e)
    assert hitl["actions"][0]["request"]["path"].endswith("/chat/hitl/decide")
    async with served("--replay", str(cassette)) as (process, url):
        replayed = await official(official_sdk, url, tmp_path, *scenarios)
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert err.decode().strip() == "", "the replay reported differences"
    for name in scenarios:
        assert json.dumps(replayed[name], indent=1) == json.dumps(recorded[name], indent=1)
    assert "approved and ran" in replayed["chat_hitl"]["text"]
    assert replayed["chat_stop"]["cancelled"] == 1


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
async def test_record_a_turn_from_the_terminal(tmp_path: Path) -> None:
    from _terminal import Terminal

    cassette = tmp_path / "cassettes" / "wipe.jsonl"
    async with DevServer(api_key=KEY) as dev:
        term = Terminal(
            "record", "--out", str(cassette), "--base-url", dev.base_url, "/hitl wipe it",
            env={"LLMRIX_API_KEY": KEY},
        )  # fmt: skip
        try:
            end = await term.expect("Approve? [y/n] ")
            term.send("y\r")
            end = await term.expect("was approved and ran", after=end)
            await term.expect(f"recorded 3 requests to {cassette}", after=end)
            assert await term.wait() == 0
        finally:
            term.close()
    assert KEY not in cassette.read_text()
    async with served("--replay", str(cassette)) as (process, url):
        assert (await approve_turn(url, HitlDecision.approve()))[-1] == "RunEndEvent"
        process.terminate()
        await process.wait()
