"""``aiosms demo``: a send to the built-in simulator, watched until every recipient is final.

One demo a provider: EVERY8D over SOAP (the default) or its HTTP API, EIMS, and SMSCenter
(voice calls, watched with ``watch_voice``: SMSCenter's SMS have no status query). The
simulator and the clients are imported when a demo runs, not at start-up.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Final, Literal

from ._cli_base import count_states, paint, wants_colour
from .models import DeliveryReport, DeliveryState, StatusChange

__all__ = ["DEMO_NUMBERS", "PROVIDERS", "demo", "run_demo"]

PROVIDERS: Final = ("every8d-soap", "every8d-http", "eims", "smscenter")

# The simulator decides each number's fate by its last digit (0-6 delivered,
# 7 handset failure, 8 no such number, 9 expired; 5 also replies "OK").
DEMO_NUMBERS: Final = (
    "+886912345670",
    "0912345671",
    "+886922333442",
    "0933444553",
    "+886955666775",
    "0912000007",
    "+886987654328",
    "0977888999",
)
# EIMS, by last digit: 0-6 delivered, 7 not delivered, 8 not sent (black number), 9 timed out.
EIMS_NUMBERS: Final = (
    "886912345670",
    "886912345671",
    "886922333442",
    "886933444553",
    "886955666775",
    "886912000007",
    "886987654328",
    "886977888999",
)
# SMSCenter IVR calls, by last digit d: 0-6 answered (8 + d seconds, key d pressed), 7 not
# answered, 8 failed, 9 expired.
SMSCENTER_NUMBERS: Final = (
    "03-1234560",
    "054-1234563",
    "+972521234565",
    "0507654327",
    "054-7654328",
    "03-7654329",
)
VOICE_RECORD: Final = 12
_WATCH_TIMEOUT: Final = 60.0
_INTERVAL: Final = 0.25


async def _stream(
    changes: AsyncIterator[StatusChange], *, by_id: bool = False
) -> dict[str, DeliveryReport]:
    """Print each change as a coloured line; the last report of each recipient."""
    colour = wants_colour()
    started = time.monotonic()
    final: dict[str, DeliveryReport] = {}
    async for change in changes:
        report = change.report
        was = change.previous.value if change.previous else "-"
        line = f"{report.mobile:>15}  {was:>9} -> {change.state.value:<9}"
        print(
            f"[{time.monotonic() - started:5.2f}s] "
            f"{paint(line, change.state, colour)}  {report.status:>3} {report.description}"
        )
        final[(report.message_id or report.mobile) if by_id else report.mobile] = report
    return final


def _finish(final: dict[str, DeliveryReport], expected: int) -> int:
    """Print the summary and the last line; 0 when every recipient ended final."""
    done = len(final) == expected and all(r.state.is_final for r in final.values())
    print("all recipients final" if done else "stopped before every recipient was final")
    return 0 if done else 1


def _summary(final: dict[str, DeliveryReport]) -> None:
    counts = count_states(report.state for report in final.values())
    print("\nsummary: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


async def demo(*, soap_version: str = "1.1", delivery_time: float = 2.0, http: bool = False) -> int:
    """Send a batch to the built-in EVERY8D simulator (SOAP, or with ``http`` its HTTP
    API) and stream its status changes."""
    from .every8d.http import Every8dHttpClient
    from .every8d.soap import Every8dSoapClient
    from .testing import Simulator

    async with Simulator(delivery_time=delivery_time) as sim:
        api = "HTTP API 2.1" if http else f"SOAP {soap_version}"
        print(f"EVERY8D simulator listening on {sim.url} ({api})")
        sms: Every8dSoapClient | Every8dHttpClient
        if http:
            sms = Every8dHttpClient("demo", "demo-password", base_url=sim.url)
        else:
            version: Literal["1.1", "1.2"] = "1.2" if soap_version == "1.2" else "1.1"
            sms = Every8dSoapClient("demo", "demo-password", base_url=sim.url, soap_version=version)
        async with sms:
            before = await sms.balance()
            result = await sms.send("Your aiosms demo code is 4711", to=DEMO_NUMBERS)
            assert result.batch_id is not None
            print(
                f"sent batch {result.batch_id}: {result.sent} messages, "
                f"cost {result.cost}, credit {before} -> {result.credit}\n"
            )
            watch = sms.watch(result.batch_id, interval=_INTERVAL, timeout=_WATCH_TIMEOUT)
            final = await _stream(watch)
            replies = [
                (report.mobile, reply.text)
                async for report in sms.delivery_reports(result.batch_id)
                for reply in report.replies
            ]
            after = await sms.balance()
    _summary(final)
    for mobile, text in replies:
        print(f"reply from {mobile}: {text!r}")
    print(f"credit left: {after} (spent {Decimal(before) - after})")
    return _finish(final, len(DEMO_NUMBERS))


async def eims_demo(*, delivery_time: float = 2.0) -> int:
    """Send to the built-in EIMS simulator and watch every message id to its end."""
    from .eims.client import EimsClient
    from .testing import Simulator

    async with Simulator(delivery_time=delivery_time) as sim:
        print(f"EIMS simulator listening on {sim.url}")
        async with EimsClient("demo", "demo-password", base_url=sim.url) as sms:
            before = await sms.balance()
            result = await sms.send("Your aiosms demo code is 4711", to=EIMS_NUMBERS)
            print(f"sent {result.sent} messages, one EIMS id each:")
            for number, message_id in result.message_ids.items():
                print(f"  {number} -> {message_id}")
            print()
            watch = sms.watch(result, interval=_INTERVAL, timeout=_WATCH_TIMEOUT)
            final = await _stream(watch, by_id=True)
            after = await sms.balance()
    _summary(final)
    print(f"balance: {before.balance} -> {after.balance} (gift {after.gift})")
    return _finish(final, len(result.message_ids))


async def smscenter_demo(*, delivery_time: float = 2.0) -> int:
    """Place voice calls through the built-in SMSCenter simulator and watch them."""
    from .smscenter.client import SmsCenterClient
    from .testing import Simulator

    async with Simulator(delivery_time=delivery_time) as sim:
        print(f"SMSCenter simulator listening on {sim.url}")
        print(
            "SMSCenter has no SMS status query: this demo places voice calls "
            f"(IVR recording {VOICE_RECORD}) and polls them with watch_voice"
        )
        async with SmsCenterClient("demo", "demo-password", sender="Demo", base_url=sim.url) as sms:
            before = await sms.balance()
            result = await sms.send_voice(VOICE_RECORD, to=SMSCENTER_NUMBERS)
            assert result.batch_id is not None
            print(f"sent voice message {result.batch_id}: {result.sent} calls\n")
            watch = sms.watch_voice(result.batch_id, interval=_INTERVAL, timeout=_WATCH_TIMEOUT)
            final = await _stream(watch)
            after = await sms.balance()
    _summary(final)
    for report in final.values():
        details = report.details
        if report.state is DeliveryState.DELIVERED:
            key = details.get("response") or "no key"
            print(f"call to {report.mobile}: {details.get('call_length', '?')} s, pressed {key}")
    print(f"IVR seconds left: {after.ivr_seconds} (used {before.ivr_seconds - after.ivr_seconds})")
    return _finish(final, len(SMSCENTER_NUMBERS))


def run_demo(provider: str, *, soap_version: str = "1.1", delivery_time: float = 2.0) -> int:
    """Run the demo of ``provider`` (one of :data:`PROVIDERS`); its exit code."""
    import asyncio  # not at start-up: ``aiosms --help`` needs no event loop

    if provider == "eims":
        return asyncio.run(eims_demo(delivery_time=delivery_time))
    if provider == "smscenter":
        return asyncio.run(smscenter_demo(delivery_time=delivery_time))
    http = provider == "every8d-http"
    return asyncio.run(demo(soap_version=soap_version, delivery_time=delivery_time, http=http))
