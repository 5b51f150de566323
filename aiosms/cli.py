"""The ``aiosms`` command line (also ``python -m aiosms``).

Send SMS, read and watch delivery reports, ask the balance, cancel a scheduled batch,
against any provider a URL names (``--url`` or ``AIOSMS_URL``, as
:func:`aiosms.from_url` reads it); run the built-in simulator (``simulate``) or a demo
against it (``demo``). See ``docs/cli.md``.

Start-up stays light: this module imports no provider client, no aiohttp and no rich;
each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime

from ._cli_base import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_TRANSPORT,
    EXIT_UNKNOWN_OUTCOME,
    EXIT_USAGE,
    exit_code_of,
    first_error,
    one_line,
)
from ._cli_demo import DEMO_NUMBERS, PROVIDERS, demo

__all__ = [
    "DEMO_NUMBERS",
    "EXIT_BROKEN_PIPE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_TRANSPORT",
    "EXIT_UNKNOWN_OUTCOME",
    "EXIT_USAGE",
    "build_parser",
    "demo",
    "main",
]

_DESCRIPTION = """\
aiosms: send SMS and follow their delivery from the command line, through EVERY8D
(SOAP or HTTP API), EIMS or SMSCenter. Every command that talks to a provider takes
--url URL, or reads the AIOSMS_URL environment variable:

  every8d+soap://user:password@oms.every8d.com
  every8d+http://uid:password@oms.every8d.com
  eims://account:password@10.0.0.5:20003
  smscenter://user:password@www.smscenter.co.il?sender=Shop

'aiosms simulate' runs a local simulator of every provider and prints its URLs;
'aiosms demo' sends a batch to one and watches it, with no credentials."""

_EXAMPLES = """\
examples:
  export AIOSMS_URL='every8d+soap://user:password@oms.every8d.com'
  aiosms send 'Your code is 1234' 0912345678 0922333444
  aiosms send --file numbers.txt < message.txt
  aiosms watch BATCH --timeout 600
  aiosms reports BATCH --csv > reports.csv
"""


_BATCH_HELP = "a batch id as send printed it (EIMS: a message id; SMSCenter: a voice message id)"


def _seconds(high: float, *, zero: bool = True, why: str = "") -> Callable[[str], float]:
    """An argparse type: a number of seconds from 0 (or more than 0) to ``high``."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not ((value >= 0 if zero else value > 0) and value <= high):  # NaN fails too
            reason = f" ({why})" if why else ""
            bounds = f"between 0 and {high:g}" if zero else f"more than 0 and at most {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is not {bounds} seconds{reason}")
        return value

    return convert


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (0 to 65535)")
    return value


def _aware_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2030-01-31T09:00+08:00"
        ) from None
    if when.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: write it as 2030-01-31T09:00+08:00"
        )
    return when


