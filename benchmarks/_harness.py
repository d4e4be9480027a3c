"""Plumbing shared by the benchmark suites: configuration, result rows, timing, the table.

A suite is a module listed in `SUITES` with a ``run(config: Config) -> SuiteResult``
function. Suites are imported only when selected, so one whose optional
dependencies are missing never gets in the way of the others.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "SUITES",
    "Column",
    "Config",
    "Row",
    "SuiteResult",
    "Timing",
    "load_suite",
    "render_table",
    "time_round_robin",
]

SUITES: dict[str, str] = {
    "decode": "benchmarks.decode",
    "e2e": "benchmarks.e2e",
    "latency": "benchmarks.latency",
    "memory": "benchmarks.memory",
    "concurrency": "benchmarks.concurrency",
    "probe": "benchmarks.probe",
    "otel": "benchmarks.otel",
}
"""Suite name -> module; a new suite adds one line."""

T = TypeVar("T")


OURS = "llmrix"
"""Subject name of this SDK in every suite."""
OURS_SYNC = "llmrix sync"
"""Subject name of this SDK's blocking client (``llmrix.sync``)."""
OFFICIAL = "official 1.0.0"
"""Subject name of the official llmrix-python-sdk in every suite."""


@dataclass(frozen=True)
class Config:
    """What the command line asked for."""

    quick: bool = False
    repeats: int | None = None
    seed: int = 1

    def pick(self, full: T, quick: T) -> T:
        """``quick`` in quick mode, else ``full``."""
        return quick if self.quick else full


@dataclass(frozen=True)
class Column:
    """A metric column: its key in `Row.metrics`, its header, its format spec."""

    key: str
    header: str
    fmt: str


@dataclass
class Row:
    """One measured (or skipped) subject in one case of one suite."""

    suite: str
    case: str
    subject: str
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None


@dataclass
class SuiteResult:
    """A suite's rows, its metric columns, notes to print under the table, its parameters."""

    name: str
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each run of one subject."""

    runs: tuple[float, ...]

    @property
    def best(self) -> float:
        """The fastest run."""
        return min(self.runs)

    @property
    def median(self) -> float:
        """The median run."""
        return statistics.median(self.runs)


def time_round_robin(
    subjects: Mapping[str, Callable[[], object]], repeats: int
) -> dict[str, Timing]:
    """Time each subject ``repeats`` times, interleaved so drift hits them all alike."""
    runs: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(repeats):
        for name, subject in subjects.items():
            gc.collect()
            start = time.perf_counter()
            subject()
            runs[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(times)) for name, times in runs.items()}


def load_suite(name: str) -> Callable[[Config], SuiteResult]:
    """The ``run`` function of a registered suite."""
    try:
        module_name = SUITES[name]
    except KeyError:
        raise ValueError(f"unknown suite {name!r}; known: {', '.join(SUITES)}") from None
    run: Callable[[Config], SuiteResult] = importlib.import_module(module_name).run
    return run


def render_table(results: Sequence[SuiteResult]) -> str:
    """All suites' rows as one aligned text table, followed by the suites' notes."""
    columns: list[Column] = []
    for result in results:
        columns += [c for c in result.columns if c.key not in {k.key for k in columns}]
    header = ["suite", "case", "subject", *(c.header for c in columns)]
    body: list[list[str]] = []
    for result in results:
        for row in result.rows:
            cells = [row.suite, row.case, row.subject]
            if row.skipped is not None:
                cells += [f"skipped: {row.skipped}"] + [""] * (len(columns) - 1)
            else:
                cells += [
                    format(row.metrics[c.key], c.fmt) if c.key in row.metrics else ""
                    for c in columns
                ]
            body.append(cells)
    widths = [len(h) for h in header]
    for cells in body:
        for i, cell in enumerate(cells[: len(header)]):
            if not (cells[3].startswith("skipped: ") and i == 3):
                widths[i] = max(widths[i], len(cell))
    text_columns = 3

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            if i < text_columns or cell.startswith("skipped: "):
                out.append(cell.ljust(widths[i]))
            else:
                out.append(cell.rjust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    lines += [line(cells) for cells in body]
    for result in results:
        lines += [f"[{result.name}] {note}" for note in result.notes]
    return "\n".join(lines)
