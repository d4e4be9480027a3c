"""The benchmark suites run (tiny sizes, no timing assertions), so CI keeps them working."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks import decode
from benchmarks.__main__ import main
from benchmarks._harness import SUITES, Config, Row, load_suite
from benchmarks.corpus import official_sdk_path

QUICK = Config(quick=True, repeats=1)


def _rows(rows: list[Row], case: str) -> dict[str, Row]:
    return {row.subject: row for row in rows if row.case == case}


def test_our_routes_yield_every_event_under_any_chunking() -> None:
    for stream in (decode.server_stream(3, 250), decode.irregular_stream(3, 250)):
        for size in (1, 7, 4096, 1 << 20):
            chunks = decode.chunked(stream.data, size)
            assert decode.ours(chunks) == stream.events, (stream.label, size)
            assert decode.ours_per_frame(chunks) == stream.events, (stream.label, size)


def test_decode_suite_runs_and_reports_every_subject() -> None:
    result = load_suite("decode")(QUICK)
    assert result.name == "decode" and "decode" in SUITES
    cases = sorted({row.case for row in result.rows})
    assert len(cases) == 3
    for case in cases:
        rows = _rows(result.rows, case)
        assert list(rows) == [
            decode.OURS,
            decode.PER_FRAME,
            decode.OFFICIAL,
            decode.HTTPX_SSE,
            decode.FLOOR,
        ]
        for name in (decode.OURS, decode.PER_FRAME, decode.FLOOR):
            assert rows[name].skipped is None
            assert rows[name].metrics["events_per_s"] > 0
        assert rows[decode.OURS].metrics["x_ours"] == 1.0
        assert rows[decode.FLOOR].metrics["x_floor"] == 1.0
        for name in (decode.OFFICIAL, decode.HTTPX_SSE):
            assert rows[name].skipped or rows[name].metrics["events"] > 0


def test_third_party_subjects_are_measured() -> None:
    if importlib.util.find_spec("httpx_sse") is None:
        pytest.skip("httpx-sse not installed (pip install -e '.[bench]')")
    if official_sdk_path() is None:
        pytest.skip("official llmrix-python-sdk not in .official-sdk (see benchmarks/official.py)")
    rows = load_suite("decode")(QUICK).rows
    for row in rows:
        assert row.skipped is None, (row.subject, row.skipped)
    for case in {row.case for row in rows}:
        subjects = _rows(rows, case)
        expected = subjects[decode.OURS].metrics["events"]
        assert subjects[decode.HTTPX_SSE].metrics["events"] == expected
        assert 0 < subjects[decode.OFFICIAL].metrics["events"] <= expected


def test_cli_prints_one_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--repeats", "1", "--only", "decode", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split()[:3] == ["suite", "case", "subject"]
    assert "llmrix" in printed and "floor (msgspec only)" in printed
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["config"]["quick"] is True
    assert document["suites"]["decode"]["rows"]


def test_cli_rejects_an_unknown_suite(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--quick", "--only", "nope"])
    assert "unknown suite" in capsys.readouterr().err
