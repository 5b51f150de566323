"""EimsClient end to end, against the simulated gateway over loopback HTTP."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import anyio
import pytest
from aiohttp import web

import aiosms
from aiosms import DeliveryState
from aiosms.eims import Daily, EimsJob, EimsText
from aiosms.testing import Simulator
from aiosms.webhooks import EimsPushReceiver

ACCOUNT, PASSWORD, KEY = "acme", 'pa"ss\\wörd', "k3y-for-signing"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=0.05) as simulator:
        simulator.eims.world.add_account(ACCOUNT, PASSWORD, balance=Decimal(100_000))
        yield simulator


@pytest.fixture
async def sms(sim: Simulator) -> AsyncIterator[aiosms.EimsClient]:
    async with aiosms.EimsClient(ACCOUNT, PASSWORD, base_url=sim.url) as client:
        yield client


def calls(sim: Simulator, operation: str) -> list[aiosms.testing.EimsCall]:
    return [c for c in sim.eims.calls if c.operation == operation]


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"8869{start + i:08d}" for i in range(count)]


# ---------------------------------------------------------------------- sending


async def test_a_send_is_one_json_post_with_an_id_per_number(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    result = await sms.send("你好 hello", to=["886912345670", "886912345671"], sender="Shop")
    assert result.sent == 2
    assert result.rejected == ()
    assert result.failed == ()
    assert set(result.message_ids) == {"886912345670", "886912345671"}
    assert (result.batch_id, result.cost, result.credit) == (None, None, None)
    (call,) = calls(sim, "sendsms")
    assert call.method == "POST"
    assert call.params["content"] == "你好 hello"
    assert call.params["sender"] == "Shop"
    assert call.params["smstype"] == 0
    assert sim.eims.world.messages[int(result.message_ids["886912345670"])].content == "你好 hello"


async def test_25000_numbers_go_in_three_posts_merged_with_the_bad_one_reported(
    sim: Simulator, sms: aiosms.EimsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import aiosms.eims.client as module

    threads = []

    def build(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return aiosms.eims.codec.build_send_parts(*args, **kwargs)

    monkeypatch.setattr(module, "build_send_parts", build)
    to = numbers(25_000)
    to[12_345] = "12ab"  # the gateway refuses it (the client does not judge numbers)
    result = await sms.send("sale", to=iter(to))  # an iterator is read once
    assert threads != [threading.main_thread()]  # so many are checked off the event loop
    await sms.send("one", to=to[:2])
    assert threads[1] is threading.main_thread()  # a few are not worth a thread
    posts = [c for c in calls(sim, "sendsms") if c.params["content"] == "sale"]
    assert sorted(len(c.params["numbers"].split(",")) for c in posts) == [5_000, 10_000, 10_000]
    assert result.sent == 24_999
    assert len(result.message_ids) == 24_999
    assert result.rejected == ("12ab",)
    assert result.failed == ()
    assert len(set(result.message_ids.values())) == 24_999  # every id kept, none twice
    assert set(result.message_ids) == set(to) - {"12ab"}
    world = sim.eims.world
    assert all(world.messages[int(i)].number == n for n, i in result.message_ids.items())


async def test_a_number_echoed_without_its_leading_zero_is_still_matched(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    # The gateway answers with JSON numbers: "0912345670" comes back as 912345670.
    result = await sms.send("hi", to=["0912345670", "0912345670", " 0912345671 "])
    assert set(result.message_ids) == {"0912345670", "0912345671"}  # sent once each
    assert result.rejected == ()
    assert calls(sim, "sendsms")[0].params["numbers"] == "0912345670,0912345671"


async def test_a_dropped_part_is_outcome_unknown_for_its_numbers_only(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    to = numbers(30_000)
    # One part at a time, so that the second request is the one dropped.
    async with aiosms.EimsClient(ACCOUNT, PASSWORD, base_url=sim.url, parallel_parts=1) as sms:
        await sms.balance()
        # The first POST is dropped after the gateway accepted it.
        sim.faults.drop(operation="sendsms", after_processing=True)
        result = await sms.send("sale", to=to)
    assert len(calls(sim, "sendsms")) == 3  # three parts, none sent twice
    assert len(sim.eims.world.messages) == 30_000  # the dropped part was accepted
    (failed,) = result.failed
    assert failed.outcome_unknown
    assert isinstance(failed.error, aiosms.SendOutcomeUnknownError)
    assert failed.numbers == tuple(to[:10_000])
    assert set(result.message_ids) == set(to[10_000:])
    assert result.sent == 20_000
    assert "1 failed (10000 numbers; 10000 may have been sent" in caplog.text


async def test_when_every_part_fails_the_first_error_is_raised(sim: Simulator) -> None:
    sim.eims.world.add_account("poor", "pw", balance=Decimal(0))
    async with aiosms.EimsClient("poor", "pw", base_url=sim.url) as sms:
        with pytest.raises(aiosms.InsufficientCreditError) as info:
            await sms.send("sale", to=numbers(20_001))
    assert info.value.code == "-10"
    assert len(info.value.__notes__) == 2  # the other two parts, each named
    assert not sim.eims.world.messages


async def test_mms_and_a_scheduled_send_in_the_gateways_zone(sim: Simulator) -> None:
    taipei = timezone(timedelta(hours=8))
    sim.eims.world.tz = taipei
    async with aiosms.EimsClient(ACCOUNT, PASSWORD, base_url=sim.url, tz=taipei) as sms:
        at = datetime(2031, 1, 31, 7, 30, 15, tzinfo=UTC)
        await sms.send_mms("see the picture", to="886912345670", title="Sale", at=at)
        (call,) = calls(sim, "sendsms")
        assert (call.params["smstype"], call.params["mmstitle"]) == (1, "Sale")
        assert call.params["sendtime"] == "20310131153015"  # 07:30 UTC is 15:30 in Taipei
        (message,) = sim.eims.world.messages.values()
        assert message.send_at == at.timestamp()
        (report,) = [r async for r in sms.delivery_reports(["1"])]
        assert report.state is DeliveryState.ACCEPTED
        assert report.status == "1"
        assert report.sent_at == at  # read back in the gateway's zone


async def test_personalized_sends_are_smsarray_items(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    result = await sms.send_personalized(
        [
            EimsText("886912345670", "Hi Ann"),
            EimsText(["886912345671", "886912345672"], "Hi both", sender="Bistro"),
            EimsText("886912345673", "A picture", mms_title="Menu"),
        ]
    )
    assert result.sent == 4
    (call,) = calls(sim, "sendsms")
    items = call.params["smsarray"]
    assert [i["content"] for i in items] == ["Hi Ann", "Hi both", "A picture"]
    assert items[1]["sender"] == "Bistro"
    assert items[2]["mmstitle"] == "Menu"
    texts = {m.number: m.content for m in sim.eims.world.messages.values()}
    assert texts["886912345672"] == "Hi both"
    assert texts["886912345673"] == "A picture"
    with pytest.raises(aiosms.InvalidRequestError, match="separate calls"):
        await sms.send_personalized([EimsText("1", "a"), EimsText("1", "b")])


async def test_bad_input_is_refused_before_any_request(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    for text, to, kwargs in (
        ("x" * 1025, ["886912345670"], {}),
        ("", ["886912345670"], {}),
        ("hi", [], {}),
        ("hi", ["8869,12345670"], {}),
        ("hi", ["886912345670"], {"at": datetime(2031, 1, 1)}),  # naive
    ):
        with pytest.raises(aiosms.InvalidRequestError):
            await sms.send(text, to, **kwargs)
    with pytest.raises(aiosms.InvalidRequestError):
        await sms.send_mms("hi", ["886912345670"], title=" ")
    with pytest.raises(aiosms.InvalidRequestError):
        await sms.create_job(EimsJob("x" * 65, "hi", numbers=["886912345670"]))
    with pytest.raises(aiosms.InvalidRequestError):
        sms.delivery_reports([])
    with pytest.raises(aiosms.InvalidRequestError):
        sms.inbound(since=datetime(2031, 1, 1))
    assert sim.eims.calls == []


def test_bad_credentials_and_options_are_refused_at_construction() -> None:
    for args, kwargs in (
        (("", "pw"), {"base_url": "http://127.0.0.1:1"}),
        (("acme", ""), {"base_url": "http://127.0.0.1:1"}),
        (("acme", "pw"), {"base_url": "ftp://example.com"}),
        (("acme", "pw"), {"base_url": "http://127.0.0.1:1", "key": ""}),
        (("acme", "pw"), {"base_url": "http://127.0.0.1:1", "parallel_parts": 0}),
        (("acme", "pw"), {"base_url": "http://127.0.0.1:1", "tz": "Asia/Taipei"}),
    ):
        with pytest.raises(aiosms.InvalidRequestError):
            aiosms.EimsClient(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aiosms.EimsClient("acme", "pw")  # type: ignore[call-arg]  # base_url is required


# ---------------------------------------------------------------------- auth and errors


async def test_signed_requests_100_at_once_never_share_a_seq(
    sim: Simulator,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    monkeypatch.setattr(aiosms._bodies, "LOG_BODIES", [True])  # bodies shown, secrets masked
    sim.eims.world.add_account("signed", PASSWORD, key=KEY)
    async with (
        aiosms.EimsClient("signed", PASSWORD, base_url=sim.url, key=KEY) as one,
        aiosms.EimsClient("signed", PASSWORD, base_url=sim.url, key=KEY) as two,
    ):
        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon((one if i % 2 else two).balance)
        # A query whose reply was lost is asked again, signed afresh (the gateway
        # takes each seq once, so the same body again would be refused as -1).
        sim.faults.drop(operation="getbalance", after_processing=True)
        assert (await one.balance()).balance == Decimal(1000)
        assert "signed" in repr(one)
        assert PASSWORD not in repr(one)
        assert KEY not in repr(one)
    seqs = [c.params["seq"] for c in calls(sim, "getbalance")]
    assert len(seqs) == 102
    assert len(set(seqs)) == 102
    assert all(c.params["password"] != PASSWORD for c in sim.eims.calls)
    assert "getbalance" in caplog.text  # requests were logged (the digest may be)
    for secret in (PASSWORD, json.dumps(PASSWORD)[1:-1], KEY):
        assert secret not in caplog.text


async def test_a_wrong_password_is_refused_once_and_never_tried_again(sim: Simulator) -> None:
    async with aiosms.EimsClient(ACCOUNT, "wrong", base_url=sim.url) as sms:
        with anyio.fail_after(5):
            results = []

            async def one() -> None:
                try:
                    await sms.balance()
                except aiosms.AuthenticationError as exc:
                    results.append(exc)

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)
        assert len(results) == 20
        assert results[0].code == "-1"
        assert "check both" in str(results[0])
        with pytest.raises(aiosms.AuthenticationError):
            await sms.send("hi", "886912345670")
    assert len(sim.eims.calls) == 1
    for exc in results:
        assert "wrong" not in str(exc)


async def test_ip_not_allowed_locked_account_and_other_codes(sim: Simulator) -> None:
    sim.eims.world.add_account("far", "pw", allow_from=("10.9.9.9",))
    sim.eims.world.add_account("locked", "pw", locked=True)
    async with aiosms.EimsClient("far", "pw", base_url=sim.url) as sms:
        with pytest.raises(aiosms.ProviderError, match="IP address") as info:
            await sms.balance()
        assert info.value.code == "-2"
    async with aiosms.EimsClient("locked", "pw", base_url=sim.url) as sms:
        with pytest.raises(aiosms.AccountBlockedError, match="unlock") as blocked:
            await sms.balance()
        assert blocked.value.code == "-13"
    async with aiosms.EimsClient(ACCOUNT, PASSWORD, base_url=sim.url) as sms:
        sim.faults.malformed(b'{"status": -12}', operation="sendsms")
        with pytest.raises(aiosms.ProviderError, match="administrator"):
            await sms.send("hi", "886912345670")
        sim.faults.malformed(b'{"status": -99}', operation="getbalance")
        with pytest.raises(aiosms.ProviderError) as other:
            await sms.balance()
        assert other.value.code == "-99"


async def test_an_unreadable_send_reply_is_outcome_unknown_and_not_repeated(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    sim.faults.malformed(b"<html>busy</html>", operation="sendsms")
    with pytest.raises(aiosms.SendOutcomeUnknownError):
        await sms.send("hi", "886912345670")
    assert len(calls(sim, "sendsms")) == 1
    sim.faults.malformed(b"[1, 2]", operation="getbalance")  # a query is asked again
    assert (await sms.balance()).gift == Decimal(0)
    assert len(calls(sim, "getbalance")) == 2


# ---------------------------------------------------------------------- reports and watch


async def test_1000_ids_are_reported_in_five_requests(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    result = await sms.send("hi", to=numbers(1_000))
    reports = [r async for r in sms.delivery_reports(result)]
    assert len(calls(sim, "getreport")) == 5
    assert [r.message_id for r in reports] == list(result.message_ids.values())
    assert all(len(c.params["ids"].split(",")) == 200 for c in calls(sim, "getreport"))
    unknown = [r async for r in sms.delivery_reports(["999999", "1"])]
    assert unknown[0].state is DeliveryState.UNKNOWN
    assert unknown[0].description == "the gateway does not know this id"
    assert unknown[1].mobile == "886900000000"


async def test_watch_never_asks_again_for_a_final_id(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    sim.eims.world.delivery_time = 0.5  # so that even a slow first poll finds some open
    result = await sms.send("hi", to=numbers(450))
    final_at: dict[str, int] = {}  # id -> calls made when its final state was yielded
    changes = []
    with anyio.fail_after(15):
        async for change in sms.watch(result, interval=0.02):
            changes.append(change)
            if change.state.is_final:
                final_at[change.report.message_id or ""] = len(sim.eims.calls)
    assert len(final_at) == 450  # every message ended
    asked = [set(c.params["ids"].split(",")) for c in calls(sim, "getreport")]
    for message_id, made in final_at.items():
        later = [c for c in sim.eims.calls[made:] if c.operation == "getreport"]
        assert not any(message_id in c.params["ids"].split(",") for c in later)
    assert asked[0] | asked[1] | asked[2] == set(result.message_ids.values())  # poll 1
    assert len(asked) > 3  # more polls followed, asking only for what was still open
    assert len(asked[-1]) < 200
    assert not [k for k, n in Counter((c.report.message_id, c.state) for c in changes).items()
                if n > 1]  # fmt: skip
    states = Counter(c.state for c in changes if c.state.is_final)
    assert states[DeliveryState.FAILED] == 90  # numbers ending in 7 or 8
    assert states[DeliveryState.EXPIRED] == 45  # ending in 9


async def test_watch_many_and_adding_a_send(sim: Simulator, sms: aiosms.EimsClient) -> None:
    first = await sms.send("a", to=numbers(3))
    second = await sms.send("b", to=numbers(2, start=100))
    seen = set()
    with anyio.fail_after(10):
        async with sms.watch_many([first], interval=0.02) as stream:
            stream.add(second)
            async for change in stream:
                if change.state.is_final:
                    seen.add(change.report.message_id)
    assert seen == {*first.message_ids.values(), *second.message_ids.values()}
    with pytest.raises(aiosms.InvalidRequestError):
        sms.watch_many(first)  # type: ignore[arg-type]


@asynccontextmanager
async def serving(receiver: EimsPushReceiver) -> AsyncIterator[str]:
    """The receiver at ``/eims`` of an aiohttp server on loopback; yields that URL."""
    app = web.Application()
    receiver.add_to(app, "/eims")
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/eims"
    finally:
        await runner.cleanup()


async def test_watch_merges_pushes_with_rare_polls() -> None:
    receiver = EimsPushReceiver(token="push-secret-of-acme")
    async with (
        serving(receiver) as url,
        Simulator(delivery_time=0.05, push_interval=0.01) as sim,
    ):
        sim.eims.world.push_url = url + "?token=push-secret-of-acme"
        async with aiosms.EimsClient("demo", "demo-password", base_url=sim.url) as sms:
            result = await sms.send("hello", to=["886912345670", "886912345677"])
            with anyio.fail_after(10):
                # A poll every 30 s: only pushes can finish this in time.
                changes = [c async for c in sms.watch(result, interval=30, push=receiver)]
        assert len(calls(sim, "getreport")) == 1
        assert len(sim.eims.world.pushes) >= 1
    finals = {c.report.mobile: (c.state, c.report.details.get("cause")) for c in changes
              if c.state.is_final}  # fmt: skip
    assert finals["886912345670"] == (DeliveryState.DELIVERED, "success")
    assert finals["886912345677"][0] is DeliveryState.FAILED
    assert finals["886912345677"][1]  # the cause is kept


async def test_the_receiver_refuses_bad_pushes_over_http() -> None:
    import aiohttp

    receiver = EimsPushReceiver(token="push-secret-of-acme")
    good = {"type": "report", "cnt": 1, "array": [[5, "886912345670", 20310101000000, 0, "ok"]]}
    async with (
        serving(receiver) as url,
        receiver.subscribe(["5"]) as events,
        aiohttp.ClientSession() as session,
    ):
        statuses = []
        for target, body in (
            (url, good),  # no token
            (url + "?token=push-secret-of-acme", {"type": "report", "array": "x"}),
            (url + "?token=push-secret-of-acme", good),
            (url + "?token=push-secret-of-acme", good),  # the same push again
        ):
            async with session.put(target, json=body) as resp:
                statuses.append(resp.status)
        async with session.post(url + "?token=push-secret-of-acme", json=good) as resp:
            statuses.append(resp.status)
        with anyio.fail_after(2):
            first = await events.receive()
    assert statuses[:4] == [403, 400, 200, 200]
    assert statuses[4] in (405, 400)
    assert isinstance(first, aiosms.DeliveryReport)
    assert first.message_id == "5"


# ---------------------------------------------------------------------- inbound, jobs


async def test_inbound_asks_again_at_once_after_50_and_drops_repeats(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    for i in range(120):
        sim.eims.world.add_inbound(ACCOUNT, f"88691234{i:04d}", f"message {i} 你好")
    got = []
    with anyio.fail_after(5):  # an interval of 60 s: only the follow-ups can be this quick
        async for message in sms.inbound(interval=60):
            got.append(message)
            if len(got) == 120:
                break
    assert [m.text for m in got] == [f"message {i} 你好" for i in range(120)]
    assert len(calls(sim, "getsms")) == 3  # 50, 50, 20
    assert all(m.received_at is not None and m.received_at.tzinfo for m in got)


async def test_inbound_drops_a_message_handed_out_twice_and_names_a_bad_one(
    sim: Simulator, sms: aiosms.EimsClient
) -> None:
    def reply(rows: list[list[Any]]) -> bytes:
        return json.dumps({"status": 0, "cnt": len(rows), "array": rows}).encode()

    hi = "aGk="  # base64 of "hi"
    full = [[i, 10010, 20310101000000, hi] for i in range(1, 51)]
    sim.faults.malformed(reply(full), operation="getsms", content_type="application/json")
    sim.faults.malformed(
        reply([[50, 10010, 20310101000000, hi], [51, 10010, 20310101000000, hi],
               [52, 10011, 20310101000000, "%%%"], [53, 10010, 20310101000000, hi]]),
        operation="getsms", content_type="application/json",
    )  # fmt: skip
    got: list[str | None] = []

    async def read() -> None:
        async for message in sms.inbound(interval=60):
            got.append(message.message_id)

    with anyio.fail_after(5), pytest.raises(aiosms.ResponseFormatError, match="'52'") as info:
        await read()
    assert got == [str(i) for i in range(1, 52)] + ["53"]  # 50 once; 53 not lost
    assert "10011" in str(info.value)


async def test_inbound_since_asks_from_that_time(sim: Simulator, sms: aiosms.EimsClient) -> None:
    sim.eims.world.add_inbound(ACCOUNT, "10010", "old")
    sim.advance(100)
    sim.eims.world.add_inbound(ACCOUNT, "10010", "new")
    since = datetime.fromtimestamp(sim.now() - 10, UTC)
    with anyio.fail_after(5):
        message = await anext(aiter(sms.inbound(since=since, interval=0.05)))
    assert message.text == "new"
    assert calls(sim, "getsms")[0].params["start_time"] == int(since.timestamp())


async def test_create_job_returns_its_id(sim: Simulator, sms: aiosms.EimsClient) -> None:
    job = EimsJob(
        "morning",
        "Good morning",
        numbers_url="http://files.example/list.xls",
        schedule=Daily(minute=0, hour=9, day=1),
        period=10,
    )
    assert await sms.create_job(job) == "1"
    (kept,) = sim.eims.world.jobs
    assert (kept["jobtype"], kept["hour"], kept["numbersrc"], kept["period"]) == (3, 9, 1, 10)
    sim.faults.malformed(b'{"status": -15}', operation="smsjob")
    with pytest.raises(aiosms.ProviderError, match="64"):
        await sms.create_job(job)


def test_the_docs_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "eims.md").read_text()
    after = page.split("<!-- example: runs against the simulator", 1)[1]
    code = after.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/eims.md", "exec"), {"__name__": "__example__"})  # noqa: S102 (our own docs)
    out = capsys.readouterr().out
    assert "{'886912345670': '1', '886912345677': '2'}" in out
    assert "886912345670 STOP" in out
    assert "DeliveryState.FAILED" in out
    assert "DeliveryState.DELIVERED" in out
