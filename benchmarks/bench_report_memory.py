"""(d) Memory while streaming 100,000 delivery reports page by page.

A server subprocess serves a batch of 100,000 reports as 1,000-row ``getDeliveryStatus``
pages, each generated when asked for. In this (the client) process, tracemalloc traces
Python allocations while:

* aiosms iterates ``Every8dSoapClient.delivery_reports(batch_id)`` to the end, keeping
  nothing (tracing starts after the client has its session key and has read one page);
* a baseline fetches the same 100 pages with raw aiohttp and throws them away.

The figure is the peak of traced memory minus what was traced when tracing started.
tracemalloc does not see libxml2's own (C) allocations for the parsed trees, so the
resident set size's growth (sampled every 1,000 reports) is printed too, as a check.
Throughput is measured in a separate, untraced pass.

Target: aiosms growth ≤ 10 MiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import tracemalloc

import aiohttp

from aiosms import Every8dSoapClient
from aiosms._soap import build_envelope, soap_headers
from aiosms.every8d.soap_codec import SERVICE_PATH, build_get_delivery_status

from ._common import BATCH_ID, PAGE_SIZE, SESSION_KEY, reply_server, result, verdict

TARGET_MIB = 10.0
TOTAL = 100_000
TIMEOUT = 40.0  # seconds, for each pass
MIB = 1024 * 1024
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_BYTES
    except OSError:  # not Linux: no RSS figure
        return 0


class _Tracer:
    """Traced-memory growth (peak − start) and sampled RSS growth of one pass."""

    def __enter__(self) -> _Tracer:
        gc.collect()
        self.rss_start = self.rss_peak = _rss()
        tracemalloc.start()
        tracemalloc.reset_peak()
        self.start = tracemalloc.get_traced_memory()[0]
        return self

    def sample(self) -> None:
        self.rss_peak = max(self.rss_peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self.growth_mib = (self.peak - self.start) / MIB
        self.rss_growth_mib = (self.rss_peak - self.rss_start) / MIB


async def _aiosms_pass(sms: Every8dSoapClient, tracer: _Tracer | None) -> int:
    n = 0
    async with asyncio.timeout(TIMEOUT):
        async for report in sms.delivery_reports(BATCH_ID):
            n += 1
            if tracer is not None and n % PAGE_SIZE == 0:
                tracer.sample()
            del report
    return n


async def _raw_pass(session: aiohttp.ClientSession, url: str, tracer: _Tracer) -> int:
    headers = soap_headers("getDeliveryStatus")
    size = 0
    async with asyncio.timeout(TIMEOUT):
        for page in range(1, TOTAL // PAGE_SIZE + 1):
            op = build_get_delivery_status(BATCH_ID, page)
            body = build_envelope(op.name, op.with_key(SESSION_KEY))
            async with session.post(url, data=body, headers=headers) as resp:
                data = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"raw POST got HTTP {resp.status}")
            size += len(data)
            del data
            tracer.sample()
    return size


async def _run(base_url: str) -> dict:
    url = base_url + SERVICE_PATH
    figures: dict = {}
    async with (
        aiohttp.ClientSession() as session,
        Every8dSoapClient("bench", "secret", base_url=base_url) as sms,
    ):
        # Warm up: session key, connections, code paths, one page each way.
        await sms.balance()
        n = 0
        async with contextlib.aclosing(sms.delivery_reports(BATCH_ID)) as reports:
            async for _ in reports:
                n += 1
                if n == PAGE_SIZE:
                    break
        async with session.post(url, data=b"", headers=soap_headers("getCredit")) as resp:
            await resp.read()

        with _Tracer() as raw:
            figures["raw_bytes"] = await _raw_pass(session, url, raw)
        with _Tracer() as ours:
            figures["count"] = await _aiosms_pass(sms, ours)
        start = time.perf_counter()
        counted = await _aiosms_pass(sms, None)
        figures["per_s"] = counted / (time.perf_counter() - start)
    figures.update(
        aiosms_mib=ours.growth_mib,
        raw_mib=raw.growth_mib,
        aiosms_rss_mib=ours.rss_growth_mib,
        raw_rss_mib=raw.rss_growth_mib,
    )
    return figures


def main() -> dict:
    with reply_server(count=TOTAL) as server:
        f = asyncio.run(_run(server.url))
    if f["count"] != TOTAL:
        raise RuntimeError(f"expected {TOTAL} reports, iterated {f['count']}")
    passed = f["aiosms_mib"] <= TARGET_MIB
    line = (
        f"report memory ({TOTAL:,} reports, {TOTAL // PAGE_SIZE} pages): aiosms "
        f"+{f['aiosms_mib']:.2f} MiB, raw aiohttp +{f['raw_mib']:.2f} MiB "
        f"(target ≤ {TARGET_MIB:g} MiB) {verdict(passed)}  [{f['per_s']:,.0f} reports/s "
        f"untraced; RSS growth aiosms +{f['aiosms_rss_mib']:.1f} MiB, raw "
        f"+{f['raw_rss_mib']:.1f} MiB; {f['raw_bytes'] / TOTAL:.0f} bytes a report on the wire]"
    )
    return result(
        "report_memory",
        line,
        value=f["aiosms_mib"],
        target=f"≤ {TARGET_MIB:g} MiB",
        passed=passed,
        **f,
    )


if __name__ == "__main__":
    main()
