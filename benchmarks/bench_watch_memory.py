"""(e) Memory of watching a 50,000-recipient batch: page by page vs a snapshot per poll.

No network: a fake ``fetch`` serves the batch as pages of 1,000 ``DeliveryReport``\\ s,
made afresh on every poll (as a parser would), over four polls until every recipient
is final (all accepted; a third delivered; two thirds; all delivered or failed). The
consumer counts the changes and keeps none. tracemalloc traces Python allocations for:

* the baseline, the old way: each poll first gathers the whole batch into one list
  (what ``watch()`` did before pages: a snapshot per poll), fed to the tracker at once;
* aiosms now: ``poll_changes`` feeds the tracker page by page.

Both go through the same ``poll_changes`` and the same ``ChangeTracker`` (the baseline
serves the list as a single page), in this one run. The figure is the peak of traced
memory minus what was traced when the watch started. It includes what the tracker must
keep in any case (one state per recipient, which both need); that part is measured as
what is still traced when the watch has ended with the tracker alive, and printed too.

Target: page by page, a poll's growth beyond the tracker's state ≤ 2 MiB (a couple of
pages, however large the batch).
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio

from aiosms import DeliveryReport, DeliveryState
from aiosms._streaming import ChangeTracker, Pages, poll_changes
from aiosms.every8d._common import TAIPEI

from ._common import BATCH_ID, PAGE_SIZE, result, verdict

TOTAL = 50_000
POLLS = 4
TARGET_MIB = 2.0  # a poll's own growth, page by page: a couple of pages, whatever the batch
MIB = 1024 * 1024
_SENT = datetime(2024, 3, 20, 3, 27, 50, tzinfo=TAIPEI)
_NAMES = ("王小明", "陳美玲", "Roger", "林志豪", "", "張家瑋", "Alice Wu", "黃淑芬")


def _state(i: int, poll: int) -> DeliveryState:
    """Recipient ``i``'s state at ``poll``: poll 0 all accepted, the last one all final."""
    if poll == POLLS - 1:
        return DeliveryState.FAILED if i % 17 == 0 else DeliveryState.DELIVERED
    delivered = i % (POLLS - 1) < poll
    return DeliveryState.DELIVERED if delivered else DeliveryState.ACCEPTED


def _report(i: int, poll: int) -> DeliveryReport:
    state = _state(i, poll)
    status = "100" if state is DeliveryState.DELIVERED else "0"
    return DeliveryReport(
        batch_id=BATCH_ID,
        message_id=None,
        mobile=f"+8869{i:08d}",
        name=_NAMES[i % len(_NAMES)],
        state=state,
        status=f"{status}",
        description=f"status {status}",
        sent_at=_SENT + timedelta(seconds=i * 3),
        cost=Decimal("1.00"),
    )


class FakeBatch:
    """The batch on the provider's side: each call of :meth:`pages` is one poll."""

    def __init__(self) -> None:
        self.polls = 0

    async def pages(self) -> AsyncIterator[Sequence[DeliveryReport]]:
        poll = min(self.polls, POLLS - 1)
        self.polls += 1
        for start in range(0, TOTAL, PAGE_SIZE):
            await anyio.lowlevel.checkpoint()  # where a real fetch would await the wire
            yield [_report(i, poll) for i in range(start, min(start + PAGE_SIZE, TOTAL))]


def snapshot_per_poll(batch: FakeBatch) -> Pages:
    """The baseline: every poll gathers the whole batch first, then hands it over.

    As in the old loop, whose ``snapshot`` variable kept the last poll's list until
    the next fetch returned, the previous snapshot lives until the new one is whole.
    """
    last: list[list[DeliveryReport]] = []

    async def fetch() -> AsyncIterator[Sequence[DeliveryReport]]:
        snapshot = [report async for page in batch.pages() for report in page]
        last[:] = [snapshot]
        yield snapshot

    return fetch


async def _watch(fetch: Pages, tracker: ChangeTracker) -> int:
    changes = 0
    async for _change in poll_changes(fetch, interval=0.001, tracker=tracker):
        changes += 1
    return changes


def _measure(way: str) -> dict[str, float]:
    batch = FakeBatch()
    fetch = batch.pages if way == "pages" else snapshot_per_poll(batch)
    tracker = ChangeTracker()
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    began = time.perf_counter()
    changes = asyncio.run(_watch(fetch, tracker))
    seconds = time.perf_counter() - began
    polls = batch.polls
    del fetch, batch  # the baseline's closure holds the last snapshot
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()  # kept: the tracker's state
    tracemalloc.stop()
    if polls != POLLS or not tracker.all_final or tracker.recipients != TOTAL:
        raise RuntimeError(f"{way}: {polls} polls, {tracker.recipients} recipients")
    return {
        "peak_mib": (peak - start) / MIB,
        "tracker_mib": (kept - start) / MIB,
        "changes": changes,
        "seconds": seconds,
    }


def main() -> dict[str, Any]:
    old = _measure("snapshot")
    new = _measure("pages")
    if old["changes"] != new["changes"]:
        raise RuntimeError(f"the two ways saw {old['changes']} and {new['changes']} changes")
    ratio = new["peak_mib"] / old["peak_mib"]
    poll_old = old["peak_mib"] - old["tracker_mib"]
    poll_new = new["peak_mib"] - new["tracker_mib"]
    passed = poll_new <= TARGET_MIB
    line = (
        f"watch memory ({TOTAL:,} recipients, pages of {PAGE_SIZE:,}, {POLLS} polls, "
        f"{new['changes']:,} changes): peak growth page by page +{new['peak_mib']:.2f} MiB, "
        f"snapshot per poll (baseline) +{old['peak_mib']:.2f} MiB, ratio {ratio:.3f}; "
        f"beyond the tracker's own state ({new['tracker_mib']:.2f} MiB, kept by both) a poll "
        f"takes +{poll_new:.2f} MiB vs +{poll_old:.2f} MiB (target ≤ {TARGET_MIB:g} MiB) "
        f"{verdict(passed)}  [traced runs {new['seconds']:.1f} s vs {old['seconds']:.1f} s]"
    )
    return result(
        "watch_memory",
        line,
        value=poll_new,
        target=f"≤ {TARGET_MIB:g} MiB",
        passed=passed,
        pages_mib=new["peak_mib"],
        snapshot_mib=old["peak_mib"],
        tracker_mib=new["tracker_mib"],
        poll_pages_mib=poll_new,
        poll_snapshot_mib=poll_old,
        ratio=ratio,
    )


if __name__ == "__main__":
    main()