def _record_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IVR record id (a positive number)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``aiosms`` argument parser (its help is the command's reference)."""
    from . import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log every request and reply at DEBUG (secrets masked) and show tracebacks",
    )
    provider = argparse.ArgumentParser(add_help=False, parents=[common])
    provider.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="the provider's URL (default: the AIOSMS_URL environment variable)",
    )
    parser = argparse.ArgumentParser(
        prog="aiosms",
        description=_DESCRIPTION,
        epilog=f"{EXIT_CODES_HELP}\n\n{_EXAMPLES}",
        formatter_class=formatter,
        parents=[provider],
    )
    parser.add_argument("--version", action="version", version=f"aiosms {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str, parents: list[argparse.ArgumentParser]
                ) -> argparse.ArgumentParser:  # fmt: skip
        return sub.add_parser(
            name,
            help=summary,
            description=description,
            epilog=EXIT_CODES_HELP,
            formatter_class=formatter,
            parents=parents,
        )

    send = command(
        "send",
        "send an SMS to one number or many",
        "Send TEXT to every NUMBER. TEXT '-', or no TEXT, reads the text from stdin;\n"
        "numbers come from the arguments and/or --file. Prints the batch id (EIMS: each\n"
        "number's message id) and the counts.",
        [provider],
    )
    send.add_argument("text", nargs="?", metavar="TEXT", help="the message ('-': read stdin)")
    send.add_argument("numbers", nargs="*", metavar="NUMBER", help="a recipient's number")
    send.add_argument(
        "--file", metavar="PATH", help="read numbers from PATH, one a line ('-': stdin)"
    )
    send.add_argument(
        "--at",
        type=_aware_time,
        metavar="TIME",
        help="send later, at an ISO 8601 time with its offset (2030-01-31T09:00+08:00)",
    )
    send.add_argument(
        "--voice",
        type=_record_id,
        metavar="RECORD_ID",
        help="SMSCenter: call the numbers and play IVR recording RECORD_ID instead "
        "(every argument is then a number)",
    )
    send.add_argument("--json", action="store_true", help="print the SendResult as JSON")

    status = command(
        "status",
        "one snapshot of a batch's reports: how many in each state",
        "Count each batch's recipients by state, once. EIMS: BATCH is a message id\n"
        "(several ids are counted together). SMSCenter: BATCH is a voice message's id\n"
        "(SMSCenter has no SMS status query).",
        [provider],
    )
    status.add_argument("batch", nargs="+", metavar="BATCH", help=_BATCH_HELP)
    status.add_argument("--json", action="store_true", help="one JSON object a batch")

    watch = command(
        "watch",
        "follow each recipient's state until all are final",
        "Poll the batches and show each recipient's state as it changes, with a\n"
        "progress bar (a live table on a terminal with rich installed; plain lines\n"
        "otherwise), until every recipient is final or --timeout runs out (exit 5).\n"
        "EIMS: BATCH is a message id. SMSCenter: voice messages only.",
        [provider],
    )
    watch.add_argument("batch", nargs="+", metavar="BATCH", help=_BATCH_HELP)
    watch.add_argument(
        "--interval",
        type=_seconds(3600, zero=False),
        default=5.0,
        metavar="SECONDS",
        help="seconds between polls (default: 5)",
    )
    watch.add_argument(
        "--timeout",
        type=_seconds(7 * 86400, zero=False),
        metavar="SECONDS",
        help="give up after SECONDS (exit 5); default: watch until all are final",
    )
    watch.add_argument("--json", action="store_true", help="one JSON object a change")
    watch.add_argument("--plain", action="store_true", help="plain lines even on a terminal")

    reports = command(
        "reports",
        "every recipient's delivery report",
        "Print every recipient's report: a table, or --json (one object a line) or\n"
        "--csv (a header, then one row a report) for scripts.",
        [provider],
    )
    reports.add_argument("batch", nargs="+", metavar="BATCH", help=_BATCH_HELP)
    form = reports.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON object a report")
    form.add_argument("--csv", action="store_true", help="CSV: a header, one row a report")

    balance = command("balance", "the account's balance", "Ask the account's balance.", [provider])
    balance.add_argument("--json", action="store_true", help="print it as JSON")

    cancel = command(
        "cancel",
        "cancel what is still scheduled in a batch (EVERY8D)",
        "Cancel the messages of BATCH still scheduled (EVERY8D only: the other\n"
        "providers cannot cancel a send).",
        [provider],
    )
    cancel.add_argument("batch", metavar="BATCH", help="the batch id send printed")

    simulate = command(
        "simulate",
        "run the built-in simulator of every provider until Ctrl-C",
        "Run the simulator of EVERY8D (SOAP and HTTP), EIMS and SMSCenter on\n"
        "127.0.0.1 and print a --url for each (account demo / demo-password).\n"
        "Ctrl-C (or SIGTERM) stops it, exit code 0.",
        [common],
    )
    simulate.add_argument(
        "--port", type=_port, default=0, help="the port to listen on (default: a free one)"
    )
    simulate.add_argument(
        "--delivery-time",
        type=_seconds(3600, why="how long the simulator takes to deliver"),
        default=2.0,
        metavar="SECONDS",
        help="simulated seconds to delivery, 0 to 3600 (default: 2)",
    )

    demo_cmd = command(
        "demo",
        "send a batch to the built-in simulator and watch it (no credentials)",
        "Start the simulator, send a batch through one provider's client and stream\n"
        "each recipient's state until all are final.",
        [common],
    )
    demo_cmd.add_argument(
        "--provider", choices=PROVIDERS, default=PROVIDERS[0], help="default: every8d-soap"
    )
    demo_cmd.add_argument(
        "--soap-version", choices=("1.1", "1.2"), default="1.1", help="EVERY8D SOAP's version"
    )
    demo_cmd.add_argument(
        "--delivery-time",
        type=_seconds(3600, why="how long the simulator takes to deliver"),
        default=2.0,
        metavar="SECONDS",
        help="simulated seconds to delivery, 0 to 3600 (default: 2)",
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from ._cli_demo import run_demo

        return run_demo(
            args.provider, soap_version=args.soap_version, delivery_time=args.delivery_time
        )
    if args.command == "watch":
        from ._cli_watch import run_watch

        return run_watch(args)
    from ._cli_commands import COMMANDS

    return COMMANDS[args.command](args)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind stdout
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aiosms`` command; returns its exit code (see ``--help``)."""
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    try:
        return _run(args)
    except KeyboardInterrupt:
        if args.command == "send":
            print(
                "interrupted: the send may have reached the provider; check its reports "
                "before sending again",
                file=sys.stderr,
            )
        else:
            print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (| head): stop quietly, as SIGPIPE would
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as caught:
        exc = first_error(caught)
        if debug:
            traceback.print_exception(caught)
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return exit_code_of(exc)
