"""``aiosms watch``: each recipient's state until all are final, or ``--timeout``.

Three views of the same stream of changes: a live table with a progress bar (a terminal
with rich installed), plain lines (no terminal, no rich, or ``--plain``) and JSON lines
(``--json``). rich is imported only for the live view.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, aclosing, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._cli_base import (
    EXIT_OK,
    EXIT_TIMEOUT,
    CliError,
    count_states,
    format_counts,
    is_terminal,
    paint,
    rich_available,
    shorten,
    wants_colour,
)
from ._cli_commands import open_client, report_groups
from .models import DeliveryReport, StatusChange, to_dict

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from ._protocol import SmsClient

__all__ = ["LiveView", "PlainView", "Recipients", "run_watch"]

Key = tuple[str, str, str]


def key_of(report: DeliveryReport) -> Key:
    """What tells recipients apart: batch, message id (where there is one), number."""
    return (report.batch_id or "", report.message_id or "", report.mobile)


class Recipients:
    """The last report of every recipient seen, most recently changed last."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # the live view renders from rich's refresh thread
        self.reports: dict[Key, DeliveryReport] = {}
        self.final = 0
        self.started = time.monotonic()

    def update(self, change: StatusChange) -> None:
        key = key_of(change.report)
        with self.lock:
            before = self.reports.pop(key, None)
            if before is not None and before.state.is_final:
                self.final -= 1
            if change.report.state.is_final:
                self.final += 1
            self.reports[key] = change.report

    @property
    def all_final(self) -> bool:
        return bool(self.reports) and self.final == len(self.reports)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class _View(AbstractContextManager["_View"]):
    def __init__(self, seen: Recipients) -> None:
        self.seen = seen

    def show(self, change: StatusChange) -> None:
        """Show one change (already counted in ``seen``)."""

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class JsonView(_View):
    """One JSON object a change, flushed at once (for ``jq`` and scripts)."""

    def show(self, change: StatusChange) -> None:
        report = change.report
        row = {
            "batch_id": report.batch_id,
            "message_id": report.message_id,
            "mobile": report.mobile,
            "previous": change.previous.value if change.previous else None,
            "state": change.state.value,
            "report": to_dict(report),
        }
        print(json.dumps(row, ensure_ascii=False), flush=True)


class PlainView(_View):
    """One line a change: time, recipient, previous -> new state, status, description."""

    def __init__(self, seen: Recipients, *, several: bool) -> None:
        super().__init__(seen)
        self.several = several
        self.colour = wants_colour()

    def show(self, change: StatusChange) -> None:
        report = change.report
        who = f"{report.mobile or '-':>15}"
        if report.message_id:
            who += f" {report.message_id:<10}"
        if self.several and report.batch_id:
            who = f"{report.batch_id} {who}"
        was = change.previous.value if change.previous else "-"
        line = f"{who}  {was:>9} -> {change.state.value:<9}"
        progress = f"{self.seen.final}/{len(self.seen.reports)}"
        print(
            f"[{self.seen.elapsed():6.2f}s] {paint(line, change.state, self.colour)}  "
            f"{report.status:>4} {report.description}  ({progress} final)",
            flush=True,
        )


class LiveView(_View):
    """A rich live table of the recipients (the most recently changed, as many as fit)
    over a progress bar of how many are final."""

    def __init__(self, seen: Recipients, console: Console | None = None) -> None:
        super().__init__(seen)
        from rich.console import Console
        from rich.live import Live

        self.console = console if console is not None else Console()
        self.live = Live(
            console=self.console,
            get_renderable=self.render,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def render(self) -> RenderableType:
        from rich import box
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        from ._cli_base import RICH_STYLES

        room = max(5, self.console.height - 8)
        with self.seen.lock:
            total, final = len(self.seen.reports), self.seen.final
            shown = list(self.seen.reports.values())[-room:]
        with_id = any(report.message_id for report in shown)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        headings = ("recipient", "id", "state", "status", "description")
        for heading in headings if with_id else headings[:1] + headings[2:]:
            table.add_column(heading, overflow="fold")
        for report in shown:
            style = RICH_STYLES[report.state]
            cells = [report.mobile or "-", *((report.message_id or "",) if with_id else ())]
            cells += [report.state.value, report.status, report.description]
            table.add_row(*(Text(cell, style=style) for cell in cells))
        if total > len(shown):
            table.caption = f"{total - len(shown)} more not shown"
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=max(total, 1), completed=final, width=40),
            Text(f"{final}/{total} final  {self.seen.elapsed():.1f}s"),
        )
        return Group(table, bar)

    def __enter__(self) -> LiveView:
        self.live.start(refresh=True)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.live.refresh()
        self.live.stop()


async def _check_voice(client: SmsClient, ids: list[str]) -> None:
    """SMSCenter: each id must be a voice message (its SMS cannot be polled)."""
    for _, reports in report_groups(client, ids):
        async with aclosing(reports):
            async for _report in reports:
                break  # one call is enough; none raises the clear error


_KINDS = {"eims": "message", "smscenter": "voice message"}


@asynccontextmanager
async def changes(
    client: SmsClient, ids: list[str], interval: float, stop_after: float | None
) -> AsyncIterator[AsyncIterator[StatusChange]]:
    """The stream of changes of ``ids``, however the provider watches several."""
    sms: Any = client  # the provider's own watch signatures
    options: dict[str, Any] = {"interval": interval, "timeout": stop_after}
    if client.provider == "eims":
        stream = sms.watch(ids, **options)  # several message ids are one watch
    elif len(ids) > 1:
        async with sms.watch_many(ids, **options) as merged:
            yield merged
        return
    elif client.provider == "smscenter":
        stream = sms.watch_voice(ids[0], **options)
    else:
        stream = sms.watch(ids[0], **options)
    async with aclosing(stream):
        yield stream


async def _watch(args: argparse.Namespace) -> Recipients:
    ids = list(dict.fromkeys(args.batch))
    seen = Recipients()
    async with open_client(args) as client:
        if client.provider == "smscenter":
            await _check_voice(client, ids)
        view: _View
        if args.json:
            view = JsonView(seen)
        elif not args.plain and is_terminal() and rich_available():
            view = LiveView(seen)
        else:
            kind = _KINDS.get(client.provider, "batch")
            what = f"{kind} {ids[0]}" if len(ids) == 1 else f"{len(ids)} {kind}s ({shorten(ids)})"
            until = f"for up to {args.timeout:g} s" if args.timeout else "until all are final"
            print(f"watching {what} every {args.interval:g} s {until}", file=sys.stderr)
            view = PlainView(seen, several=len(ids) > 1)
        seen.started = time.monotonic()
        with view:
            async with changes(client, ids, args.interval, args.timeout) as stream:
                async for change in stream:
                    seen.update(change)
                    view.show(change)
    return seen


def run_watch(args: argparse.Namespace) -> int:
    """``aiosms watch``: its exit code (0 all final, 5 the timeout ran out first)."""
    seen = asyncio.run(_watch(args))
    if not args.json and seen.reports:
        counts = count_states(report.state for report in seen.reports.values())
        print(f"\nsummary: {format_counts(counts)}")
    if seen.all_final:
        if not args.json:
            print("all recipients final")
        return EXIT_OK
    left = len(seen.reports) - seen.final
    why = (
        f"{left} of {len(seen.reports)} recipients not final"
        if seen.reports
        else "no recipient reported"
    )
    if args.timeout is not None:
        raise CliError(f"timed out after {args.timeout:g} s: {why}", EXIT_TIMEOUT)
    raise CliError(f"the watch ended before every recipient was final: {why}", EXIT_TIMEOUT)
