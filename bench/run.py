"""Runs the benchmarks — all of them, or those named — each against a real server process,
and prints one table of every goal beside its result (also written to
bench/results/summary.json).

    python bench/run.py [NAME ...] [--quick] [--db sqlite|postgresql+asyncpg://...]
                        [--agents 1,10,50,200] [--rows 1000,10000,100000] [--clients 200]
                        [--seconds S] [--samples N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from common import RESULTS, Row

BENCHMARKS = (
    "validate",
    "pickup",
    "workflow_latency",
    "pipeline",
    "describe",
    "throughput",
    "agents_idle",
    "logs",
    "list_latency",
    "load",
    "artifacts",
    "cache",
    "hooks",
    "ui_pages",
)


def sizes(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers"
        ) from None


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: all in under a minute (CI)"
    )
    parser.add_argument(
        "--db",
        default="sqlite",
        help="sqlite, or a postgresql+asyncpg:// URL (a fresh database is made on that server)",
    )
    parser.add_argument(
        "--agents", type=sizes, help="agent counts (pickup, throughput, agents_idle)"
    )
    parser.add_argument("--rows", type=sizes, help="history sizes (list_latency)")
    parser.add_argument("--clients", type=int, help="concurrent API clients (load)")
    parser.add_argument(
        "--seconds", type=float, help="measuring time where a benchmark runs for a time"
    )
    parser.add_argument("--samples", type=int, help="repetitions where a benchmark repeats")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}")
    return args


def main(argv: list[str]) -> None:
    args = options(argv)
    table: list[tuple[str, Row]] = []
    for name in args.names or BENCHMARKS:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        rows = importlib.import_module(name).run(args)
        table += [(name, row) for row in rows]
        print(f"   ({time.monotonic() - started:.1f} s)\n", flush=True)
    print(f"| {'benchmark':<16} | {'measure':<44} | {'goal':>8} | {'result':>14} |")
    print(f"|{'-' * 18}|{'-' * 46}|{'-' * 10}|{'-' * 16}|")
    for name, (measure, goal, value, unit) in table:
        print(f"| {name:<16} | {measure:<44} | {goal:>8} | {value:>9.1f} {unit:<4} |")
    (RESULTS / "summary.json").write_text(
        json.dumps(
            {
                "db": args.db,
                "quick": args.quick,
                "rows": [
                    {"benchmark": n, "measure": m, "goal": g, "result": v, "unit": u}
                    for n, (m, g, v, u) in table
                ],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
