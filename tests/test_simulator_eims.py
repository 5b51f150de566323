"""The simulated EIMS gateway, over loopback with raw aiohttp:
both auth modes, limits, progress, reports of 4 or 5 fields, inbound, jobs, pushes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from aiosms.testing import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=0.05) as simulator:
        yield simulator


async def call(sim: Simulator, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(sim.url + path, json=body) as r:
        assert r.status == 200
        data: dict[str, Any] = await r.json()
        return data


DEMO = {"account": "demo", "password": "demo-password"}


async def test_balance_and_a_send_that_spends_it(sim: Simulator) -> None:
    assert await call(sim, "/getbalance", DEMO) == {
        "status": 0, "balance": "1000.000000", "gift": "0.00000",
    }  # fmt: skip
    sent = await call(
        sim, "/sendsms", {**DEMO, "content": "hi 你好", "numbers": "10010,abc,1008611"}
    )
    assert (sent["status"], sent["success"], sent["fail"]) == (0, 2, 1)
    assert [row[0] for row in sent["array"]] == [10010, 1008611]
    assert (await call(sim, "/getbalance", DEMO))["balance"] == "998.000000"
    assert sim.eims.count("sendsms") == 1


async def test_wrong_password_and_limits(sim: Simulator) -> None:
    assert (await call(sim, "/getbalance", {**DEMO, "password": "x"}))["status"] == -1
    numbers = ",".join(str(10_000_000 + i) for i in range(10_001))
    assert (await call(sim, "/sendsms", {**DEMO, "content": "hi", "numbers": numbers}))[
        "status"
    ] == -7
    assert (await call(sim, "/sendsms", {**DEMO, "content": "x" * 1025, "numbers": "1"}))[
        "status"
    ] == -5
    assert (await call(sim, "/sendsms", {**DEMO, "content": "", "numbers": "1"}))["status"] == -4
    ids = ",".join(str(i) for i in range(201))
    assert (await call(sim, "/getreport", {**DEMO, "ids": ids}))["status"] == -7


async def test_signed_requests_need_a_fresh_seq(sim: Simulator) -> None:
    sim.eims.world.add_account("acme", "pw", key="k3y")
    now = int(sim.now())

    def signed(seq: int, stamp: int = now) -> dict[str, Any]:
        digest = hashlib.md5(f"acmepw{seq}{stamp}k3y".encode()).hexdigest()  # noqa: S324
        return {"account": "acme", "password": digest, "seq": seq, "time": stamp}

    assert (await call(sim, "/getbalance", signed(2)))["status"] == 0
    assert (await call(sim, "/getbalance", signed(1)))["status"] == 0  # out of order: fine
    assert (await call(sim, "/getbalance", signed(2)))["status"] == -1  # used twice
    assert (await call(sim, "/getbalance", signed(3, now - 3600)))["status"] == -1  # stale
    assert (await call(sim, "/getbalance", {"account": "acme", "password": "pw"}))["status"] == -1


@pytest.mark.parametrize("deliver", [True, False])
async def test_reports_progress_to_final_with_4_or_5_fields(sim: Simulator, deliver: bool) -> None:
    sim.eims.world.accounts["demo"].deliver_reports = deliver
    sent = await call(sim, "/sendsms", {**DEMO, "content": "hi", "numbers": "10010,10017,10018"})
    ids = ",".join(str(row[1]) for row in sent["array"]) + ",999999"
    sim.advance(1.0)
    report = await call(sim, "/getreport", {**DEMO, "ids": ids})
    assert report["nofound"] == 1
    rows = {row[1]: row for row in report["array"]}
    assert all(len(row) == (5 if deliver else 4) for row in rows.values())
    assert rows[10010][3] == 0
    assert rows[10018][3] == 1011  # black number: not sent
    if deliver:
        assert (rows[10010][4], rows[10017][4]) == (3, 2)


async def test_inbound_is_base64_and_returned_once_50_at_a_time(sim: Simulator) -> None:
    for i in range(60):
        sim.eims.world.add_inbound("demo", "10010", f"回覆 {i} 😀")
    first = await call(sim, "/getsms", DEMO)
    assert first["cnt"] == 50
    assert base64.b64decode(first["array"][0][3]).decode() == "回覆 0 😀"
    second = await call(sim, "/getsms", DEMO)
    assert [row[0] for row in second["array"]] == list(range(51, 61))
    assert (await call(sim, "/getsms", DEMO))["cnt"] == 0


async def test_jobs_and_faults(sim: Simulator) -> None:
    daily = {**DEMO, "job": "daily", "jobtype": 3, "content": "x", "numbers": "10010",
             "min": 0, "hour": 9, "day": 1}  # fmt: skip
    assert await call(sim, "/smsjob", daily) == {"status": 0, "jobid": 1}
    assert (await call(sim, "/smsjob", {**DEMO, "job": "x" * 65}))["status"] == -15
    for change, status in (
        ({"jobtype": 6}, -16),
        ({"hour": 24}, -11),
        ({"min": None}, -11),
        ({"content": ""}, -4),
        ({"numbersrc": 1, "numbers": "http://h/list.xlsx"}, -14),
        ({"numbersrc": 2}, -14),
        ({"numbers": ",".join(["8869123456"] * 400)}, -7),
    ):
        assert (await call(sim, "/smsjob", daily | change))["status"] == status, change
    assert len(sim.eims.world.jobs) == 1
    assert "password" not in sim.eims.world.jobs[0]
    sim.faults.http_error(503, operation="getbalance")
    async with aiohttp.ClientSession() as session, session.get(sim.url + "/getbalance") as r:
        assert r.status == 503
    assert "demo-password" not in repr(sim.eims.calls[0])


async def test_final_reports_are_pushed_by_put() -> None:
    bodies: list[dict[str, Any]] = []
    both = anyio.Event()

    async def receive(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        if sum(b["cnt"] for b in bodies) >= 2:
            both.set()
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_put("/push", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with Simulator(delivery_time=0.05, push_interval=0.01) as sim:
            sim.eims.world.push_url = f"http://127.0.0.1:{port}/push"
            await call(sim, "/sendsms", {**DEMO, "content": "hi", "numbers": "10010,10017"})
            with anyio.fail_after(5):
                await both.wait()
    finally:
        await runner.cleanup()
    rows = [row for body in bodies for row in body["array"]]
    assert {(row[1], row[3]) for row in rows} == {("10010", 0), ("10017", 1)}
    assert all(body["type"] == "report" for body in bodies)
