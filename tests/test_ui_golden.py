"""Golden tests of the browser relays: every event kind, both wire shapes, both protocols.

Each upstream script (tests/_ui_support.py) is played by a real loopback
server, read by a real client and relayed; the relay's SSE ``data:`` payloads
must equal the reviewed golden file tests/ui_golden/<protocol>-<script>.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _support import ServeApp
from _ui_support import SCRIPTS, UpstreamApp, relayed, sse_data

GOLDEN = Path(__file__).parent / "ui_golden"
REWRITE = os.environ.get("LLMRIX_REWRITE_GOLDEN") == "1"


@pytest.mark.parametrize("protocol", ["agui", "vercel"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
async def test_relay_matches_golden(serve: ServeApp, script: str, protocol: str) -> None:
    base_url = await serve(UpstreamApp().build())
    raw = await relayed(base_url, script, protocol)
    assert raw.endswith(b"\n\n")
    assert b": " not in raw.split(b"\n\n")[0][:2]  # keep-alives are never forwarded
    got = sse_data(raw)
    path = GOLDEN / f"{protocol}-{script}.json"
    if REWRITE:
        path.write_text(json.dumps(got, indent=1) + "\n")
    assert got == json.loads(path.read_text())


def test_every_script_has_both_goldens() -> None:
    names = {path.name for path in GOLDEN.glob("*.json")}
    assert names == {f"{p}-{s}.json" for p in ("agui", "vercel") for s in SCRIPTS}
