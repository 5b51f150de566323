"""(Issue 11) Start-up: ``import aiosms`` against ``import aiohttp``, and ``aiosms --help``.

Each figure is taken in a fresh interpreter (a subprocess of this one), so nothing is
imported yet: the import is timed inside it with ``time.perf_counter()`` around the
import statement (the interpreter's own start-up left out). ``import aiosms`` and
``import aiohttp`` take turns (a, b, a, b, …), ten runs each after one warm-up run
(which also writes any missing bytecode); the medians are compared.

Printed beside them: ``import aiosms`` with all four provider clients loaded (what a
program that uses one pays at most), the bare interpreter start-up, and the wall time
of ``python -m aiosms --help`` (median of ten runs), which must stay small: the command
line imports no client, no aiohttp and no rich before a command runs.

Target: ``import aiosms`` ≤ 1.4 × ``import aiohttp`` (medians).
"""

from __future__ import annotations

import subprocess
import sys
import time

from ._common import ROOT, median, result, spread, verdict

TARGET = 1.4
RUNS = 10
TIMEOUT = 30.0  # seconds, a subprocess at most

_TIMED = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
STATEMENTS = {
    "aiosms": "import aiosms",
    "aiohttp": "import aiohttp",
    "aiosms_clients": (
        "import aiosms; aiosms.Every8dSoapClient; aiosms.Every8dHttpClient; "
        "aiosms.EimsClient; aiosms.SmsCenterClient"
    ),
}


def _python(*argv: str) -> str:
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-I", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def import_seconds(stmt: str) -> float:
    """Seconds ``stmt`` takes in a fresh interpreter."""
    return float(_python("-c", _TIMED.format(stmt=stmt)).split()[-1])


def wall_seconds(*argv: str) -> float:
    """Wall seconds of ``python argv…`` from start to exit."""
    start = time.perf_counter()
    _python(*argv)
    return time.perf_counter() - start


def main(runs: int = RUNS) -> dict:
    # -I (isolated) ignores the environment and the current directory: make sure aiosms
    # is importable as installed (an editable install), as a user's program sees it.
    _python("-c", "import aiosms, aiohttp")
    for stmt in STATEMENTS.values():  # warm-up: bytecode written, files in the page cache
        import_seconds(stmt)
    times: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for _ in range(runs):
        for name, stmt in STATEMENTS.items():
            times[name].append(import_seconds(stmt))
    wall_seconds("-m", "aiosms", "--help")
    cli = [wall_seconds("-m", "aiosms", "--help") for _ in range(runs)]
    bare = [wall_seconds("-c", "pass") for _ in range(runs)]

    ms = {name: median(ts) * 1e3 for name, ts in times.items()}
    ratio = ms["aiosms"] / ms["aiohttp"]
    clients_ratio = ms["aiosms_clients"] / ms["aiohttp"]
    cli_ms, bare_ms = median(cli) * 1e3, median(bare) * 1e3
    passed = ratio <= TARGET
    line = (
        f"start-up: import aiosms {ms['aiosms']:.1f} ms, import aiohttp {ms['aiohttp']:.1f} ms, "
        f"ratio {ratio:.2f} (target ≤ {TARGET}) {verdict(passed)}; with the four clients "
        f"{ms['aiosms_clients']:.1f} ms ({clients_ratio:.2f} × aiohttp); "
        f"'python -m aiosms --help' {cli_ms:.0f} ms wall (bare interpreter {bare_ms:.0f} ms, "
        f"so {cli_ms - bare_ms:.0f} ms of aiosms)  [medians of {runs}; "
        + ", ".join(f"{name} {spread([t * 1e3 for t in ts])} ms" for name, ts in times.items())
        + f", --help {spread([t * 1e3 for t in cli])} ms]"
    )
    return result(
        "cli_startup",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_ms=ms["aiosms"],
        aiohttp_ms=ms["aiohttp"],
        aiosms_clients_ms=ms["aiosms_clients"],
        clients_ratio=clients_ratio,
        cli_help_ms=cli_ms,
        bare_python_ms=bare_ms,
    )


if __name__ == "__main__":
    main()
