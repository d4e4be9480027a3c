"""Every Python block in README.md and docs/*.md runs, as written, against a dev server.

The convention, for whoever writes docs:

* A ```` ```python ```` block is a complete program. This test runs it in a fresh
  interpreter with warnings as errors, against a dev server it starts; the block must
  exit with status 0. ``http://127.0.0.1:8899`` and ``http://localhost:8899`` (the
  ``llmrix serve`` default) are replaced by that server's address. No ``LLMRIX_*``
  variable is set, so a block runs as printed against ``llmrix serve``: one that
  builds ``LlmrixClient()`` without a URL must set ``LLMRIX_BASE_URL`` itself.
* A block that is only a piece of a program (top-level ``await``, names defined
  elsewhere, a signature) is a fragment: put the line ``<!-- fragment -->`` right above
  its opening fence. Fragments are reported as skipped, one test each, and must still
  parse as Python (top-level ``await`` allowed), so ``16 MiB`` or a stray ``...`` where a
  value belongs cannot slip in.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmrix.devserver import DevServer

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FRAGMENT_MARK = "<!-- fragment -->"
DEFAULT_ADDRESSES = ("http://127.0.0.1:8899", "http://localhost:8899")
TIMEOUT = 60.0

_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Snippet:
    path: str
    line: int
    code: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"


def collect() -> list[Snippet]:
    snippets: list[Snippet] = []
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            snippets.append(
                Snippet(
                    path=source.relative_to(ROOT).as_posix(),
                    line=text.count("\n", 0, match.start()) + 1,
                    code=match.group(1),
                    fragment=before.strip() == FRAGMENT_MARK,
                )
            )
    return snippets


SNIPPETS = collect()


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(heartbeat_interval=0.5, slow_delay=0.02) as server:
        yield server


def test_the_docs_have_runnable_snippets() -> None:
    complete = [s for s in SNIPPETS if not s.fragment]
    assert len(complete) >= 10, [s.name for s in complete]
    assert {s.path for s in complete} >= {"README.md", "docs/getting-started.md"}


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.fragment], ids=lambda s: s.name)
def test_fragment_parses(snippet: Snippet) -> None:
    ast.parse(snippet.code, filename=snippet.name)
    pytest.skip(f"fragment ({FRAGMENT_MARK}): parsed, not run")


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if not s.fragment], ids=lambda s: s.name)
async def test_snippet_runs(snippet: Snippet, server: DevServer, tmp_path: Path) -> None:
    code = snippet.code
    for address in DEFAULT_ADDRESSES:
        code = code.replace(address, server.base_url)
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMRIX_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(script),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.communicate()
        pytest.fail(f"{snippet.name} did not finish within {TIMEOUT} s")
    assert process.returncode == 0, (
        f"{snippet.name} (mark it {FRAGMENT_MARK} if it is not a whole program) exited"
        f" {process.returncode}\n--- code\n{snippet.code}\n--- stdout\n{out.decode()}"
        f"\n--- stderr\n{err.decode()}"
    )
