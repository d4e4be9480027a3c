"""The benchmark suites run (tiny sizes, no timing assertions), so CI keeps them working."""

from __future__ import annotations

import asyncio
import glob
import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import concurrency, decode, e2e, latency, memory
from benchmarks.__main__ import main
from benchmarks._harness import SUITES, Config, Row, load_suite
from benchmarks._servers import dev_server_process, page_size, replay_server_process
from benchmarks.corpus import official_sdk_path
from benchmarks.official import OfficialSDKMissing, install_official

pytestmark = pytest.mark.benchmark_smoke

QUICK = Config(quick=True, repeats=1)


def _children() -> set[int] | None:
    """Pids of this process's children, where ``/proc`` lists them."""
    paths = glob.glob(f"/proc/{os.getpid()}/task/*/children")
    if not paths:
        return None
    pids: set[int] = set()
    for path in paths:
        try:
            with open(path) as file:
                pids.update(int(pid) for pid in file.read().split())
        except OSError:
            continue
    return pids


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    before = _children()
    yield
    after = _children()
    if before is not None and after is not None:
        assert after <= before, f"child processes left running: {sorted(after - before)}"


def _third_party_reason() -> str | None:
    if importlib.util.find_spec("httpx_sse") is None:
        return "httpx-sse not installed (pip install -e '.[bench]')"
    if official_sdk_path() is None:
        try:
            install_official(timeout=120)
        except OfficialSDKMissing as exc:
            return f"official llmrix-python-sdk unavailable: {exc}"
    return None


def _rows(rows: list[Row], case: str) -> dict[str, Row]:
    return {row.subject: row for row in rows if row.case == case}


def test_our_routes_yield_every_event_under_any_chunking() -> None:
    for stream in (decode.server_stream(3, 250), decode.irregular_stream(3, 250)):
        for size in (1, 7, 4096, 1 << 20):
            chunks = decode.chunked(stream.data, size)
            assert decode.ours(chunks) == stream.events, (stream.label, size)
        assert decode.ours(decode.frame_chunks(stream.data)) == stream.events, stream.label
        assert decode.ours(decode.random_sized(stream.data, 3)) == stream.events, stream.label


def test_decode_suite_runs_and_reports_every_subject() -> None:
    result = load_suite("decode")(QUICK)
    assert result.name == "decode" and "decode" in SUITES
    cases = sorted({row.case for row in result.rows})
    assert len(cases) == 6
    for case in cases:
        rows = _rows(result.rows, case)
        assert list(rows) == list(decode.SUBJECTS)
        for name in (decode.OURS, decode.FLOOR, decode.FLOOR2):
            assert rows[name].skipped is None
            assert rows[name].metrics["events_per_s"] > 0
            assert rows[name].metrics["x_floor_lo"] <= rows[name].metrics["x_floor"]
        assert rows[decode.FLOOR].metrics["x_floor"] == 1.0
        for name in (decode.OFFICIAL, decode.HTTPX_SSE):
            assert rows[name].skipped or rows[name].metrics["events"] > 0


def test_third_party_subjects_are_measured() -> None:
    reason = _third_party_reason()
    if reason:
        pytest.skip(reason)
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


def test_every_suite_is_registered() -> None:
    assert {"decode", "e2e", "latency", "memory", "concurrency", "probe"} <= set(SUITES)


