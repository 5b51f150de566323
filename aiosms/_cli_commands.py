"""The ``aiosms`` commands that talk to a provider once: send, status, reports, balance,
cancel; and ``simulate``. (``watch`` is in :mod:`aiosms._cli_watch`, ``demo`` in
:mod:`aiosms._cli_demo`.)

Each command is ``name(args) -> exit code``; errors are raised, and
:func:`aiosms.cli.main` turns them into one line and an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._cli_base import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_TRANSPORT,
    EXIT_UNKNOWN_OUTCOME,
    EXIT_USAGE,
    CliError,
    count_states,
    format_counts,
    is_terminal,
    rich_available,
    shorten,
)
from .errors import TransportError
from .models import CancelResult, DeliveryReport, SendResult, to_dict

if TYPE_CHECKING:
    from ._protocol import SmsClient

__all__ = ["COMMANDS", "open_client", "report_groups"]

NAMES: Final = {"every8d": "EVERY8D", "eims": "EIMS", "smscenter": "SMSCenter"}


def _name(provider: str) -> str:
    return NAMES.get(provider, provider)


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


# ----------------------------------------------------------------------------- clients


def open_client(args: argparse.Namespace) -> SmsClient:
    """The client of ``--url`` or ``AIOSMS_URL`` (call inside the event loop)."""
    from ._config import ENV_VAR, from_url

    url = getattr(args, "url", None) or os.environ.get(ENV_VAR)
    if not url:
        raise CliError(
            f"no provider URL: give --url URL or set {ENV_VAR}, e.g. "
            "every8d+soap://user:password@oms.every8d.com ('aiosms simulate' prints "
            "URLs of a local simulator)",
            EXIT_USAGE,
        )
    return from_url(url)  # InvalidRequestError (exit 2) names what the URL lacks


def _empty(provider: str, batch: str) -> CliError:
    """The error for a batch that reports no recipient."""
    if provider == "smscenter":
        return CliError(
            f"SMSCenter reports no call for message {batch}: it is an SMS (SMSCenter has "
            "no SMS status query; status, watch and reports are for voice messages, sent "
            "with 'send --voice'), or not a message of this account"
        )
    return CliError(
        f"{_name(provider)} reports no recipient for batch {batch} (an unknown batch id, "
        "or one still being handed out)"
    )


async def _checked(
    provider: str, batch: str, reports: AsyncIterator[DeliveryReport]
) -> AsyncGenerator[DeliveryReport, None]:
    seen = False
    async for report in reports:
        seen = True
        yield report
    if not seen:
        raise _empty(provider, batch)


def report_groups(
    client: SmsClient, batches: list[str]
) -> Iterator[tuple[str, AsyncGenerator[DeliveryReport, None]]]:
    """``(label, reports)`` for each batch asked (EIMS: one group of all the message
    ids); a group with no report raises :class:`CliError` once it is exhausted."""
    if client.provider == "eims":
        ids = list(dict.fromkeys(batches))
        eims: Any = client  # EimsClient.delivery_reports takes a list of ids
        yield shorten(ids), _checked("eims", shorten(ids), eims.delivery_reports(ids))
        return
    for batch in dict.fromkeys(batches):
        yield batch, _checked(client.provider, batch, client.delivery_reports(batch))


# ----------------------------------------------------------------------------- send


def _read_stdin(what: str) -> str:
    if is_terminal(sys.stdin):
        print(f"(reading {what} from stdin; end with Ctrl-D)", file=sys.stderr)
    return sys.stdin.read()


def _numbers_of(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def send_input(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The text and numbers of ``send``, from arguments, ``--file`` and stdin."""
    text: str | None = args.text
    numbers: list[str] = list(args.numbers)
    if args.voice is not None:  # a call has no text: every argument is a number
        numbers = ([text] if text is not None else []) + numbers
        text = ""
    if args.file is not None:
        if args.file == "-":
            if text is None or text == "-":
                raise CliError("--file - reads numbers from stdin: give TEXT as an argument", 2)
            numbers += _numbers_of(_read_stdin("numbers"))
        else:
            try:
                with open(args.file, encoding="utf-8-sig") as lines:
                    numbers += _numbers_of(lines.read())
            except (OSError, UnicodeDecodeError) as exc:
                raise CliError(f"cannot read numbers from {args.file}: {exc}", EXIT_USAGE) from None
    if not numbers:
        raise CliError("no number to send to: give NUMBER arguments or --file PATH", EXIT_USAGE)
    if text is None or text == "-":
        text = _read_stdin("the text").rstrip("\r\n")
        if not text.strip():
            raise CliError("no text to send: stdin was empty", EXIT_USAGE)
    return text, numbers


