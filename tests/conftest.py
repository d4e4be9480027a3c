"""Shared fixtures: real aiohttp servers on 127.0.0.1 and clients bound to them."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from _support import ServeApp
from aiohttp import web

from llmrix import LlmrixClient
from llmrix._loop import LOOP_ENV


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--event-loop",
        choices=("asyncio", "uvloop"),
        default="uvloop" if os.environ.get(LOOP_ENV) == "uvloop" else "asyncio",
        help=f"the event loop every test runs on (default: asyncio, or {LOOP_ENV}=uvloop)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Run the whole suite on one kind of loop: pytest-asyncio's, ``asyncio.run``'s,
    the sync clients' loop threads and the ``llmrix`` subprocesses (through the
    environment variable, which they read)."""
    choice = config.getoption("--event-loop")
    os.environ[LOOP_ENV] = choice
    if choice == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


@pytest.fixture
async def serve() -> AsyncIterator[ServeApp]:
    """Start aiohttp apps on 127.0.0.1 (a free port each); returns their base URLs."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., LlmrixClient]]:
    """Build clients that are closed after the test."""
    clients: list[LlmrixClient] = []

    def make(base_url: str, **options: object) -> LlmrixClient:
        client = LlmrixClient(base_url, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    await asyncio.sleep(0)
    gc.collect()


UI_NODE_SOURCE = Path(__file__).parent / "ui_node"
UI_NODE_CACHE = Path(__file__).parent.parent / ".cache" / "ui-node"


@pytest.fixture(scope="session")
def ui_node() -> Path:
    """A folder with the protocols' npm packages and tests/ui_node/check_stream.mjs.

    Installed with npm on first use (the cache folder is ignored by git). Skipped,
    with a notice, only where node is not installed.
    """
    if shutil.which("node") is None:
        pytest.skip("NOTICE: node is not installed: the AI SDK and AG-UI npm checks did not run")
    npm = shutil.which("npm")
    assert npm is not None, "node is installed without npm: install npm to run the UI checks"
    UI_NODE_CACHE.mkdir(parents=True, exist_ok=True)
    wanted = (UI_NODE_SOURCE / "package.json").read_bytes()
    stamp = UI_NODE_CACHE / "installed-package.json"
    if not stamp.exists() or stamp.read_bytes() != wanted:
        (UI_NODE_CACHE / "package.json").write_bytes(wanted)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=UI_NODE_CACHE,
            check=True,
            timeout=600,
        )
        stamp.write_bytes(wanted)
    shutil.copy(UI_NODE_SOURCE / "check_stream.mjs", UI_NODE_CACHE / "check_stream.mjs")
    return UI_NODE_CACHE