def test_server_processes_serve_and_stop() -> None:
    from llmrix import LlmrixClient

    async def count(base_url: str, conversation: str | None) -> int:
        async with LlmrixClient(base_url) as client:
            if conversation is None:
                conversation = (await client.conversations.create("smoke")).id
            return await e2e.ours_once(client, conversation, "/long 250")

    pids = []
    with dev_server_process() as dev, replay_server_process(250) as replay:
        for server in (dev, replay):
            assert server.base_url.startswith("http://127.0.0.1:")
            pids.append(server.pid)
        assert asyncio.run(count(dev.base_url, None)) == 252
        assert asyncio.run(count(replay.base_url, "any")) == 252
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_e2e_suite_runs_every_case() -> None:
    result = load_suite("e2e")(QUICK)
    cases = {row.case for row in result.rows}
    network = {e2e.DEV_PROCESS, e2e.REPLAY_PROCESS, e2e.IN_PROCESS}
    assert cases == {*network, e2e.SNAPSHOT_CASE}
    for case in network:
        rows = _rows(result.rows, case)
        assert list(rows) == list(e2e.SUBJECTS)
        ours = rows[e2e.OURS]
        assert ours.skipped is None and rows[e2e.OURS_BATCHES].skipped is None
        assert ours.metrics["events"] == result.params["events"]
        assert ours.metrics["events_per_s"] > 0 and ours.metrics["x_ours"] == 1.0
    snapshot_rows = _rows(result.rows, e2e.SNAPSHOT_CASE)
    assert list(snapshot_rows) == [e2e.DECODE_ONLY, e2e.WITH_SNAPSHOT, e2e.WITH_SNAPSHOT_NO_TEXT]
    assert all(row.metrics["ns_per_event"] > 0 for row in snapshot_rows.values())
    assert snapshot_rows[e2e.DECODE_ONLY].metrics["overhead_pct"] == 0
    if _third_party_reason() is None:
        network_rows = [row for row in result.rows if row.case in network]
        assert all(row.skipped is None for row in network_rows)
        assert all(row.metrics["x_official"] > 0 for row in network_rows)


def test_latency_suite_delivers_every_held_back_event() -> None:
    result = load_suite("latency")(QUICK)
    rows = {row.subject: row for row in result.rows}
    assert list(rows) == [latency.OURS, latency.HTTPX_SSE, latency.OFFICIAL]
    ours = rows[latency.OURS]
    assert ours.metrics["errors"] == 0 and ours.metrics["events"] == 100
    assert 0 < ours.metrics["median_us"] <= ours.metrics["p99_us"] <= ours.metrics["max_us"]
    if _third_party_reason() is None:
        for row in rows.values():
            assert row.skipped is None and row.metrics["errors"] == 0, row


def test_memory_suite_reports_rss() -> None:
    if page_size() is None:
        pytest.skip("the memory suite reads /proc/self/statm (Linux only)")
    result = load_suite("memory")(QUICK)
    assert [row.subject for row in result.rows] == [
        f"{memory.OURS}, keep_text=False",
        f"{memory.OURS}, keep_text=True",
    ]
    assert result.rows[0].metrics["text_mb"] == 0
    assert result.rows[1].metrics["text_mb"] * 1e6 == 6 * result.params["n_chunks"]
    for row in result.rows:
        assert row.metrics["events"] == result.params["n_chunks"] + 2
        assert row.metrics["bytes"] >= 20 << 20
        assert 0 < row.metrics["baseline_mb"] <= row.metrics["peak_mb"]
        assert row.metrics["delta_mb"] == pytest.approx(
            row.metrics["peak_mb"] - row.metrics["baseline_mb"]
        )


def test_concurrency_suite_runs_every_subject_at_every_count() -> None:
    result = load_suite("concurrency")(QUICK)
    counts = result.params["counts"]
    assert counts == [1, 10, 50]
    rows = {(row.subject, row.case): row for row in result.rows}
    official_reason = _third_party_reason()
    for subject in concurrency.SUBJECTS:
        for streams in counts:
            row = rows[(subject, f"{streams:,} streams")]
            if subject == concurrency.OFFICIAL_THREADS and official_reason:
                assert row.skipped
                continue
            assert row.skipped is None, row.skipped
            m = row.metrics
            assert m["events"] == streams * result.params["frames"][streams]
            assert m["errors"] == 0 and m["left"] == 0, m
            assert m["cpu_us_per_event"] > 0 and m["kb_per_stream"] > 0
            assert 0 < m["delay_p50_us"] <= m["delay_p99_us"] <= m["delay_max_us"]
            assert m["x_one_stream"] > 0
    assert rows[(concurrency.ASYNCIO, "1 streams")].metrics["x_less_than_asyncio"] == 1.0
    assert rows[(concurrency.UVLOOP, "50 streams")].metrics["x_less_than_asyncio"] > 0
    assert any("uvloop's CPU per event" in note for note in result.notes)


def test_probe_sees_big_reads_at_full_speed_and_one_frame_when_paced() -> None:
    rows = load_suite("probe")(QUICK).rows
    full, paced = (row.metrics for row in rows)
    assert full["reads"] >= 1 and full["frames_per_read"] > 1
    assert paced["reads"] > 10 and paced["one_frame_pct"] > 50
