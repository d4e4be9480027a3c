"""The loop the SDK makes: uvloop when installed, asyncio when told; and the suite's own loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import uvloop

from llmrix import LlmrixError, sync
from llmrix._loop import LOOP_ENV, EventLoopChoice, loop_factory, run
from llmrix.devserver import DevServer


def _kind(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if isinstance(loop, uvloop.Loop) else "asyncio"


def _expected(choice: str, suite_loop: str) -> str:
    """``"asyncio"`` leaves the choice to asyncio, which follows the suite's loop policy."""
    return suite_loop if choice == "asyncio" else choice


async def _running_kind() -> str:
    return _kind(asyncio.get_running_loop())


@pytest.fixture
def suite_loop(request: pytest.FixtureRequest) -> str:
    choice: str = request.config.getoption("--event-loop")
    return choice


@pytest.fixture
def no_loop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOOP_ENV, raising=False)


async def test_async_tests_run_on_the_loop_the_suite_was_asked_for(suite_loop: str) -> None:
    assert await _running_kind() == suite_loop
    assert os.environ[LOOP_ENV] == suite_loop


def test_asyncio_run_and_sync_clients_follow_the_suite(suite_loop: str) -> None:
    assert asyncio.run(_running_kind()) == suite_loop
    with sync.LlmrixClient("http://127.0.0.1:9") as client:
        assert _kind(client._portal.core.loop) == suite_loop


@pytest.mark.usefixtures("no_loop_env")
def test_auto_means_uvloop_when_it_is_installed(suite_loop: str) -> None:
    assert loop_factory() is uvloop.new_event_loop
    assert loop_factory("asyncio") is asyncio.new_event_loop
    assert run(_running_kind()) == "uvloop"
    assert run(_running_kind(), "asyncio") == suite_loop


@pytest.mark.parametrize("variable", ["asyncio", "uvloop"])
def test_the_environment_variable_decides_what_auto_means(
    monkeypatch: pytest.MonkeyPatch, variable: str, suite_loop: str
) -> None:
    monkeypatch.setenv(LOOP_ENV, variable)
    assert run(_running_kind()) == _expected(variable, suite_loop)
    assert run(_running_kind(), "uvloop") == "uvloop"
    assert run(_running_kind(), "asyncio") == suite_loop


def test_bad_choices_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="event loop must be one of auto, asyncio, uvloop"):
        loop_factory("trio")  # type: ignore[arg-type]
    monkeypatch.setenv(LOOP_ENV, "tokio")
    with pytest.raises(ValueError, match=f"{LOOP_ENV} must be one of .* not 'tokio'"):
        loop_factory()
    with pytest.raises(ValueError, match="not 'tokio'"):
        sync.LlmrixClient("http://127.0.0.1:9")


@pytest.mark.usefixtures("no_loop_env")
def test_without_uvloop_auto_falls_back_and_asking_for_it_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert loop_factory() is asyncio.new_event_loop
    with pytest.raises(LlmrixError, match=r"pip install 'llmrix\[speed\]'"):
        loop_factory("uvloop")
    with pytest.raises(LlmrixError, match="uvloop is not installed"):
        sync.LlmrixClient("http://127.0.0.1:9", event_loop="uvloop")


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
async def test_the_sync_client_streams_on_either_loop(
    choice: EventLoopChoice, suite_loop: str
) -> None:
    async with DevServer() as server:
        conversation = server.seed_conversation("loops").id

        def talk() -> tuple[str, str]:
            with sync.LlmrixClient(server.base_url, event_loop=choice) as client:
                return _kind(client._portal.core.loop), client.chat(conversation).complete_text(
                    "hi"
                )

        kind, text = await asyncio.to_thread(talk)
    assert kind == _expected(choice, suite_loop)
    assert text == 'You said: "hi"'


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_the_commands_make_their_loop_through_the_choice(command: str) -> None:
    """A bad ``LLMRIX_EVENT_LOOP`` is refused by name: the command asked which loop to make."""
    env = {**os.environ, LOOP_ENV: "bogus"}
    options = ["--port", "0"] if command == "serve" else []
    argv = [sys.executable, "-m", "llmrix", command, *options]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert f"llmrix: error: {LOOP_ENV} must be one of auto, asyncio, uvloop" in done.stderr
