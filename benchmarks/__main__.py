"""Run benchmark suites and print one table.

``python -m benchmarks [--quick] [--json PATH] [--only decode,...]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._harness import SUITES, Config, SuiteResult, load_suite, render_table


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _environment() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {name: _version(name) for name in ("llmrix", "msgspec", "httpx", "httpx-sse")},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected suites; print the table; optionally write every number as JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run llmrix benchmark suites and print one table."
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats (seconds)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--only",
        metavar="SUITES",
        help=f"comma-separated suites to run (default: all of {', '.join(SUITES)})",
    )
    parser.add_argument("--repeats", type=int, help="timed runs per subject (default per suite)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; known: {', '.join(SUITES)}")
    config = Config(quick=args.quick, repeats=args.repeats, seed=args.seed)

    started = time.perf_counter()
    results: list[SuiteResult] = [load_suite(name)(config) for name in names]
    print(render_table(results))
    print(f"({time.perf_counter() - started:.1f} s{', quick mode' if config.quick else ''})")
    if args.json is not None:
        document = {
            "config": asdict(config),
            "environment": _environment(),
            "suites": {result.name: asdict(result) for result in results},
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
