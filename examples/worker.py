"""A worker that sends batches as they come and watches them all in ONE stream.

``python examples/worker.py`` without ``AIOSMS_URL`` runs three demo batches on the
built-in simulator; with an ``every8d+soap://``, ``every8d+http://`` or ``eims://``
``AIOSMS_URL`` it reads jobs from stdin until an empty line: ``0912345678,0922333444 Hi``.

Jobs arrive on an ``asyncio.Queue`` (from a web handler, a bus...). Each is sent once and
added with ``changes.add(...)`` to the running ``watch_many()`` stream; each change is
printed as it comes. A send is never cancelled half way: if the stream ends (all final)
while one is on the wire, it is watched in the next stream. Numbers are masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import aiosms
from aiosms.testing import Simulator

Job = tuple[str, list[str]]  # (text, numbers)
Polled = aiosms.Every8dSoapClient | aiosms.Every8dHttpClient | aiosms.EimsClient


def mask(number: str) -> str:
    return "*" * max(len(number) - 3, 0) + number[-3:]


def describe(change: aiosms.StatusChange) -> str:
    report, previous = change.report, change.previous.value if change.previous else "new"
    batch = report.batch_id or report.message_id  # EIMS: no batches, one id a message
    return f"{batch} {mask(report.mobile)} {previous} -> {change.state.value}"


class Feeder:
    """Sends the jobs that arrive while a stream runs and adds them to it."""

    def __init__(self, sms: Polled, jobs: asyncio.Queue[Job | None], show: Callable[[str], None]):
        self.sms, self.jobs, self.show = sms, jobs, show
        self.idle = asyncio.Event()  # no send in flight
        self.idle.set()
        self.done = False  # the queue gave None
        self.late: list[Any] = []  # sent after the stream ended: for the next one

    async def send(self, job: Job) -> Any:
        """Send once; the key ``watch_many`` takes (a batch id; EIMS: the result)."""
        text, numbers = job
        self.idle.clear()
        try:
            result = await self.sms.send(text, numbers)
        except aiosms.SmsError as exc:  # SendOutcomeUnknownError: it may have gone out
            self.show(f"{type(exc).__name__}, not repeated: {exc.message}")
            return None
        finally:
            self.idle.set()
        self.show(f"sent {result.sent} to {', '.join(mask(n) for n in numbers)}")
        return result if isinstance(self.sms, aiosms.EimsClient) else result.batch_id

    async def feed(self, changes: aiosms.WatchStream) -> None:
        while (job := await self.jobs.get()) is not None:  # cancelled only while waiting
            if (key := await self.send(job)) is None:
                continue
            try:
                changes.add(key)
            except RuntimeError:  # the stream has just ended: watch it in the next one
                self.late.append(key)
                return
        self.done = True

    async def stop(self, task: asyncio.Task[None]) -> None:
        await self.idle.wait()  # let a send in flight finish (and be added or kept)
        task.cancel()  # it waits for a job (or is done): cancelling loses nothing
        await asyncio.wait([task])


async def run_worker(
    sms: Polled,
    jobs: asyncio.Queue[Job | None],
    *,
    interval: float = 5.0,
    show: Callable[[str], None] = print,
) -> int:
    """Send each job of ``jobs`` until ``None``; show every change; return their count."""
    count, feeder = 0, Feeder(sms, jobs, show)
    pending: list[Any] = []  # sent, to watch in the next stream
    while pending or not feeder.done:
        if not pending:
            if (job := await jobs.get()) is None:
                break
            pending = [key] if (key := await feeder.send(job)) is not None else []
            continue
        async with sms.watch_many(pending, interval=interval) as changes:
            task = asyncio.create_task(feeder.feed(changes))
            try:
                async for change in changes:
                    count += 1
                    show(describe(change))
            finally:
                await feeder.stop(task)
        pending, feeder.late = feeder.late, []
    return count


async def main(
    url: str | None = None,
    *,
    batches: Iterable[Job] | None = None,
    interval: float | None = None,
    show: Callable[[str], None] = print,
) -> int:
    """Run the worker on ``batches`` (default: the demo's, or stdin's with a real URL)."""
    async with contextlib.AsyncExitStack() as stack:
        url = url or os.environ.get("AIOSMS_URL")
        if url is None:
            interval = interval or 0.1
            url = (await stack.enter_async_context(Simulator())).client_url("every8d+soap")
            demo = [[f"09123456{b}{d}" for d in (0, 5, 7)] for b in range(3)]
            batches = [(f"Batch {b}", numbers) for b, numbers in enumerate(demo)]
        sms = await stack.enter_async_context(aiosms.from_url(url))
        if not isinstance(sms, Polled):
            raise SystemExit("SMSCenter reports SMS by notification only: use a push receiver")
        jobs: asyncio.Queue[Job | None] = asyncio.Queue()
        producer = asyncio.create_task(produce(jobs, batches))
        count = await run_worker(sms, jobs, interval=interval or 5.0, show=show)
        await producer
        return count


async def produce(jobs: asyncio.Queue[Job | None], batches: Iterable[Job] | None) -> None:
    """Put the jobs on the queue as they come (a pause between demo batches), then None."""
    if batches is None:  # stdin: "number,number text"
        while line := (await asyncio.to_thread(sys.stdin.readline)).strip():
            numbers, _, text = line.partition(" ")
            await jobs.put((text, numbers.split(",")))
    else:
        for job in batches:
            await jobs.put(job)
            await asyncio.sleep(0.15)
    await jobs.put(None)


if __name__ == "__main__":
    print(f"{asyncio.run(main())} changes")
