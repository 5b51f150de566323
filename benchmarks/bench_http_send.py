"""EVERY8D HTTP API send throughput: ``Every8dHttpClient.send()`` vs raw aiohttp.

Both sides POST to the same fixed-reply server (a subprocess on 127.0.0.1, so this
process's CPU is what bounds both) with 100 concurrent tasks, the same number of requests
per round and a 100-connection pool. Raw aiohttp posts one prebuilt form (the same
``UID PWD SB MSG DEST ST RETRYTIME`` bytes the client sends) and reads the reply; the
client checks, encodes, sends and parses every message, through its credential gate and
the transport's size cap. A third side, the client's own transport posting the prebuilt
form with nothing to decode, shows what the shared transport costs by itself. Rounds
alternate raw, transport, client, raw, … so machine noise hits all alike; the medians
are compared, and the CPU time per request is printed beside them (the least noisy view
of what aiosms adds).

Target (issue 8): client throughput ≥ 0.85 × raw aiohttp posting the same form.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp

from aiosms import Every8dHttpClient
from aiosms.every8d.http_codec import (
    FORM_CONTENT_TYPE,
    SMS_PATH,
    build_send,
    credentials,
    encode_form,
)

from ._common import BATCH_ID, median, reply_server, result, spread, verdict

TARGET = 0.85
CONCURRENCY = 100
REQUESTS = 3000  # per round
ROUNDS = 5  # per side
ROUND_TIMEOUT = 20.0
BUDGET = 40.0  # seconds of timed rounds at most (at least 3 per side)

TEXT = "您的驗證碼是 482913，請於 5 分鐘內輸入。Your code is 482913."
MOBILE = "+886912345678"
UID, PASSWORD = "bench", "s3cret&=+"

Worker = Callable[[int], Awaitable[None]]


async def _round(worker: Worker, n: int) -> dict[str, float]:
    per_task, extra = divmod(n, CONCURRENCY)
    counts = [per_task + (i < extra) for i in range(CONCURRENCY)]
    cpu = time.process_time()
    start = time.perf_counter()
    async with asyncio.timeout(ROUND_TIMEOUT):
        await asyncio.gather(*(worker(c) for c in counts))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return {"rate": n / wall, "cpu_us": cpu / n * 1e6}


async def _run(base_url: str, requests: int, rounds: int) -> dict[str, list[dict[str, float]]]:
    url = base_url + SMS_PATH
    request = build_send(TEXT, MOBILE)
    body = encode_form((*credentials(UID, PASSWORD), *request.fields))
    headers = {"Content-Type": FORM_CONTENT_TYPE}
    expected = BATCH_ID.encode()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=0)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        Every8dHttpClient(UID, PASSWORD, base_url=base_url, max_connections=CONCURRENCY) as sms,
    ):

        async def raw_worker(count: int) -> None:
            for _ in range(count):
                async with session.post(url, data=body, headers=headers) as resp:
                    data = await resp.read()
                    if resp.status != 200 or expected not in data:
                        raise RuntimeError(f"raw POST got HTTP {resp.status}: {data[:80]!r}")

        transport = sms._transport

        async def transport_worker(count: int) -> None:
            # The client's own transport posting the prebuilt form, nothing decoded:
            # what the shared transport costs, apart from the codec and the gate.
            for _ in range(count):
                resp = await transport.request(
                    "POST", url, body=body, headers=headers, idempotent=False
                )
                if expected not in resp.body:
                    raise RuntimeError(f"transport POST got {resp.body[:80]!r}")

        async def client_worker(count: int) -> None:
            for _ in range(count):
                sent = await sms.send(TEXT, to=MOBILE)
                if sent.batch_id != BATCH_ID:
                    raise RuntimeError(f"unexpected send result {sent!r}")

        await sms.balance()  # proves the credentials: sends then run concurrently
        workers = {"raw": raw_worker, "transport": transport_worker, "client": client_worker}
        for worker in workers.values():  # warm up both pools and code paths
            await _round(worker, CONCURRENCY * 3)
        figures: dict[str, list[dict[str, float]]] = {side: [] for side in workers}
        deadline = time.monotonic() + BUDGET
        for i in range(rounds):
            for side, worker in workers.items():
                figures[side].append(await _round(worker, requests))
            if i >= 2 and time.monotonic() > deadline:
                break
    return figures


def main(requests: int = REQUESTS, rounds: int = ROUNDS) -> dict[str, object]:
    with reply_server() as server:
        figures = asyncio.run(_run(server.url, requests, rounds))
    rate = {side: median([r["rate"] for r in rs]) for side, rs in figures.items()}
    cpu = {side: median([r["cpu_us"] for r in rs]) for side, rs in figures.items()}
    ratio = rate["client"] / rate["raw"]
    passed = ratio >= TARGET
    line = (
        f"HTTP API send throughput: aiosms {rate['client']:.0f}/s, raw aiohttp posting the "
        f"same form {rate['raw']:.0f}/s, ratio {ratio:.2f} (target ≥ {TARGET}) "
        f"{verdict(passed)}  [{len(figures['raw'])} rounds each of {requests} requests at "
        f"concurrency {CONCURRENCY}, server in a subprocess; aiosms "
        f"{spread([r['rate'] for r in figures['client']])}/s, raw "
        f"{spread([r['rate'] for r in figures['raw']])}/s; the transport alone posting the "
        f"prebuilt form {rate['transport']:.0f}/s ({rate['transport'] / rate['raw']:.2f} of "
        f"raw); client CPU a request: aiosms {cpu['client']:.0f} µs, transport alone "
        f"{cpu['transport']:.0f} µs, raw {cpu['raw']:.0f} µs]"
    )
    return result(
        "http_send_throughput",
        line,
        value=ratio,
        target=f"≥ {TARGET}",
        passed=passed,
        aiosms_per_s=rate["client"],
        raw_per_s=rate["raw"],
        transport_per_s=rate["transport"],
        aiosms_cpu_us=cpu["client"],
        transport_cpu_us=cpu["transport"],
        raw_cpu_us=cpu["raw"],
        rounds=figures,
    )


if __name__ == "__main__":
    main()
