"""pytest plugin: a dev server, clients bound to it, and record/replay cassettes.

Registered through the ``pytest11`` entry point, so installing ``llmrix[pytest]``
(pytest and pytest-asyncio) is enough, plus this in ``pyproject.toml``::

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "function"

Then::

    async def test_reply(llmrix_client):
        conversation = await llmrix_client.conversations.create("t")
        assert "hi" in await llmrix_client.chat(conversation.id).complete_text("hi")

The server binds 127.0.0.1 on a free port; heartbeats come every 0.5 s so tests
see them without waiting. ``llmrix_server.play(Script()...)`` scripts the next run.

A test marked ``@pytest.mark.llmrix_cassette`` (optionally with a name, ``redact=``
and ``speed=``) gets ``llmrix_client`` and ``llmrix_sync_client`` bound to a cassette
at ``cassettes/<module>/<test>.jsonl`` beside the test file: replayed, or recorded
against ``LLMRIX_BASE_URL`` with ``LLMRIX_API_KEY`` as ``--llmrix-record`` says
(``none``, the default: replay only; ``once``: record what is missing; ``all``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from ._client import LlmrixClient
from .devserver import DevServer
from .sync import LlmrixClient as SyncLlmrixClient
from .testing._session import RECORD_MODES, CassetteSession, ServerThread, use_cassette

F = TypeVar("F", bound=Callable[..., Any])
MISSING_ASYNCIO = (
    "llmrix's pytest fixtures are async and need pytest-asyncio: install the pytest extra,"
    " pip install 'llmrix[pytest]' (from a checkout of llmrix: pip install '.[pytest]')"
)
MARKER = "llmrix_cassette"
CASSETTE_DIR = "cassettes"
_CALL_FAILED = pytest.StashKey[bool]()

_async_fixture: Callable[[Any], Any] | None
try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - depends on the user's environment
    _async_fixture = None


def _fixture(func: F) -> F:
    if _async_fixture is not None:
        return cast(F, _async_fixture(func))

    def unavailable() -> None:  # pragma: no cover - depends on the user's environment
        pytest.fail(MISSING_ASYNCIO, pytrace=False)

    unavailable.__name__ = func.__name__
    unavailable.__doc__ = func.__doc__
    return cast(F, pytest.fixture(name=func.__name__)(unavailable))


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--llmrix-record``."""
    parser.getgroup("llmrix").addoption(
        "--llmrix-record",
        choices=RECORD_MODES,
        default="none",
        help="cassettes of tests marked llmrix_cassette: 'none' replays only (default),"
        " 'once' records the missing ones, 'all' records every one again"
        " (recording talks to LLMRIX_BASE_URL with LLMRIX_API_KEY)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(name=None, *, redact=None, speed=None): llmrix_client and"
        " llmrix_sync_client record or replay cassettes/<module>/<name or test>.jsonl",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Note whether the test body failed (a failed recording is not written)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed


def cassette_path(node: pytest.Item, name: str | None = None) -> Path:
    """Where a test's cassette lives: ``cassettes/<module>/<name or test>.jsonl``."""
    stem = name or re.sub(r"[^\w.-]+", "_", node.name)
    if not stem.endswith(".jsonl"):
        stem += ".jsonl"
    return node.path.parent / CASSETTE_DIR / node.path.stem / stem


@pytest.fixture
def llmrix_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteSession | None]:
    """The cassette of a test marked ``llmrix_cassette`` (``None`` when unmarked)."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        yield None
        return
    node = cast(pytest.Item, request.node)
    path = cassette_path(node, *marker.args[:1])
    mode = request.config.getoption("llmrix_record")
    options = {key: marker.kwargs[key] for key in ("redact", "speed") if key in marker.kwargs}
    try:
        with use_cassette(path, record=mode, **options) as session:
            yield session
            if node.stash.get(_CALL_FAILED, False):
                session.discard()
    except FileNotFoundError:
        pytest.fail(
            f"no cassette {path} for {node.nodeid}; record it against a server with\n"
            f"  LLMRIX_BASE_URL=<server url> LLMRIX_API_KEY=<key>"
            f" pytest --llmrix-record=once {node.nodeid}",
            pytrace=False,
        )
    except ValueError as exc:
        pytest.fail(f"{node.nodeid}: {exc}", pytrace=False)


@_fixture
async def llmrix_server() -> AsyncIterator[DevServer]:
    """A dev server on 127.0.0.1 for the duration of one test."""
    async with DevServer(heartbeat_interval=0.5) as server:
        yield server


@_fixture
async def llmrix_client(
    llmrix_server: DevServer, llmrix_cassette: CassetteSession | None
) -> AsyncIterator[LlmrixClient]:
    """An `llmrix.LlmrixClient` bound to ``llmrix_server``, or to the test's cassette."""
    if llmrix_cassette is not None:
        base_url, api_key = llmrix_cassette.base_url, None
    else:
        base_url, api_key = llmrix_server.base_url, llmrix_server.settings.api_key
    async with LlmrixClient(base_url, api_key=api_key) as client:
        yield client


@pytest.fixture
def llmrix_sync_client(
    llmrix_cassette: CassetteSession | None,
) -> Iterator[SyncLlmrixClient]:
    """A sync `llmrix.sync.LlmrixClient` bound to the test's cassette, else to a dev server.

    Without a cassette the dev server runs on a thread of its own for the test.
    """
    if llmrix_cassette is not None:
        with SyncLlmrixClient(llmrix_cassette.base_url) as client:
            yield client
        return
    thread = ServerThread()
    server = DevServer(heartbeat_interval=0.5)
    try:
        thread.call(server.start())
        with SyncLlmrixClient(server.base_url) as client:
            yield client
    finally:
        thread.call(server.stop())
        thread.close()
