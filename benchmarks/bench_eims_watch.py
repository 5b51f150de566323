"""(e) Watching 10,000 EIMS message ids to final: ``/getreport`` requests vs naive.

One ``EimsClient.send()`` of 10,000 numbers to the simulator (in this process, on
127.0.0.1), then ``watch(result)`` until every id is final. Each poll asks
``/getreport`` only for the ids not final yet, 200 a request; the naive count is one
request per id per poll (10,000 × the number of polls the watch made). The polls are
counted from the simulator's call log: the ids of one poll are asked in the send's
order, so a request whose first id is not after the previous request's last one starts
a new poll. Also printed: what asking all 10,000 ids every poll, 200 a request, would
have cost (50 × polls), the ids each poll asked for, and the wall time.

The simulator's messages end final ``delivery_time`` × 0.5–1.5 after the send, staggered
per id (numbers ending in 8 are never sent and end FAILED, 7 undelivered, 9 expired, the
rest delivered), so with ``interval`` well under ``delivery_time`` the polls see the
batch finish a part at a time, as a real one does.

Bounded: the watch has a ``timeout``, the whole run an ``asyncio.timeout``.

Target: /getreport requests ≤ 1/150 × the naive count.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from aiosms import DeliveryState, EimsClient
from aiosms.testing import Simulator

from ._common import eims_numbers, result, verdict

TARGET = 1 / 150
NUMBERS = 10_000
DELIVERY_TIME = 1.0  # seconds from sent to final, × 0.5–1.5 per message
INTERVAL = 0.25  # between polls
WATCH_TIMEOUT = 30.0
RUN_TIMEOUT = 60.0
ACCOUNT, PASSWORD = "bench", "bench-password"

_FINAL = {DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.EXPIRED}


def polls_of(calls: list[Any]) -> list[int]:
    """The ids each poll asked for, from the simulator's ``getreport`` calls in order."""
    polls: list[int] = []
    last = -1
    for call in calls:
        ids = [int(one) for one in str(call.params.get("ids", "")).split(",") if one]
        if not ids:
            continue
        if not polls or ids[0] <= last:
            polls.append(0)
        polls[-1] += len(ids)
        last = ids[-1]
    return polls


async def _run() -> dict[str, Any]:
    async with Simulator(delivery_time=DELIVERY_TIME) as sim:
        sim.eims.world.add_account(ACCOUNT, PASSWORD, balance=Decimal(10 * NUMBERS))
        async with EimsClient(ACCOUNT, PASSWORD, base_url=sim.url) as sms:
            # Their last digits evenly spread: a tenth end in 8 (never sent), and so on.
            numbers = eims_numbers(NUMBERS)
            sent = await sms.send("Your order has shipped. Track it at acme.example/t", numbers)
            assert sent.sent == NUMBERS, sent
            start = time.perf_counter()
            cpu = time.process_time()
            states: dict[str, DeliveryState] = {}
            changes = 0
            async for change in sms.watch(sent, interval=INTERVAL, timeout=WATCH_TIMEOUT):
                changes += 1
                states[change.report.message_id or ""] = change.state
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu
        calls = [call for call in sim.eims.calls if call.operation == "getreport"]
        requests = sim.eims.count("getreport")
    return {
        "requests": requests,
        "asked": polls_of(calls),
        "states": states,
        "changes": changes,
        "wall": wall,
        "cpu": cpu,
    }


def main() -> dict[str, Any]:
    async def bounded() -> dict[str, Any]:
        async with asyncio.timeout(RUN_TIMEOUT):
            return await _run()

    run = asyncio.run(bounded())
    requests, asked, states = run["requests"], run["asked"], run["states"]
    polls = len(asked)
    naive = NUMBERS * polls
    batched_all = polls * -(-NUMBERS // 200)
    # Each poll's ids 200 a request: the count the call log must agree with.
    expected = sum(-(-count // 200) for count in asked)
    all_final = len(states) == NUMBERS and all(s in _FINAL for s in states.values())
    ratio = requests / naive if naive else float("inf")
    passed = all_final and requests == expected and ratio <= TARGET
    agree = "= Σ⌈ids/200⌉" if requests == expected else f"NOT Σ⌈ids/200⌉ = {expected}"
    tally = Counter(state.name for state in states.values())
    line = (
        f"EIMS watch of {NUMBERS:,} ids: {requests} /getreport requests over {polls} polls, "
        f"naive {naive:,} (one request per id per poll), ratio {ratio:.5f} = 1/"
        f"{(1 / ratio if ratio else float('inf')):.0f} (target ≤ 1/{1 / TARGET:.0f}) "
        f"{verdict(passed)}  [{agree}; "
        f"wall {run['wall']:.2f} s, client+simulator CPU "
        f"{run['cpu']:.2f} s; ids asked per poll: {', '.join(map(str, asked))}; all 10,000 "
        f"ids every poll, 200 a request, would be {batched_all} requests; "
        f"{run['changes']} changes; final: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(tally.items()))}"
        f"{'' if all_final else '; NOT ALL FINAL (timed out?)'}; delivery_time "
        f"{DELIVERY_TIME} s, interval {INTERVAL} s, simulator in this process]"
    )
    return result(
        "eims_watch",
        line,
        value=ratio,
        target=f"≤ 1/{1 / TARGET:.0f}",
        passed=passed,
        requests=requests,
        polls=polls,
        naive=naive,
        ids_per_poll=asked,
        wall_s=run["wall"],
        all_final=all_final,
    )


if __name__ == "__main__":
    main()
