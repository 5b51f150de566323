"""(g) One 10,000-number EIMS send: the client's CPU time vs the same JSON by hand.

Both sides POST to the same fixed-reply server (a subprocess on 127.0.0.1, so its CPU
time is not charged to this process), which answers ``/sendsms`` with the gateway's
acceptance of all 10,000 numbers: ``{"status":0,"success":10000,"fail":0,"array":
[[number,id],…]}``, numbers and ids as JSON ints (225 KiB; the
request is 127 KiB).

aiosms: ``EimsClient.send(text, numbers)``: every number checked (and duplicates
dropped), the JSON body with the account and password, the POST through the shared
transport (size cap, error mapping), the reply parsed (``status``, every row checked,
each number matched to the one sent) into a ``SendResult`` with ``message_ids``.

Baseline, by hand with aiohttp: the same body dict (account, password, content,
``smstype``, the numbers joined by commas) through ``json.dumps`` (the same
separators, ``ensure_ascii=False``), ``session.post``, read the reply, ``json.loads``
it and build the number → id dict (``{str(n): str(i) for n, i in array}``).

Sends alternate (client, baseline, …) after a warm-up of each, with a ``gc.collect()``
before each so neither pays for the other's garbage; the CPU time of this process
(``time.process_time()``, every thread) is measured around each send, and the medians
compared. Wall times are printed too, and, to show where the time goes, the pure codec
steps timed on their own: ``build_send_parts`` and ``parse_send`` against the
baseline's ``json.dumps`` and ``json.loads`` + dict.

Target: client CPU ≤ 1.2 × baseline.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from aiosms import EimsClient
from aiosms.eims.codec import build_send_parts, parse_send

from ._common import (
    EIMS_SEND_NUMBERS,
    eims_numbers,
    eims_send_reply,
    reply_server,
    result,
    spread,
    verdict,
)

TARGET = 1.2
ROUNDS = 31  # sends per side
WARMUP = 3
BUDGET = 40.0  # seconds of timed sends at most (at least 5 per side)
SEND_TIMEOUT = 20.0
CODEC_REPEAT = 15

ACCOUNT, PASSWORD = "bench", "s3cret&=+"
TEXT = "您的訂單已出貨，追蹤：acme.example/t/8F3K2 Your order has shipped."
_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


async def _timed(send: Callable[[], Awaitable[int]]) -> dict[str, float]:
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    async with asyncio.timeout(SEND_TIMEOUT):
        count = await send()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if count != EIMS_SEND_NUMBERS:
        raise RuntimeError(f"a send got {count} ids, not {EIMS_SEND_NUMBERS}")
    return {"cpu_ms": cpu * 1e3, "wall_ms": wall * 1e3}


async def _run(base_url: str, rounds: int) -> dict[str, list[dict[str, float]]]:
    numbers = eims_numbers()
    url = base_url + "/sendsms"
    async with (
        aiohttp.ClientSession() as session,
        EimsClient(ACCOUNT, PASSWORD, base_url=base_url) as sms,
    ):

        async def client_send() -> int:
            sent = await sms.send(TEXT, numbers)
            return len(sent.message_ids)

        async def raw_send() -> int:
            body = {
                "account": ACCOUNT,
                "password": PASSWORD,
                "content": TEXT,
                "smstype": 0,
                "numbers": ",".join(numbers),
            }
            async with session.post(url, data=_dumps(body), headers=_HEADERS) as resp:
                data = json.loads(await resp.read())
            if resp.status != 200 or data["status"] != 0:
                raise RuntimeError(f"raw POST got HTTP {resp.status}, status {data['status']}")
            ids = {str(number): str(message_id) for number, message_id in data["array"]}
            return len(ids)

        sides = {"client": client_send, "raw": raw_send}
        for send in sides.values():  # warm up both pools and code paths
            for _ in range(WARMUP):
                await _timed(send)
        figures: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        deadline = time.monotonic() + BUDGET
        for i in range(rounds):
            for side, send in sides.items():
                figures[side].append(await _timed(send))
            if i >= 4 and time.monotonic() > deadline:
                break
    return figures


def _codec_ms(repeat: int = CODEC_REPEAT) -> dict[str, float]:
    """Median CPU milliseconds of the pure steps, each side's, on their own."""
    numbers = eims_numbers()
    reply = eims_send_reply(numbers)
    auth = {"account": ACCOUNT, "password": PASSWORD}
    part = build_send_parts(TEXT, numbers)[0]

    def build() -> object:
        parts = build_send_parts(TEXT, numbers)
        return _dumps({**auth, **parts[0].body})

    def raw_build() -> object:
        return _dumps({**auth, "content": TEXT, "smstype": 0, "numbers": ",".join(numbers)})

    def parse() -> object:
        return parse_send(reply, part.numbers)

    def raw_parse() -> object:
        return {str(n): str(i) for n, i in json.loads(reply)["array"]}

    assert parse()[0] == raw_parse()
    assert build() == raw_build()
    steps = {"build": build, "raw_build": raw_build, "parse": parse, "raw_parse": raw_parse}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeat):
        for name, fn in steps.items():
            gc.collect()
            cpu = time.process_time()
            fn()
            times[name].append((time.process_time() - cpu) * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


def main(rounds: int = ROUNDS) -> dict[str, Any]:
    with reply_server() as server:
        figures = asyncio.run(_run(server.url, rounds))
    codec = _codec_ms()
    cpu = {side: statistics.median(r["cpu_ms"] for r in rs) for side, rs in figures.items()}
    wall = {side: statistics.median(r["wall_ms"] for r in rs) for side, rs in figures.items()}
    ratio = cpu["client"] / cpu["raw"]
    passed = ratio <= TARGET
    line = (
        f"EIMS send of {EIMS_SEND_NUMBERS:,} numbers, client CPU: aiosms {cpu['client']:.1f} ms, "
        f"by hand with aiohttp {cpu['raw']:.1f} ms, ratio {ratio:.2f} (target ≤ {TARGET}) "
        f"{verdict(passed)}  [median of {len(figures['raw'])} sends each, server in a "
        f"subprocess; aiosms {spread([r['cpu_ms'] for r in figures['client']])} ms, by hand "
        f"{spread([r['cpu_ms'] for r in figures['raw']])} ms; wall: aiosms "
        f"{wall['client']:.1f} ms, by hand {wall['raw']:.1f} ms; pure steps: "
        f"build_send_parts + dumps {codec['build']:.1f} ms vs dumps {codec['raw_build']:.1f} "
        f"ms, parse_send {codec['parse']:.1f} ms vs loads + dict {codec['raw_parse']:.1f} ms]"
    )
    return result(
        "eims_send",
        line,
        value=ratio,
        target=f"≤ {TARGET}",
        passed=passed,
        aiosms_cpu_ms=cpu["client"],
        raw_cpu_ms=cpu["raw"],
        aiosms_wall_ms=wall["client"],
        raw_wall_ms=wall["raw"],
        codec_ms=codec,
        sends=figures,
    )


if __name__ == "__main__":
    main()