def _print_send(result: SendResult, provider: str) -> None:
    if result.batch_id is not None:
        label = "message" if provider == "smscenter" else "batch"
        print(f"{label} {result.batch_id}")
    for number, message_id in result.message_ids.items():
        print(f"{number} -> {message_id}")
    counts = [f"{result.sent} sent"]
    if result.unsent:
        counts.append(f"{result.unsent} unsent (no credit)")
    if result.rejected:
        counts.append(f"{len(result.rejected)} rejected ({shorten(list(result.rejected))})")
    if result.failed:
        counts.append(f"{sum(len(part.numbers) for part in result.failed)} failed")
    if result.cost is not None:
        counts.append(f"cost {result.cost}")
    if result.credit is not None:
        counts.append(f"credit left {result.credit}")
    print(", ".join(counts))


def _failed_parts(result: SendResult) -> int:
    """Report the parts of a split send that failed on stderr; their exit code."""
    if not result.failed:
        return EXIT_OK
    for part in result.failed:
        fate = "may have been sent" if part.outcome_unknown else "were not sent"
        print(
            f"error: {len(part.numbers)} numbers ({shorten(list(part.numbers))}) {fate}: "
            f"{' '.join(str(part.error).split())}",
            file=sys.stderr,
        )
    if any(part.outcome_unknown for part in result.failed):
        return EXIT_UNKNOWN_OUTCOME
    if any(isinstance(part.error, TransportError) for part in result.failed):
        return EXIT_TRANSPORT
    return EXIT_ERROR


def send(args: argparse.Namespace) -> int:
    text, numbers = send_input(args)  # bad input fails before any connection

    async def run() -> tuple[SendResult, str]:
        async with open_client(args) as client:
            if args.voice is None:
                return await client.send(text, numbers, at=args.at), client.provider
            if client.provider != "smscenter":
                raise CliError(
                    f"--voice places SMSCenter voice calls; {_name(client.provider)} has none",
                    EXIT_USAGE,
                )
            voice: Any = client  # SmsCenterClient
            result: SendResult = await voice.send_voice(args.voice, numbers, at=args.at)
            return result, client.provider

    result, provider = asyncio.run(run())
    if args.json:
        print(_dumps(to_dict(result)))
    else:
        _print_send(result, provider)
    return _failed_parts(result)


# ----------------------------------------------------------------------------- status


def status(args: argparse.Namespace) -> int:
    async def run() -> None:
        async with open_client(args) as client:
            for label, reports in report_groups(client, args.batch):
                states = [report.state async for report in reports]
                counts = count_states(states)
                final = all(state.is_final for state in states)
                if args.json:
                    row = {"batch": label, "recipients": len(states), "final": final}
                    print(_dumps({**row, "counts": counts}), flush=True)
                else:
                    word = "recipient" if len(states) == 1 else "recipients"
                    tail = "all final" if final else "not all final yet"
                    print(f"{label}: {len(states)} {word}: {format_counts(counts)}; {tail}")

    asyncio.run(run())
    return EXIT_OK


# ----------------------------------------------------------------------------- reports

CSV_FIELDS: Final = (
    "batch_id", "message_id", "mobile", "name", "state", "status", "description",
    "sent_at", "cost", "reported_at", "replies", "details",
)  # fmt: skip


def csv_row(report: DeliveryReport) -> list[str]:
    """One CSV row of a report (``CSV_FIELDS``): replies as ``|``-separated texts,
    details as a JSON object."""
    return [
        report.batch_id or "",
        report.message_id or "",
        report.mobile,
        report.name,
        report.state.value,
        report.status,
        report.description,
        report.sent_at.isoformat() if report.sent_at else "",
        str(report.cost) if report.cost is not None else "",
        report.reported_at.isoformat() if report.reported_at else "",
        " | ".join(reply.text for reply in report.replies),
        _dumps(dict(report.details)) if report.details else "",
    ]


def _cells(report: DeliveryReport) -> list[str]:
    sent = report.sent_at.isoformat(timespec="seconds") if report.sent_at else "-"
    extra = [f"reply {reply.text!r}" for reply in report.replies]
    extra += [f"{name}={value}" for name, value in report.details.items()]
    return [
        report.message_id or "",
        report.mobile or "-",
        report.state.value,
        report.status or "-",
        sent,
        str(report.cost) if report.cost is not None else "-",
        report.description + (f" ({', '.join(extra)})" if extra else ""),
    ]


_HEADINGS: Final = ("id", "mobile", "state", "status", "sent at", "cost", "description")


def _plain_row(cells: list[str], with_id: bool) -> str:
    ident, mobile, state, code, sent, cost, text = cells
    head = f"{ident:<12} " if with_id else ""
    return f"{head}{mobile:<15} {state:<9} {code:>6} {sent:<25} {cost:>6}  {text}".rstrip()


