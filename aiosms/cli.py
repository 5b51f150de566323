"""The ``aiosms`` command line: ``python -m aiosms demo``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from . import DeliveryState, Every8dSoapClient, SmsError
from .testing import Simulator

__all__ = ["main"]

_COLOURS = {
    DeliveryState.SCHEDULED: "36",
    DeliveryState.ACCEPTED: "33",
    DeliveryState.DELIVERED: "32",
    DeliveryState.FAILED: "31",
    DeliveryState.EXPIRED: "35",
    DeliveryState.CANCELLED: "90",
    DeliveryState.UNKNOWN: "37",
}

# The simulator decides each number's fate by its last digit (0-6 delivered,
# 7 handset failure, 8 no such number, 9 expired; 5 also replies "OK").
DEMO_NUMBERS = (
    "+886912345670",
    "0912345671",
    "+886922333442",
    "0933444553",
    "+886955666775",
    "0912000007",
    "+886987654328",
    "0977888999",
)


def _paint(text: str, state: DeliveryState, colour: bool) -> str:
    return f"\033[{_COLOURS[state]}m{text}\033[0m" if colour else text


async def demo(*, soap_version: str = "1.1", delivery_time: float = 2.0) -> int:
    """Send a batch to the built-in simulator and stream its status changes."""
    colour = sys.stdout.isatty()
    async with Simulator(delivery_time=delivery_time) as sim:
        print(f"EVERY8D simulator listening on {sim.url} (SOAP {soap_version})")
        async with Every8dSoapClient(
            "demo",
            "demo-password",
            base_url=sim.url,
            soap_version="1.2" if soap_version == "1.2" else "1.1",
        ) as sms:
            before = await sms.balance()
            result = await sms.send("Your aiosms demo code is 4711", to=DEMO_NUMBERS)
            assert result.batch_id is not None
            print(
                f"sent batch {result.batch_id}: {result.sent} messages, "
                f"cost {result.cost}, credit {before} -> {result.credit}\n"
            )
            started = time.monotonic()
            final: dict[str, DeliveryState] = {}
            async for change in sms.watch(result.batch_id, interval=0.25, timeout=60):
                report = change.report
                was = change.previous.value if change.previous else "-"
                line = f"{report.mobile:>15}  {was:>9} -> {change.state.value:<9}"
                print(
                    f"[{time.monotonic() - started:5.2f}s] "
                    f"{_paint(line, change.state, colour)}  {report.status:>3} {report.description}"
                )
                final[report.mobile] = change.state
            replies = [
                (report.mobile, reply.text)
                async for report in sms.delivery_reports(result.batch_id)
                for reply in report.replies
            ]
            after = await sms.balance()
    counts = Counter(state.value for state in final.values())
    print("\nsummary: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    for mobile, text in replies:
        print(f"reply from {mobile}: {text!r}")
    print(f"credit left: {after} (spent {Decimal(before) - after})")
    done = all(state.is_final for state in final.values()) and len(final) == len(DEMO_NUMBERS)
    print("all recipients final" if done else "stopped before every recipient was final")
    return 0 if done else 1


def _seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(
            f"{text} is not between 0 and 3600 seconds (how long the simulator takes to deliver)"
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aiosms`` command."""
    parser = argparse.ArgumentParser(prog="aiosms", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo_cmd = sub.add_parser(
        "demo", help="send a batch to the built-in simulator and watch it (no credentials)"
    )
    demo_cmd.add_argument("--soap-version", choices=("1.1", "1.2"), default="1.1")
    demo_cmd.add_argument(
        "--delivery-time",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="simulated seconds to delivery, 0 to 3600 (default: 2)",
    )
    demo_cmd.add_argument(
        "--debug", action="store_true", help="log every request and reply (secrets masked)"
    )
    args = parser.parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    try:
        return asyncio.run(demo(soap_version=args.soap_version, delivery_time=args.delivery_time))
    except SmsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
