"""Parsing one 1,000-row TAB page of the EVERY8D HTTP API's ``getDeliveryStatus``.

aiosms: ``http_codec.parse_report_page`` (the count line, then typed ``DeliveryReport``s
with ``DeliveryState``, aware ``datetime``s and ``Decimal`` costs; every row checked).

Baseline: the bare split of the same text into dicts of strings, the count line taken
off: ``[dict(zip(KEYS, line.split("\\t"))) for line in body.split("\\n")[1:] if line]``.

The page is realistic: Chinese, English and empty names, ``+8869…`` numbers, SEND_TIMEs
spread over about three minutes (200 distinct seconds), costs ``1.0``/``2.0``, statuses
0/100/101/103, LF line ends. The figure for the same page with CRLF line ends is printed
beside it (the baseline then keeps the ``"\\r"`` in STATUS; aiosms drops it).

Same text for both; ``timeit`` loops (the garbage collector off, as timeit has it),
taking turns, best of the repeats. The ratio with the collector on is printed too:
each report is two objects the collector tracks (the instance and its ``__dict__``),
while a dict holding only strings is not tracked at all, so the baseline never
triggers a collection and aiosms does, a few times a page.

Target: aiosms ≤ 1.3 × baseline.
"""

from __future__ import annotations

import gc
import timeit
from collections.abc import Callable
from datetime import datetime, timedelta

from aiosms.every8d import http_codec as codec
from aiosms.every8d._common import TAIPEI

from ._common import BATCH_ID, result, spread, verdict

TARGET = 1.3
NUMBER = 10
REPEAT = 60
ROWS = 1000

KEYS = ("NAME", "MOBILE", "SEND_TIME", "COST", "STATUS")
_NAMES = ("王小明", "陳美玲", "Roger", "林志豪", "", "張家瑋", "Alice Wu", "黃淑芬", "李建國", "")
_STATUSES = ("100",) * 12 + ("0", "0", "101", "103")
_SENT_BASE = datetime(2024, 3, 20, 3, 27, 50, tzinfo=TAIPEI)


def tab_page(rows: int = ROWS, *, count: int = 5 * ROWS, newline: str = "\n") -> str:
    """A ``getDeliveryStatus.ashx`` reply: the count, then ``rows`` TAB-separated rows."""
    lines = [str(count)]
    for i in range(rows):
        sent = _SENT_BASE + timedelta(seconds=i // 5)
        lines.append(
            f"{_NAMES[i % len(_NAMES)]}\t+8869{i * 7919 % 100_000_000:08d}\t"
            f"{sent:%Y/%m/%d %H:%M:%S}\t{'2.0' if i % 11 == 0 else '1.0'}\t"
            f"{_STATUSES[i % len(_STATUSES)]}"
        )
    return newline.join(lines) + newline


def aiosms_parse(text: str) -> codec.ReportPage:
    return codec.parse_report_page(text, BATCH_ID)


def baseline_parse(text: str) -> list[dict[str, str]]:
    return [
        dict(zip(KEYS, line.split("\t"), strict=False)) for line in text.split("\n")[1:] if line
    ]


def _best_times(
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


def main(number: int = NUMBER, repeat: int = REPEAT) -> dict:
    lf = tab_page()
    crlf = tab_page(newline="\r\n")
    page = aiosms_parse(lf)
    rows = baseline_parse(lf)
    assert len(page.reports) == len(rows) == ROWS
    assert page == aiosms_parse(crlf)
    assert [r.status for r in page.reports] == [row["STATUS"] for row in rows]
    fns: dict[str, Callable[[], object]] = {
        "aiosms": lambda: aiosms_parse(lf),
        "baseline": lambda: baseline_parse(lf),
        "aiosms_crlf": lambda: aiosms_parse(crlf),
        "baseline_crlf": lambda: baseline_parse(crlf),
    }
    times = _best_times(fns, number=number, repeat=repeat, gc_on=False)
    with_gc = _best_times(fns, number=number, repeat=max(3, repeat // 3), gc_on=True)
    ours, base = min(times["aiosms"]) * 1e3, min(times["baseline"]) * 1e3
    ratio = ours / base
    crlf_ratio = min(times["aiosms_crlf"]) / min(times["baseline_crlf"])
    gc_ratio = min(with_gc["aiosms"]) / min(with_gc["baseline"])
    passed = ratio <= TARGET
    line = (
        f"TAB page parse ({ROWS} rows, {len(lf.encode()) // 1024} KiB): aiosms {ours:.3f} ms, "
        f"split+dicts {base:.3f} ms, ratio {ratio:.2f} (target ≤ {TARGET}) {verdict(passed)}"
        f"  [timeit, best of {repeat} × {number}; CRLF ratio {crlf_ratio:.2f}; with the GC "
        f"on: ratio {gc_ratio:.2f} (aiosms {min(with_gc['aiosms']) * 1e3:.3f} ms); "
        f"aiosms {spread([t * 1e3 for t in times['aiosms']])} ms, "
        f"baseline {spread([t * 1e3 for t in times['baseline']])} ms]"
    )
    return result(
        "tab_parse",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_ms=ours,
        baseline_ms=base,
        crlf_ratio=crlf_ratio,
        gc_ratio=gc_ratio,
    )


if __name__ == "__main__":
    main()