async def _table(
    groups: Iterable[tuple[str, AsyncIterator[DeliveryReport]]], with_id: bool
) -> None:
    if not (is_terminal() and rich_available()):
        print(_plain_row(list(_HEADINGS), with_id))
        for _, reports in groups:
            async for report in reports:
                print(_plain_row(_cells(report), with_id))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ._cli_base import RICH_STYLES

    console = Console()
    for label, reports in groups:
        table = Table(title=Text(label), title_justify="left")
        for heading in _HEADINGS if with_id else _HEADINGS[1:]:
            table.add_column(heading, overflow="fold")
        async for report in reports:
            cells = _cells(report) if with_id else _cells(report)[1:]
            style = RICH_STYLES[report.state]
            table.add_row(*(Text(cell, style=style) for cell in cells))  # no markup
        console.print(table)


def reports(args: argparse.Namespace) -> int:
    async def run() -> None:
        async with open_client(args) as client:
            groups = report_groups(client, args.batch)
            if args.json:
                for _, found in groups:
                    async for report in found:
                        print(_dumps(to_dict(report)))
            elif args.csv:
                writer = csv.writer(sys.stdout, lineterminator="\n")
                writer.writerow(CSV_FIELDS)
                for _, found in groups:
                    async for report in found:
                        writer.writerow(csv_row(report))
            else:
                await _table(groups, with_id=client.provider == "eims")

    asyncio.run(run())
    return EXIT_OK


# ----------------------------------------------------------------------------- account


def balance(args: argparse.Namespace) -> int:
    async def run() -> object:
        async with open_client(args) as client:
            return await client.balance()

    found = asyncio.run(run())
    if isinstance(found, Decimal):
        print(_dumps({"credit": str(found)}) if args.json else f"credit {found}")
    elif args.json:
        print(_dumps(to_dict(found)))
    else:
        figures = to_dict(found).items()
        print(", ".join(f"{name.replace('_', ' ')} {value}" for name, value in figures))
    return EXIT_OK


class _Cancels(Protocol):
    async def cancel(self, batch_id: str) -> CancelResult: ...


def cancel(args: argparse.Namespace) -> int:
    async def run() -> CancelResult:
        async with open_client(args) as client:
            if client.provider != "every8d":
                raise CliError(
                    f"{_name(client.provider)} cannot cancel a send (cancel is for "
                    "EVERY8D's scheduled batches)",
                    EXIT_USAGE,
                )
            cancels: _Cancels = client  # type: ignore[assignment]
            return await cancels.cancel(args.batch)

    result = asyncio.run(run())
    if not result.found:
        raise CliError(
            f"nothing to cancel in batch {args.batch} (nothing in it is still scheduled, "
            "or the batch id is unknown)"
        )
    print(f"cancelled {result.cancelled} messages of batch {args.batch}, "
          f"credit returned {result.credit_returned}")  # fmt: skip
    return EXIT_OK


# ----------------------------------------------------------------------------- simulate


def simulator_urls(url: str) -> dict[str, str]:
    """Provider name -> the ``--url`` of the simulator at ``url`` (``http://host:port``)."""
    where = url.removeprefix("http://")
    account = "demo:demo-password@" + where
    return {
        "EVERY8D SOAP": f"every8d+soap+http://{account}",
        "EVERY8D HTTP": f"every8d+http+http://{account}",
        "EIMS": f"eims://{account}",
        "SMSCenter": f"smscenter+http://{account}?sender=Demo",
    }


async def _simulate(port: int, delivery_time: float) -> None:
    from .testing import Simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        handled.append(signum)
    try:
        sim = Simulator(port=port, delivery_time=delivery_time)
        try:
            await sim.start()
        except OSError as exc:
            raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", 2) from None
        try:
            print(f"aiosms simulator on {sim.url}: EVERY8D (SOAP, HTTP), EIMS, SMSCenter")
            print(f"deliveries take {delivery_time:g} s; Ctrl-C stops it\n")
            urls = simulator_urls(sim.url)
            for name, url in urls.items():
                print(f"  {name:<13} --url '{url}'")
            print("\naccount demo / demo-password (EVERY8D credit 1000, EIMS balance 1000, "
                  "SMSCenter 1000 SMS and 10,000 IVR seconds)")  # fmt: skip
            print(f"e.g. export AIOSMS_URL='{urls['EVERY8D SOAP']}'", flush=True)
            await stop.wait()
        finally:
            await sim.aclose()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    print("simulator stopped", flush=True)


def simulate(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_simulate(args.port, args.delivery_time))
    except KeyboardInterrupt:  # where no signal handler could be set: still a clean stop
        print("simulator stopped", flush=True)
    return EXIT_OK


COMMANDS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "send": send,
    "status": status,
    "reports": reports,
    "balance": balance,
    "cancel": cancel,
    "simulate": simulate,
}
