"""(f) Parsing one 200-row EIMS ``/getreport`` reply: aiosms vs ``json.loads`` + dicts.

aiosms: ``eims.reports.parse_reports`` (``json.loads``, the ``status`` check, every row
checked, typed ``DeliveryReport``s with a ``DeliveryState``, the raw ``"0/3"`` status,
its description and an aware ``sent_at``, then one report per id asked, in order).

Baseline: ``json.loads`` of the same bytes and one plain dict per row with the same
fields (``message_id`` and ``mobile`` as ``str``, ``sent_at`` as the 14-digit ``str``,
the send and deliver statuses as the ints they came as).

The reply is what the gateway (and the simulator) sends with deliver reports on: rows
``[id, number, time, send status, deliver status]``, ids, numbers and times as JSON
ints; 200 distinct ids (the most one request asks for) and numbers, times over about
two minutes (100 distinct seconds), statuses mostly ``0/3`` (delivered), some ``0/1``,
``0/2``, ``0/4``, ``2/0`` and ``1011/0`` (not sent: black number). The figure for a page
of a batch sent in one second (every row the same time) is printed beside it.

Same bytes for both; ``timeit`` loops (the garbage collector off, as timeit has it, as
in ``bench_tab_parse``), taking turns, the median of the repeats (the best is printed
too). The ratio with the collector on is printed as well.

Target: aiosms ≤ 1.5 × baseline.
"""

from __future__ import annotations

import gc
import json
import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiosms import DeliveryState
from aiosms.eims.reports import parse_reports

from ._common import result, spread, verdict

TARGET = 1.5
NUMBER = 20
REPEAT = 60
ROWS = 200
FIRST_ID = 4_100_000

# Mostly delivered; some sent and waiting, not delivered, timed out, sending, not sent.
_STATUSES = ((0, 3),) * 12 + ((0, 1), (0, 1), (0, 2), (0, 4), (2, 0), (1011, 0))
_SENT_BASE = datetime(2024, 3, 20, 3, 27, 50, tzinfo=UTC)


def report_body(rows: int = ROWS, *, seconds_apart: float = 0.5) -> tuple[bytes, list[str]]:
    """A ``/getreport`` reply for ``rows`` ids, and those ids (as the client asks them)."""
    array = []
    for i in range(rows):
        sent = _SENT_BASE + timedelta(seconds=int(i * seconds_apart))
        send, deliver = _STATUSES[i % len(_STATUSES)]
        number = 886_900_000_000 + i * 7919 % 100_000_000
        array.append([FIRST_ID + i, number, int(f"{sent:%Y%m%d%H%M%S}"), send, deliver])
    body = json.dumps({"status": 0, "nofound": 0, "array": array}).encode()
    return body, [str(FIRST_ID + i) for i in range(rows)]


def baseline_parse(body: bytes) -> list[dict[str, Any]]:
    return [
        {
            "message_id": str(row[0]),
            "mobile": str(row[1]),
            "sent_at": str(row[2]),
            "send_status": row[3],
            "deliver_status": row[4],
        }
        for row in json.loads(body)["array"]
    ]


def _times(
    fns: dict[str, Callable[[], object]], *, number: int, repeat: int, gc_on: bool
) -> dict[str, list[float]]:
    """Per-call seconds of each of ``fns``, ``repeat`` times each, taking turns; with
    ``timeit``, which turns the garbage collector off unless ``gc_on``."""
    setup = "gc.enable()" if gc_on else "pass"
    timers = {name: timeit.Timer(fn, setup, globals={"gc": gc}) for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, timer in timers.items():
            times[name].append(timer.timeit(number) / number)
    return times


def main(number: int = NUMBER, repeat: int = REPEAT) -> dict[str, Any]:
    body, ids = report_body()
    same_second, _ = report_body(seconds_apart=0)
    reports = parse_reports(body, ids)
    rows = baseline_parse(body)
    assert len(reports) == len(rows) == ROWS
    assert [r.message_id for r in reports] == [row["message_id"] for row in rows] == ids
    assert [r.mobile for r in reports] == [row["mobile"] for row in rows]
    assert all(r.sent_at is not None for r in reports)
    assert sum(r.state is DeliveryState.DELIVERED for r in reports) > ROWS // 2
    fns: dict[str, Callable[[], object]] = {
        "aiosms": lambda: parse_reports(body, ids),
        "baseline": lambda: baseline_parse(body),
        "aiosms_same": lambda: parse_reports(same_second, ids),
        "baseline_same": lambda: baseline_parse(same_second),
    }
    times = _times(fns, number=number, repeat=repeat, gc_on=False)
    with_gc = _times(fns, number=number, repeat=max(3, repeat // 3), gc_on=True)

    def mid(figures: dict[str, list[float]], name: str) -> float:
        return statistics.median(figures[name]) * 1e6

    ours, base = mid(times, "aiosms"), mid(times, "baseline")
    ratio = ours / base
    best_ratio = min(times["aiosms"]) / min(times["baseline"])
    same_ratio = mid(times, "aiosms_same") / mid(times, "baseline_same")
    gc_ratio = mid(with_gc, "aiosms") / mid(with_gc, "baseline")
    passed = ratio <= TARGET
    line = (
        f"EIMS report parse ({ROWS} rows, {len(body) / 1024:.1f} KiB): aiosms {ours:.0f} µs, "
        f"json.loads+dicts {base:.0f} µs, ratio {ratio:.2f} (target ≤ {TARGET}) "
        f"{verdict(passed)}  [timeit, median of {repeat} × {number}; best-of ratio "
        f"{best_ratio:.2f}; every row the same second: ratio {same_ratio:.2f} (aiosms "
        f"{mid(times, 'aiosms_same'):.0f} µs); with the GC on: ratio {gc_ratio:.2f}; "
        f"aiosms {spread([t * 1e6 for t in times['aiosms']])} µs, "
        f"baseline {spread([t * 1e6 for t in times['baseline']])} µs]"
    )
    return result(
        "eims_reports",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_us=ours,
        baseline_us=base,
        best_ratio=best_ratio,
        same_second_ratio=same_ratio,
        gc_ratio=gc_ratio,
    )


if __name__ == "__main__":
    main()
