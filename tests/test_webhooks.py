"""EVERY8D push callbacks (spec §3.1): the pure parser, the receiver over loopback HTTP,
the simulator's pushes, and watch() merging pushed and polled reports."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal

import aiohttp
import anyio
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiosms
from aiosms import DeliveryReport, DeliveryState, Reply, ResponseFormatError
from aiosms.every8d._common import TAIPEI
from aiosms.every8d.push import parse_push, parse_push_time
from aiosms.testing import Simulator
from aiosms.webhooks import Every8dPushReceiver

USER, PASSWORD = "acme", "s3cret"
BATCH = "220478cc-8506-49b2-93b7-2505f651c12e"
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def query(**overrides: str) -> dict[str, str]:
    base = {
        "BatchID": BATCH,
        "RM": "+886961295288",
        "RT": "20090210120000",
        "STATUS": "100",
        "SM": "",
        "MR": "",
        "USERID": USER,
    }
    return {**base, **overrides}


# ------------------------------------------------------------------ the parser


def test_parse_push_status_report() -> None:
    report = parse_push(query(MR="17"))
    assert isinstance(report, DeliveryReport)
    assert (report.batch_id, report.mobile, report.status) == (BATCH, "+886961295288", "100")
    assert report.state is DeliveryState.DELIVERED
    assert report.message_id == "17"
    assert report.reported_at == datetime(2009, 2, 10, 12, 0, 0, tzinfo=TAIPEI)
    assert (report.sent_at, report.cost, report.replies) == (None, None, ())


def test_parse_push_reply() -> None:
    reply = parse_push(query(STATUS="999", SM="好的，謝謝"))
    assert reply == Reply(
        "+886961295288",
        "好的，謝謝",
        datetime(2009, 2, 10, 12, 0, 0, tzinfo=TAIPEI),
        None,
        BATCH,
    )


def test_parse_push_unknown_status_is_unknown_not_an_error() -> None:
    report = parse_push(query(STATUS="4242"))
    assert isinstance(report, DeliveryReport)
    assert report.state is DeliveryState.UNKNOWN


@pytest.mark.parametrize(
    "bad",
    [
        {"BatchID": ""},
        {"RM": " "},
        {"STATUS": ""},
        {"STATUS": "1OO"},
        {"STATUS": "1234567"},
        {"RT": "2009021012"},
        {"RT": "20091310120000"},
        {"RT": "２００９０２１０１２００００"},
        {"SM": "x" * 2001},
    ],
)
def test_parse_push_refuses_malformed_calls(bad: dict[str, str]) -> None:
    with pytest.raises(ResponseFormatError):
        parse_push(query(**bad))


def test_parse_push_refuses_missing_parameters() -> None:
    params = query()
    del params["STATUS"]
    with pytest.raises(ResponseFormatError, match="STATUS"):
        parse_push(params)


TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)


@PROPS
@given(
    batch=TEXT.filter(str.strip),
    mobile=TEXT.filter(str.strip),
    status=st.sampled_from(["0", "100", "101", "107", "300", "303", "999", "-3", "12345"]),
    text=TEXT,
    record=TEXT,
    at=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
)
def test_parse_push_round_trips(
    batch: str, mobile: str, status: str, text: str, record: str, at: datetime
) -> None:
    event = parse_push(
        query(BatchID=batch, RM=mobile, STATUS=status, SM=text, MR=record, RT=f"{at:%Y%m%d%H%M%S}")
    )
    assert (event.batch_id, event.mobile, event.message_id) == (
        batch.strip(),
        mobile.strip(),
        record.strip() or None,
    )
    when = at.replace(microsecond=0, tzinfo=TAIPEI)
    if status == "999":
        assert isinstance(event, Reply)
        assert (event.text, event.received_at) == (text.strip(), when)
    else:
        assert isinstance(event, DeliveryReport)
        assert (event.status, event.reported_at) == (status, when)


@PROPS
@given(params=st.dictionaries(st.sampled_from(list(query())), st.text(max_size=40)))
def test_parse_push_never_crashes(params: dict[str, str]) -> None:
    with contextlib.suppress(ResponseFormatError):  # a typed error, or an event
        event = parse_push(params)
        assert isinstance(event, DeliveryReport | Reply)


def test_parse_push_time() -> None:
    assert parse_push_time("") is None
    assert parse_push_time(" 20261123235959 ") == datetime(2026, 11, 23, 23, 59, 59, tzinfo=TAIPEI)
    with pytest.raises(ResponseFormatError):
        parse_push_time("20261123246000")


# ------------------------------------------------------------------ the receiver


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 and a free port; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def served() -> AsyncIterator[tuple[Every8dPushReceiver, str]]:
    receiver = Every8dPushReceiver(user_id=USER, buffer=2)
    app = web.Application()
    receiver.add_to(app, "/every8d/push")
    async with serve(app) as url:
        yield receiver, f"{url}/every8d/push"


async def call(url: str, params: dict[str, str], method: str = "GET") -> int:
    async with aiohttp.ClientSession() as session:
        if method == "GET":
            async with session.get(url, params=params) as resp:
                return resp.status
        async with session.post(url, data=params) as resp:
            return resp.status


async def test_receiver_hands_calls_to_subscribers(
    served: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = served
    async with receiver.subscribe([BATCH]) as events:
        assert await call(url, query(STATUS="0")) == 200
        assert await call(url, query(STATUS="999", SM="yes"), method="POST") == 200
        assert await call(url, query(BatchID="another batch")) == 200
        with anyio.fail_after(5):
            first, second = await events.receive(), await events.receive()
        assert isinstance(first, DeliveryReport)
        assert first.state is DeliveryState.ACCEPTED
        assert isinstance(second, Reply)
        assert second.text == "yes"
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()  # the other batch's call went elsewhere
    assert receiver.received == 3


async def test_receiver_refuses_bad_and_foreign_calls(
    served: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = served
    assert await call(url, query(STATUS="")) == 400
    assert await call(url, query(USERID="mallory")) == 403
    assert (receiver.received, receiver.refused) == (0, 2)


async def test_receiver_answers_503_when_a_subscriber_is_full_and_then_recovers(
    served: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = served  # buffer=2
    async with receiver.subscribe() as events:
        assert await call(url, query(RM="+886900000001")) == 200
        assert await call(url, query(RM="+886900000002")) == 200
        # Full: refused, so EVERY8D calls again later; nothing is lost.
        assert await call(url, query(RM="+886900000003")) == 503
        assert events.receive_nowait().mobile == "+886900000001"
        assert await call(url, query(RM="+886900000003")) == 200
        mobiles = [events.receive_nowait().mobile for _ in range(2)]
        assert mobiles == ["+886900000002", "+886900000003"]


async def test_subscriptions_replay_the_backlog_once_each() -> None:
    receiver = Every8dPushReceiver(backlog=3)
    early = [parse_push(query(RM=f"+8869000000{i:02d}")) for i in range(5)]
    for event in early:
        assert receiver.deliver(event)
    assert receiver.deliver(early[-1])  # a repeated call is kept once
    async with receiver.subscribe([BATCH]) as events:
        replayed = [events.receive_nowait() for _ in range(3)]
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    assert replayed == early[2:]  # the oldest fell out of the bounded backlog


def test_receiver_checks_its_options() -> None:
    with pytest.raises(ValueError, match="buffer"):
        Every8dPushReceiver(buffer=0)


# ------------------------------------------------------------------ the simulator and watch()


@pytest.fixture
async def pushing() -> AsyncIterator[tuple[Simulator, Every8dPushReceiver]]:
    receiver = Every8dPushReceiver(user_id=USER)
    app = web.Application()
    receiver.add_to(app, "/push")
    async with serve(app) as url, Simulator(delivery_time=0.05, push_interval=0.01) as sim:
        sim.every8d.add_account(USER, PASSWORD, credit=Decimal(100))
        sim.every8d.push_url = f"{url}/push"
        yield sim, receiver


async def test_watch_takes_pushed_changes_between_rare_polls(
    pushing: tuple[Simulator, Every8dPushReceiver],
) -> None:
    sim, receiver = pushing
    numbers = ["+886912345670", "+886912345677", "+886912345678", "+886912345675"]
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as sms:
        result = await sms.send("hello", to=numbers)
        changes = []
        with anyio.fail_after(10):
            # A poll every 30 s: only pushes can finish this in time.
            async for change in sms.watch(result.batch_id, interval=30, push=receiver):
                changes.append(change)
    finals = {c.report.mobile: c.state for c in changes if c.state.is_final}
    assert finals == {
        "+886912345670": DeliveryState.DELIVERED,
        "+886912345677": DeliveryState.FAILED,
        "+886912345678": DeliveryState.FAILED,
        "+886912345675": DeliveryState.DELIVERED,
    }
    # Each recipient's state once, though polls and pushes both reported them.
    assert not [k for k, n in Counter((c.report.mobile, c.state) for c in changes).items() if n > 1]
    assert sim.every8d.count("getDeliveryStatus") == 1
    assert any(c.report.reported_at is not None for c in changes)  # some came pushed


async def test_simulator_pushes_replies(
    pushing: tuple[Simulator, Every8dPushReceiver],
) -> None:
    sim, receiver = pushing
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as sms:
        result = await sms.send("Reply OK to confirm", to="+886912345675")
    async with receiver.subscribe([result.batch_id]) as events:
        with anyio.fail_after(10):
            async for event in events:
                if isinstance(event, Reply):
                    break
    assert (event.mobile, event.text, event.batch_id) == ("+886912345675", "OK", result.batch_id)


async def test_simulator_repeats_a_failed_push_ten_times_at_most() -> None:
    hits = Counter[str]()

    async def failing(request: web.Request) -> web.Response:
        hits[request.query["STATUS"]] += 1
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/push", failing)
    sim = Simulator(delivery_time=0.05, push_interval=3600)  # pushes made by hand here
    async with serve(app) as url, sim, aiohttp.ClientSession() as session:
        sim.every8d.create_batch("demo", ["+886912345670"], status="100")
        sim.every8d.push_url = f"{url}/push"
        for _ in range(15):
            assert await sim.every8d.push_due(session) == 0
    assert hits == {"100": 10}
    assert sim.every8d.pushes == []
