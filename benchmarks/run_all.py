"""Run every benchmark, print a summary table, exit 1 if a target is missed.

python -m benchmarks.run_all                  # all of them (a few minutes)
python -m benchmarks.run_all send parse       # those whose name contains a word
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

BENCHMARKS = (
    "bench_send_throughput",
    "bench_send_instructions",
    "bench_envelope_build",
    "bench_report_parse",
    "bench_report_memory",
    "bench_hostile",
    "bench_watch_memory",
    "bench_http_send",
    "bench_tab_parse",
    "bench_eims_watch",
    "bench_eims_reports",
    "bench_eims_send",
    "bench_smscenter_build",
    "bench_smscenter_parse",
    "bench_cli_startup",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="run only benchmarks whose name contains one")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or any(w in b for w in args.only)]
    if not chosen:
        parser.error(f"no benchmark matches {args.only}; they are {', '.join(BENCHMARKS)}")

    rows = []
    for name in chosen:
        print(f"--- {name}", flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            figures = module.main()
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
            figures = {"value": float("nan"), "target": "?", "passed": False, "error": True}
        figures["seconds"] = time.perf_counter() - start
        rows.append((name, figures))

    print()
    print(f"{'benchmark':<24} {'value':>10} {'target':>14} {'result':>7} {'time':>7}")
    for name, f in rows:
        outcome = "ERROR" if f.get("error") else ("PASS" if f["passed"] else "FAIL")
        value = f["value"]
        if "1/" in f["target"] and value > 0:  # a small fraction, shown as 1/N
            shown = f"1/{1 / value:.0f}"
        else:
            shown = f"{value:.2f}" + (" MiB" if "MiB" in f["target"] else "")
        print(
            f"{name.removeprefix('bench_'):<24} {shown:>10} {f['target']:>14} "
            f"{outcome:>7} {f['seconds']:>6.1f}s"
        )
    failed = [name for name, f in rows if not f["passed"]]
    print()
    print("all targets met" if not failed else f"missed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
